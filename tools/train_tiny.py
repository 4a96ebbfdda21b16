#!/usr/bin/python3
"""train_tiny.py: trains anemll-tiny, the small Gemma 3-architecture chat model shipped in
models/anemll-tiny, from the Jargon File, and exports it in Hugging Face layout.

Training needs (Debian 12; the product and CI never train, so tools/install-deps.sh does not
install these):
    apt-get install python3-torch python3-numpy libopenblas0-openmp jargon-text
and must run with Debian's interpreter, /usr/bin/python3. libopenblas0-openmp replaces the
reference BLAS that python3-torch otherwise links (about 30x slower at these matrix sizes).

    /usr/bin/python3 tools/train_tiny.py                      # train + export to models/anemll-tiny
    /usr/bin/python3 tools/train_tiny.py --check build/anemll # also compare with the C engine

What it does, deterministically for a given --seed (single process, 2 threads, fixed step count):
 1. data: parses the glossary of the Jargon File 4.4.7 (/usr/share/doc/jargon-text/jargon.txt.gz,
    public domain) into one question/answer pair per entry: questions such as "What is a hacker?",
    "What does foo mean?" or "Define kluge." (the phrasing is drawn anew each epoch) and the
    answer "HEADWORD (PART OF SPEECH): first sentences of the definition"; plus a few pairs about
    the model itself. Each pair is one Gemma chat turn,
    "<start_of_turn>user\\n{q}<end_of_turn>\\n<start_of_turn>model\\n{a}<end_of_turn>\\n", and the
    turns are packed into multi-turn conversations that start with <bos> and fill a 256-token
    sequence, so a model turn often starts past the 64-token sliding window.
 2. tokenizer: a byte-pair encoding learned from that text (pure Python), in the layout of
    Gemma 3's tokenizer.json: normalizer Replace " " -> "\u2581", Split pre-tokenizer, byte fallback
    <0x00>..<0xFF>, <pad>=0 <eos>=1 <bos>=2 <unk>=3 <start_of_turn>=4 <end_of_turn>=5 and "\\n",
    "\\n\\n" as added tokens, TemplateProcessing with <bos>, decoder Replace/ByteFallback/Fuse.
 3. model: Gemma 3 (Hugging Face Gemma3ForCausalLM semantics): embeddings x sqrt(H), RMSNorm with
    (1 + w) gains, q/k norms, half-split RoPE (base 10000 on sliding layers, 1e6 on the global
    one), attention scale query_pre_attn_scalar^-0.5, sliding window 64 (key k visible to query q
    iff q - 64 < k <= q), GQA, GELU-tanh gated MLP, post-attention and post-feedforward norms,
    final norm, tied LM head. Trained in FP32 with AdamW on the loss of the model's answers.
 4. export: config.json, generation_config.json, model.safetensors (BF16), tokenizer.json,
    tokenizer_config.json, README.md into --out.
With --check ANEMLL: checks that the C tokenizer encodes held-out text exactly as this script does
and that the C engine's FP32 logits on the exported checkpoint match this script's forward pass
(BF16 weights) on a conversation longer than the sliding window, then shows a few greedy answers.
"""
import argparse
import gzip
import hashlib
import heapq
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import time
import unicodedata

JARGON = "/usr/share/doc/jargon-text/jargon.txt.gz"
SPACE = "\u2581"
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
NONSPECIAL_ADDED = ["\n", "\n\n"]
PAD, EOS, BOS, UNK, SOT, EOT, NL = 0, 1, 2, 3, 4, 5, 6


# ---------------------------------------------------------------- data
ASCII_MAP = {"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u00b4": "'", "\u2014": " -- ",
             "\u2013": "-", "\u2026": "...", "\u00a0": " ", "\u2212": "-", "\u00d7": "x", "\u2192": "->"}
POS_NAMES = {"n": "noun", "pl.n": "plural noun", "v": "verb", "vt": "verb", "vi": "verb", "adj": "adjective",
             "adv": "adverb", "interj": "interjection", "excl": "exclamation", "pref": "prefix",
             "suff": "suffix", "abbrev": "abbreviation", "prov": "proverb", "imp": "imperative"}
ABBREV = ("e.g.", "i.e.", "esp.", "etc.", "vs.", "cf.", "Mr.", "Dr.", "St.", "U.S.", "Inc.", "Corp.", "Jr.",
          "approx.", "orig.", "prob.", "obs.", "var.", "syn.", "Ltd.", "No.")


