#!/usr/bin/env python3
"""A micro Gemma 3 checkpoint (config.json + BF16 model.safetensors, every tensor a Gemma 3 text
model has, 2 layers: one sliding, one global) with random weights, for the fuzz seeds and for tests
that need shapes no real model has (odd hidden or intermediate sizes). Standard library only.
Usage: make_micro_checkpoint.py OUT [--vocab V] [--hidden H] [--intermediate I] [--head-dim D] [--seed S]"""
import argparse, json, os, random, struct
ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--vocab", type=int, default=32)
ap.add_argument("--hidden", type=int, default=8)
ap.add_argument("--intermediate", type=int, default=16)
ap.add_argument("--head-dim", type=int, default=4)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
out = a.out; os.makedirs(out, exist_ok=True)
V, H, I, L, NH, KV, HD = a.vocab, a.hidden, a.intermediate, 2, 2, 1, a.head_dim
cfg = {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "vocab_size": V, "hidden_size": H,
       "intermediate_size": I, "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": KV,
       "head_dim": HD, "max_position_embeddings": 32, "sliding_window": 4,
       "layer_types": ["sliding_attention", "full_attention"], "query_pre_attn_scalar": HD, "rms_norm_eps": 1e-6,
       "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "rope_scaling": {"rope_type": "linear", "factor": 2.0},
       "hidden_activation": "gelu_pytorch_tanh", "attn_logit_softcapping": None, "final_logit_softcapping": None,
       "bos_token_id": 2, "eos_token_id": [1, 4], "pad_token_id": 0, "tie_word_embeddings": True}
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=1)
shapes = [("model.embed_tokens.weight", [V, H]), ("model.norm.weight", [H])]
for l in range(L):
    p = "model.layers.%d." % l
    shapes += [(p + "self_attn.q_proj.weight", [NH * HD, H]), (p + "self_attn.k_proj.weight", [KV * HD, H]),
               (p + "self_attn.v_proj.weight", [KV * HD, H]), (p + "self_attn.o_proj.weight", [H, NH * HD]),
               (p + "mlp.gate_proj.weight", [I, H]), (p + "mlp.up_proj.weight", [I, H]),
               (p + "mlp.down_proj.weight", [H, I])]
    shapes += [(p + n, [H]) for n in ("input_layernorm.weight", "post_attention_layernorm.weight",
                                      "pre_feedforward_layernorm.weight", "post_feedforward_layernorm.weight")]
    shapes += [(p + "self_attn.q_norm.weight", [HD]), (p + "self_attn.k_norm.weight", [HD])]
rng = random.Random(a.seed)
hdr, body = {"__metadata__": {"format": "pt"}}, b""
for name, shape in shapes:
    n = 1
    for d in shape: n *= d
    data = b"".join(struct.pack("<f", rng.uniform(-0.5, 0.5))[2:4] for _ in range(n))
    hdr[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [len(body), len(body) + len(data)]}
    body += data
h = json.dumps(hdr, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(os.path.join(out, "model.safetensors"), "wb").write(struct.pack("<Q", len(h)) + h + body)