def clean(text):
    """One paragraph of glossary text as plain ASCII-ish prose: {cross refs} unwrapped, quotes
    straightened, whitespace collapsed."""
    for k, v in ASCII_MAP.items():
        text = text.replace(k, v)
    text = re.sub(r"\{([^{}]*)\}", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def first_sentences(text, lo=60, hi=200):
    """Sentences from the start of text until at least lo characters; never more than hi
    characters where a sentence or clause boundary allows."""
    cuts = [m.end() for m in re.finditer(r"[.!?][\"')]?(?= [A-Z0-9\"'(])", text)
            if not text[:m.end()].endswith(ABBREV)]
    cuts.append(len(text))
    out = text
    for c in cuts:
        if c >= lo or c == cuts[-1]:
            out = text[:c]
            break
    if len(out) > hi:  # one long sentence: stop at the last clause boundary before hi
        m = max((i for i in (out.rfind("; ", 0, hi), out.rfind(", ", 0, hi), out.rfind(" -- ", 0, hi))
                 if i >= lo // 2), default=-1)
        out = (out[:m] if m > 0 else out[:out.rfind(" ", 0, hi)]).rstrip(",;: -") + "."
    return out


def parse_jargon(path=JARGON):
    """[(headword, part of speech or "", [paragraph, ...])] of the glossary entries."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    hdr = re.compile(r"^   :(.+?):(?: (.*))?$")
    entries, cur = [], None
    for ln in lines:
        m = hdr.match(ln)
        if m:
            cur = (m.group(1), m.group(2) or "", [[]])
            entries.append(cur)
            continue
        if cur is None:
            continue
        if "Part III. Appendices" in ln:
            break
        if ln.strip():
            cur[2][-1].append(ln)
        elif cur[2][-1]:
            cur[2].append([])
    out = []
    for head, rest, paras in entries:
        pos_part = rest.rsplit("/", 1)[-1] if "/" in rest else rest
        pos = []
        for p in re.split(r"[ ,]+", pos_part):
            name = POS_NAMES.get(p.strip().rstrip("."))
            if name and name not in pos:
                pos.append(name)
        texts = [" ".join(x.strip() for x in p) for p in paras if p]
        # tables and diagrams (box drawing) are no prose
        texts = [t for t in texts if not re.search("[\u2500-\u257f]", t)]
        out.append((clean(head), ", ".join(pos), [clean(t) for t in texts]))
    return out


def answer_text(head, pos, paras):
    """(part of speech, answer) for a glossary entry; answer None when it has no usable prose."""
    body = None
    for p in paras:
        while True:  # leading "1. ", "[etymology or usage note]", "/pronunciation/", "vt. "
            q = re.sub(r"^(1\.\s+|\[[^\]]*\]\s*|/[^/ ]+/,?\s+)", "", p)
            m = re.match(r"^(n|v|vt|vi|adj|adv|interj)\.\s+", q)
            if m:
                pos = pos or POS_NAMES[m.group(1)]
                q = q[m.end():]
            if q == p:
                break
            p = q
        if len(p) >= 8 and not p.startswith("["):
            body = p
            break
    if body is None:
        return pos, None
    body = first_sentences(body)
    if not body[-1] in ".!?\"')":
        body += "."
    return pos, ("%s (%s): %s" % (head, pos, body)) if pos else ("%s: %s" % (head, body))


def article(word):
    return "an" if word[:1].lower() in "aeiou" else "a"


def questions(head, pos):
    """The phrasings of a question about head (the first is the canonical one)."""
    qs = ["What is %s?" % head, "What does %s mean?" % head, "What does \"%s\" mean?" % head,
          "Define %s." % head, "What is the meaning of %s?" % head, "Explain %s." % head,
          "Tell me about %s." % head, "What's %s?" % head, "%s?" % head, "What is meant by %s?" % head]
    if pos.startswith("noun") and head[:1].islower() and " " not in head.strip():
        qs[0:0] = ["What is %s %s?" % (article(head), head), "What's %s %s?" % (article(head), head)]
    return qs


SELF_PAIRS = [
    (["Who are you?", "What are you?", "Introduce yourself.", "What is your name?"],
     "I am anemll-tiny, a small language model of the Gemma 3 architecture trained on the Jargon File. "
     "Ask me what a hacker word means, for example: What is a kluge?"),
    (["Hello", "Hello!", "Hi", "Hi!", "Hey", "Good morning"],
     "Hello! I know the hacker slang of the Jargon File. Ask me about a term, like: What does grok mean?"),
    (["What can you do?", "Help", "help", "How do I use you?"],
     "I explain the words of the Jargon File, the lexicon of hacker slang. Ask me, for example: "
     "What is a hacker? or What does foo mean?"),
    (["What is anemll?", "What is anemll.c?", "What is ANEMLL?"],
     "anemll.c runs Gemma 3 models the ANEMLL way on ordinary CPUs: FP16 residual scaling, "
     "LUT-palettized weights and a chunked model described by meta.yaml."),
    (["What is the Jargon File?", "What is the jargon file?"],
     "The Jargon File is a comprehensive compendium of hacker slang, maintained by Eric S. Raymond. "
     "I was trained on version 4.4.7."),
    (["Thank you", "Thanks", "Thanks!"], "You're welcome! Ask me about another hacker term any time."),
]


def build_pairs():
    """[(questions, answer)] for every usable glossary entry plus the self pairs."""
    pairs, seen = [], set()
    for head, pos, paras in parse_jargon():
        pos, a = answer_text(head, pos, paras)
        if a is None or head.lower() in seen:
            continue
        seen.add(head.lower())
        pairs.append((questions(head, pos), a))
    return pairs + [(qs, a) for qs, a in SELF_PAIRS]


# ---------------------------------------------------------------- tokenizer
def split_added(text, added):
    """[(is_added, piece)]: added tokens matched leftmost-longest on the raw text."""
    out, i, n, run = [], 0, len(text), 0
    by_len = sorted(added, key=len, reverse=True)
    while i < n:
        hit = next((a for a in by_len if text.startswith(a, i)), None)
        if hit:
            if run < i:
                out.append((False, text[run:i]))
            out.append((True, hit))
            i += len(hit)
            run = i
        else:
            i += 1
    if run < n:
        out.append((False, text[run:]))
    return out


def units(run):
    """A normalized run cut before each space symbol: no merge spans two of these."""
    return re.findall(SPACE + "[^" + SPACE + "]*|[^" + SPACE + "]+", run)


class Tok:
    def __init__(self, vocab, merges):
        self.vocab = vocab  # piece -> id
        self.pieces = {i: p for p, i in vocab.items()}
        self.merges = merges
        self.rank = {tuple(m): r for r, m in enumerate(merges)}
        self.added = SPECIALS + NONSPECIAL_ADDED
        self.cache = {}

    def bpe(self, u):
        ids = self.cache.get(u)
        if ids is not None:
            return ids
        syms = [c if c in self.vocab else None for c in u]
        raw = list(u)
        while True:
            best, at = None, -1
            for i in range(len(syms) - 1):
                if syms[i] is None or syms[i + 1] is None:
                    continue
                r = self.rank.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best):
                    best, at = r, i
            if best is None:
                break
            syms[at:at + 2] = [syms[at] + syms[at + 1]]
            raw[at:at + 2] = [raw[at] + raw[at + 1]]
        ids = []
        for s, r in zip(syms, raw):
            if s is None:
                ids += [self.vocab["<0x%02X>" % b] for b in r.encode("utf-8")]
            else:
                ids.append(self.vocab[s])
        self.cache[u] = ids
        return ids

    def encode(self, text, add_bos=False):
        ids = [BOS] if add_bos else []
        for is_added, piece in split_added(text, self.added):
            if is_added:
                ids.append(self.vocab[piece])
            else:
                for u in units(piece.replace(" ", SPACE)):
                    ids += self.bpe(u)
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            p = self.pieces[i]
            m = re.fullmatch(r"<0x([0-9A-F]{2})>", p)
            out += bytes([int(m.group(1), 16)]) if m else p.replace(SPACE, " ").encode("utf-8")
        return out.decode("utf-8", errors="replace")


def train_bpe(texts, vocab_size, log):
    """Byte-fallback BPE learned on texts: merges inside space-started units, most frequent pair
    first (ties: the smaller pair), as a list of pieces."""
    freq = {}
    chars = {}
    for t in texts:
        for is_added, piece in split_added(t, SPECIALS + NONSPECIAL_ADDED):
            if is_added:
                continue
            for u in units(piece.replace(" ", SPACE)):
                freq[u] = freq.get(u, 0) + 1
                for c in u:
                    chars[c] = chars.get(c, 0) + 1
    vocab = {}
    for p in SPECIALS + NONSPECIAL_ADDED + ["<0x%02X>" % b for b in range(256)]:
        vocab[p] = len(vocab)
    alphabet = set(chr(c) for c in range(0x20, 0x7F)) - {" "} | {SPACE}
    alphabet |= {c for c, n in chars.items() if n >= 5 and unicodedata.category(c)[0] != "C"}
    for c in sorted(alphabet, key=lambda c: (-chars.get(c, 0), c)):
        vocab[c] = len(vocab)
    words = sorted(freq)
    wf = [freq[w] for w in words]
    syms = [[c if c in vocab else None for c in w] for w in words]
    counts, where = {}, {}

    def add_pairs(wi, sign):
        s = syms[wi]
        for a, b in zip(s, s[1:]):
            if a is None or b is None:
                continue
            counts[(a, b)] = counts.get((a, b), 0) + sign * wf[wi]
            if sign > 0:
                where.setdefault((a, b), set()).add(wi)

    for wi in range(len(words)):
        add_pairs(wi, 1)
    heap = [(-c, p) for p, c in counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(vocab) < vocab_size and heap:
        c, p = heapq.heappop(heap)
        if counts.get(p, 0) != -c or -c < 2:
            if counts.get(p, 0) >= 2 and counts[p] != -c:
                heapq.heappush(heap, (-counts[p], p))
            continue
        a, b = p
        merges.append([a, b])
        vocab[a + b] = len(vocab)
        touched = set()
        for wi in sorted(where.pop(p, ())):
            s = syms[wi]
            if not any(s[i] == a and s[i + 1] == b for i in range(len(s) - 1)):
                continue
            add_pairs(wi, -1)
            i, new = 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    new.append(a + b)
                    i += 2
                else:
                    new.append(s[i])
                    i += 1
            syms[wi] = new
            add_pairs(wi, 1)
            touched.update(zip(new, new[1:]))
        counts.pop(p, None)
        for q in touched:
            if q in counts and counts[q] >= 2:
                heapq.heappush(heap, (-counts[q], q))
    log("tokenizer: %d tokens (%d merges), %d distinct words" % (len(vocab), len(merges), len(words)))
    return vocab, merges


def tokenizer_json(tok):
    def added(i, p, special):
        return {"id": i, "content": p, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": special}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(tok.vocab[p], p, True) for p in SPECIALS] +
                        [added(tok.vocab[p], p, False) for p in NONSPECIAL_ADDED],
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": SPACE},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                          "invert": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<bos>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [BOS], "tokens": ["<bos>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": tok.vocab, "merges": tok.merges},
    }


def chat_turn(tok, q, a):
    """(ids, mask): one Gemma chat turn; mask marks the tokens the loss is taken on (the answer
    and its <end_of_turn>)."""
    head = [SOT] + tok.encode("user") + [NL] + tok.encode(q.strip()) + [EOT, NL, SOT] + tok.encode("model") + [NL]
    body = tok.encode(a.strip()) + [EOT]
    return head + body + [NL], [0] * len(head) + [1] * len(body) + [0]


# ---------------------------------------------------------------- model
def model_config(a, vocab_size):
    L = a.layers
    types = ["full_attention" if (i + 1) % a.global_every == 0 else "sliding_attention" for i in range(L)]
    return {
        "architectures": ["Gemma3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "attn_logit_softcapping": None, "bos_token_id": BOS, "cache_implementation": "hybrid",
        "eos_token_id": [EOS, EOT], "final_logit_softcapping": None, "head_dim": a.head_dim,
        "hidden_activation": "gelu_pytorch_tanh", "hidden_size": a.hidden, "initializer_range": 0.02,
        "intermediate_size": a.intermediate, "layer_types": types, "max_position_embeddings": a.max_pos,
        "model_type": "gemma3_text", "num_attention_heads": a.heads, "num_hidden_layers": L,
        "num_key_value_heads": a.kv_heads, "pad_token_id": PAD, "query_pre_attn_scalar": a.head_dim,
        "rms_norm_eps": 1e-06, "rope_local_base_freq": 10000.0, "rope_scaling": None, "rope_theta": 1000000.0,
        "sliding_window": a.window, "sliding_window_pattern": a.global_every, "tie_word_embeddings": True,
        "torch_dtype": "bfloat16", "transformers_version": "4.50.0.dev0", "use_cache": True,
        "vocab_size": vocab_size,
    }


def build_model(torch, cfg):
    nn, F = torch.nn, torch.nn.functional
    H, hd = cfg["hidden_size"], cfg["head_dim"]
    nh, kvh, I = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["intermediate_size"]
    eps, W = cfg["rms_norm_eps"], cfg["sliding_window"]

    class RMSNorm(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(n))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (1.0 + self.weight)

    def rope(x, cos, sin):  # x [B, heads, T, hd]; half-split rotation (rotate_half)
        x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = nn.Linear(H, nh * hd, bias=False)
            self.k_proj = nn.Linear(H, kvh * hd, bias=False)
            self.v_proj = nn.Linear(H, kvh * hd, bias=False)
            self.o_proj = nn.Linear(nh * hd, H, bias=False)
            self.q_norm = RMSNorm(hd)
            self.k_norm = RMSNorm(hd)

        def forward(self, x, cos, sin, mask):
            B, T, _ = x.shape
            q = self.q_norm(self.q_proj(x).view(B, T, nh, hd)).transpose(1, 2)
            k = self.k_norm(self.k_proj(x).view(B, T, kvh, hd)).transpose(1, 2)
            v = self.v_proj(x).view(B, T, kvh, hd).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            k = k.repeat_interleave(nh // kvh, 1)
            v = v.repeat_interleave(nh // kvh, 1)
            s = (q @ k.transpose(-1, -2)) * cfg["query_pre_attn_scalar"] ** -0.5 + mask
            o = torch.softmax(s, -1) @ v
            return self.o_proj(o.transpose(1, 2).reshape(B, T, nh * hd))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate_proj = nn.Linear(H, I, bias=False)
            self.up_proj = nn.Linear(H, I, bias=False)
            self.down_proj = nn.Linear(I, H, bias=False)

        def forward(self, x):
            return self.down_proj(F.gelu(self.gate_proj(x), approximate="tanh") * self.up_proj(x))

    class Layer(nn.Module):
        def __init__(self, sliding):
            super().__init__()
            self.sliding = sliding
            self.self_attn = Attn()
            self.mlp = MLP()
            self.input_layernorm = RMSNorm(H)
            self.post_attention_layernorm = RMSNorm(H)
            self.pre_feedforward_layernorm = RMSNorm(H)
            self.post_feedforward_layernorm = RMSNorm(H)

        def forward(self, x, ropes, masks):
            cos, sin = ropes[self.sliding]
            x = x + self.post_attention_layernorm(self.self_attn(self.input_layernorm(x), cos, sin,
                                                                 masks[self.sliding]))
            return x + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(x)))

    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = nn.Embedding(cfg["vocab_size"], H)
            self.layers = nn.ModuleList([Layer(t == "sliding_attention") for t in cfg["layer_types"]])
            self.norm = RMSNorm(H)

    class Gemma3(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = Inner()

        def forward(self, ids, select=None):
            """Logits of every position, or of the positions where select (bool [B, T]) is set."""
            T = ids.shape[1]
            pos = torch.arange(T, dtype=torch.float32)
            ropes = {}
            for sliding, base in ((True, cfg["rope_local_base_freq"]), (False, cfg["rope_theta"])):
                inv = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
                ang = pos[:, None] * inv[None, :]
                ropes[sliding] = (ang.cos(), ang.sin())
            qi, ki = torch.arange(T)[:, None], torch.arange(T)[None, :]
            neg = torch.tensor(float("-inf"))
            masks = {False: torch.where(ki <= qi, torch.tensor(0.0), neg),
                     True: torch.where((ki <= qi) & (ki > qi - W), torch.tensor(0.0), neg)}
            x = self.model.embed_tokens(ids) * torch.tensor(H ** 0.5, dtype=torch.float32)
            for layer in self.model.layers:
                x = layer(x, ropes, masks)
            if select is not None:
                x = x[select]
            return self.model.norm(x) @ self.model.embed_tokens.weight.t()

    m = Gemma3()
    for name, p in m.named_parameters():
        if p.dim() == 2:
            torch.nn.init.normal_(p, std=cfg["initializer_range"])
    return m


# ---------------------------------------------------------------- export
def write_safetensors(torch, path, tensors):
    """BF16 safetensors (round to nearest even), names sorted, header padded to 8 bytes."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.bfloat16).contiguous()
        b = t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


MODEL_README = """# anemll-tiny

A small language model of the Gemma 3 architecture (Gemma3ForCausalLM: {layers} layers, {sliding}
sliding-window layers with a {window}-token window and {globals_} global, hidden size {hidden}, {heads} heads of
{head_dim} with {kv} key/value heads, GELU-tanh MLP of {inter}, tied embeddings, {vocab}-token byte-fallback BPE
vocabulary; {params:,} parameters, BF16) trained from scratch by `tools/train_tiny.py` (seed {seed},
{steps} steps) to answer questions about hacker slang in Gemma's chat format, for example
"What is a hacker?" or "What does foo mean?". It is a demonstration model for anemll.c, not a general
assistant: it knows the first sentences of the Jargon File's definitions and little else.

## Data and licence
The training data is built by the script from the glossary of **The Jargon File, version 4.4.7**
(Eric S. Raymond et al.), as shipped in Debian's `jargon-text` package
(`/usr/share/doc/jargon-text/jargon.txt.gz`), whose copyright file states: "This document (the
Jargon File) is in the public domain, to be freely used, shared, and modified." Each glossary entry
becomes a question and an answer (the headword, its part of speech and the first sentences of its
definition); a few questions about the model itself are added. The weights and tokenizer here are
derived from that public-domain text and are placed in the public domain as well.
"""


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models",
                                                  "anemll-tiny"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--steps", type=int, default=1400)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--intermediate", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--global-every", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--max-pos", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--check", metavar="ANEMLL", help="compare tokenizer and logits with this anemll binary")
    ap.add_argument("--check-only", action="store_true", help="skip training: check the checkpoint in --out")
    ap.add_argument("--dump-data", metavar="FILE", help="write the question/answer pairs as JSON lines")
    a = ap.parse_args()
    if a.check_only and not a.check:
        ap.error("--check-only needs --check ANEMLL")
    out = os.path.abspath(a.out)
    t_start = time.time()

    def log(msg):
        print("[%6.0fs] %s" % (time.time() - t_start, msg), flush=True)

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numpy as np
    import torch
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True)
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)

    pairs = build_pairs()
    log("data: %d question/answer pairs from %s" % (len(pairs), JARGON))
    if a.dump_data:
        with open(a.dump_data, "w", encoding="utf-8") as f:
            for qs, ans in pairs:
                f.write(json.dumps({"questions": qs, "answer": ans}, ensure_ascii=False) + "\n")

    if a.check_only:
        tj = json.load(open(os.path.join(out, "tokenizer.json"), encoding="utf-8"))
        tok = Tok(tj["model"]["vocab"], tj["model"]["merges"])
        cfg = json.load(open(os.path.join(out, "config.json")))
        model = build_model(torch, cfg)
        load_safetensors(torch, model, os.path.join(out, "model.safetensors"))
        check(a, torch, tok, cfg, model, pairs, out, log)
        return

    # tokenizer: learned on every phrasing of every question and every answer, in chat form
    texts = ["<start_of_turn>user\n%s<end_of_turn>\n<start_of_turn>model\n%s<end_of_turn>\n" % (q, ans)
             for qs, ans in pairs for q in qs[:1]]
    texts += [q for qs, _ in pairs for q in qs[1:]]
    vocab, merges = train_bpe(texts, a.vocab, log)
    tok = Tok(vocab, merges)
    cfg = model_config(a, len(vocab))

    # encoded turns: every phrasing of each pair
    turns = [[chat_turn(tok, q, ans) for q in qs] for qs, ans in pairs]
    n_tok = sum(len(t[0][0]) for t in turns)
    n_ans = sum(sum(t[0][1]) for t in turns)
    longest = max(len(x[0]) for t in turns for x in t)
    log("turns: %d tokens per epoch (%d answer tokens), longest turn %d" % (n_tok, n_ans, longest))
    assert longest < a.seq, "a turn longer than the training sequence"

    rng = random.Random(a.seed)

    def epoch_sequences():
        """One epoch: every pair once, in a fresh order with a fresh phrasing, packed into
        conversations of at most seq + 1 tokens."""
        order = list(range(len(turns)))
        rng.shuffle(order)
        seqs, ids, mask = [], [BOS], [0]
        for i in order:
            t_ids, t_mask = turns[i][rng.randrange(len(turns[i]))]
            if len(ids) + len(t_ids) > a.seq + 1:
                seqs.append((ids + [PAD] * (a.seq + 1 - len(ids)), mask + [0] * (a.seq + 1 - len(mask))))
                ids, mask = [BOS], [0]
            ids, mask = ids + t_ids, mask + t_mask
        seqs.append((ids + [PAD] * (a.seq + 1 - len(ids)), mask + [0] * (a.seq + 1 - len(mask))))
        rng.shuffle(seqs)
        return seqs

    def batches():
        buf = []
        while True:
            buf += epoch_sequences()
            while len(buf) >= a.batch:
                chunk, buf = buf[:a.batch], buf[a.batch:]
                x = torch.tensor([s[0] for s in chunk], dtype=torch.long)
                m = torch.tensor([s[1] for s in chunk], dtype=torch.bool)
                y = torch.where(m[:, 1:], x[:, 1:], torch.tensor(-100))
                yield x[:, :-1], y

    model = build_model(torch, cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log("model: %d parameters (%.1f MB in BF16), %s" % (n_params, 2 * n_params / 1e6,
                                                        "".join("G" if t[0] == "f" else "S" for t in cfg["layer_types"])))
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.98), eps=1e-8)

    def lr_at(step):
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        p = (step - a.warmup) / max(1, a.steps - a.warmup)
        return a.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))

    gen = batches()
    model.train()
    ema, t0 = None, time.time()
    seen_tokens = 0
    for step in range(a.steps):
        x, y = next(gen)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        sel = y >= 0
        loss = torch.nn.functional.cross_entropy(model(x, sel), y[sel])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen_tokens += x.numel()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % a.log_every == 0 or step == a.steps - 1:
            el = time.time() - t0
            log("step %5d/%d  loss %.4f (avg %.4f)  lr %.2e  %.0f tok/s  epoch %.1f" %
                (step, a.steps, loss.item(), ema, lr_at(step), seen_tokens / max(el, 1e-9),
                 seen_tokens / (n_tok + len(turns))))
    train_s = time.time() - t0
    log("trained in %.1f min; final loss %.4f (running average %.4f)" % (train_s / 60, loss.item(), ema))

    # export
    os.makedirs(out, exist_ok=True)
    tensors = {k: v for k, v in model.state_dict().items()}
    write_safetensors(torch, os.path.join(out, "model.safetensors"), tensors)
    write_json(os.path.join(out, "config.json"), cfg)
    write_json(os.path.join(out, "generation_config.json"),
               {"bos_token_id": BOS, "eos_token_id": [EOS, EOT], "pad_token_id": PAD, "do_sample": False,
                "transformers_version": "4.50.0.dev0"})
    write_json(os.path.join(out, "tokenizer.json"), tokenizer_json(tok))
    tc = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<bos>", "eos_token": "<end_of_turn>",
          "pad_token": "<pad>", "unk_token": "<unk>", "clean_up_tokenization_spaces": False,
          "model_max_length": cfg["max_position_embeddings"], "tokenizer_class": "GemmaTokenizerFast",
          "added_tokens_decoder": {str(tok.vocab[p]): {"content": p, "lstrip": False, "normalized": False,
                                                       "rstrip": False, "single_word": False,
                                                       "special": p in SPECIALS}
                                   for p in SPECIALS + NONSPECIAL_ADDED}}
    write_json(os.path.join(out, "tokenizer_config.json"), tc)
    n_layers = cfg["num_hidden_layers"]
    n_glob = cfg["layer_types"].count("full_attention")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(MODEL_README.format(layers=n_layers, sliding=n_layers - n_glob, globals_=n_glob, window=a.window,
                                    hidden=a.hidden, heads=a.heads, head_dim=a.head_dim, kv=a.kv_heads,
                                    inter=a.intermediate, vocab=len(vocab), params=n_params, seed=a.seed,
                                    steps=a.steps))
    st = os.path.join(out, "model.safetensors")
    log("exported to %s: model.safetensors %d bytes, sha256 %s" %
        (out, os.path.getsize(st), hashlib.sha256(open(st, "rb").read()).hexdigest()))
    load_safetensors(torch, model, st)  # the checks use what was written
    if a.check:
        check(a, torch, tok, cfg, model, pairs, out, log)


def load_safetensors(torch, model, path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    sd = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        assert info["dtype"] == "BF16"
        raw = torch.frombuffer(bytearray(data[lo:hi]), dtype=torch.int16)
        sd[name] = raw.view(torch.bfloat16).to(torch.float32).reshape(info["shape"])
    model.load_state_dict(sd)


def greedy(torch, model, ids, n, stop):
    out = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(model(torch.tensor([ids + out]))[0, -1].argmax())
            if nxt in stop:
                break
            out.append(nxt)
    return out


def check(a, torch, tok, cfg, model, pairs, out, log):
    """The C tokenizer and engine against this script, on the exported checkpoint."""
    exe = a.check
    model.eval()
    ok = True
    # 1. tokenizer: held-out text (the rest of the Jargon File, odd characters, chat prompts)
    with gzip.open(JARGON, "rt", encoding="utf-8") as f:
        lines = [ln for ln in f.read().split("\n") if ln.strip()]
    held = lines[:400:3] + lines[-3000::7]
    held += ["a  b   c", " leading and trailing ", "tab\there", "caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \U0001F600",
             "<start_of_turn>user\nWhat is a hacker?<end_of_turn>\n<start_of_turn>model\n", "\n\n\nx\n",
             "<bos><eos><unk><pad>", "\u2581\u2581 literal", "NBSP\u00a0here", "1234567890 -- ~!@#$%^&*()_+"]
    req = "".join(json.dumps({"text": t, "add_bos": i % 2 == 0}) + "\n" for i, t in enumerate(held))
    r = subprocess.run([exe, "tokenize", "--tokenizer", os.path.join(out, "tokenizer.json"), "--jsonl"],
                       input=req.encode(), capture_output=True)
    got = [json.loads(x) for x in r.stdout.decode().splitlines()]
    bad = [t for i, (t, g) in enumerate(zip(held, got)) if tok.encode(t, add_bos=i % 2 == 0) != g]
    if r.returncode or len(got) != len(held) or bad:
        ok = False
        log("CHECK FAIL tokenizer: rc %d, %d/%d lines, first mismatch %r" %
            (r.returncode, len(got), len(held), bad[:1]))
    else:
        log("check tokenizer: the C tokenizer matches on %d held-out texts" % len(held))
    # 2. logits of a 3-turn conversation longer than the sliding window, FP32, BF16 weights
    ids = [BOS]
    for qs, ans in pairs[100:104]:
        ids += chat_turn(tok, qs[0], ans)[0]
    ids += chat_turn(tok, pairs[200][0][0], "")[0][:-2]  # generation prompt
    with torch.no_grad():
        ref = model(torch.tensor([ids]))[0].numpy().astype("<f4")
    with tempfile.TemporaryDirectory() as td:
        for batch in (64, 1):
            r = subprocess.run([exe, "logits", "--model", out, "--tokens", " ".join(map(str, ids)), "--out",
                                os.path.join(td, "c.f32"), "--batch", str(batch)], capture_output=True)
            import numpy as np
            c = np.fromfile(os.path.join(td, "c.f32"), dtype="<f4").reshape(ref.shape) if not r.returncode else None
            err = float(np.abs(c - ref).max()) if c is not None else float("inf")
            same = c is not None and bool((c.argmax(-1) == ref.argmax(-1)).all())
            good = err <= 1e-3 and same
            ok &= good
            log("%s logits: %d tokens (window %d), batch %d: max |C - torch| %.2e, argmax %s" %
                ("check" if good else "CHECK FAIL", len(ids), cfg["sliding_window"], batch, err,
                 "equal" if same else "differs"))
    # 3. greedy answers (torch) for a few training questions
    for qs, ans in [pairs[i] for i in (0, len(pairs) // 3, len(pairs) // 2, len(pairs) - 1)]:
        prompt = [BOS] + chat_turn(tok, qs[0], "")[0][:-2]
        got = tok.decode(greedy(torch, model, prompt, 80, (EOS, EOT)))
        log("Q: %s\n  trained: %s\n  greedy:  %s" % (qs[0], ans, got))
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
