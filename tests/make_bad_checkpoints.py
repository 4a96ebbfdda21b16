#!/usr/bin/env python3
"""Write broken variants of a golden checkpoint (and a sharded copy) for the bad-input tests.
Usage: make_bad_checkpoints.py SRC_DIR OUT_DIR. Standard library only."""
import json, os, shutil, struct, sys

src, out = sys.argv[1], sys.argv[2]
raw = open(os.path.join(src, "model.safetensors"), "rb").read()
hlen = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + hlen])
data = raw[8 + hlen:]
config = open(os.path.join(src, "config.json")).read()


def write_st(path, hdr, body):
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + body)


def case(name, st_bytes=None, cfg=config, hdr=None, body=None):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    if cfg is not None:
        open(os.path.join(d, "config.json"), "w").write(cfg)
    p = os.path.join(d, "model.safetensors")
    if hdr is not None:
        write_st(p, hdr, body if body is not None else data)
    elif st_bytes is not None:
        open(p, "wb").write(st_bytes)


case("truncated_data", raw[:len(raw) - 1000])
case("truncated_header", raw[:8 + hlen // 2])
case("tiny_file", raw[:5])
case("huge_header_len", struct.pack("<Q", 1 << 62) + raw[8:])
case("header_not_json", struct.pack("<Q", 16) + b"{not json at all" + data)
h = dict(header); del h["model.layers.3.mlp.up_proj.weight"]
case("missing_tensor_gap", hdr=h)  # its bytes become a gap
h = json.loads(json.dumps(header)); h["model.layers.2.self_attn.q_proj.weight"]["shape"] = [64, 128]
case("wrong_shape", hdr=h)
h = json.loads(json.dumps(header)); h["model.norm.weight"]["dtype"] = "I16"
case("unknown_dtype", hdr=h)
h = json.loads(json.dumps(header)); t = h["model.layers.0.self_attn.k_norm.weight"]; t["dtype"] = "I32"; t["shape"] = [16]
case("wrong_dtype", hdr=h)
h = json.loads(json.dumps(header))
names = sorted((v["data_offsets"][0], k) for k, v in h.items() if k != "__metadata__")
a, b = names[3][1], names[4][1]
h[b]["data_offsets"] = [h[b]["data_offsets"][0] - 2, h[b]["data_offsets"][1] - 2]
case("overlap", hdr=h)
h = json.loads(json.dumps(header)); h["model.norm.weight"]["shape"] = [1 << 40, 1 << 40]
case("huge_shape", hdr=h)
case("no_config", cfg=None, st_bytes=raw)
case("bad_config_json", cfg='{"model_type": "gemma3_text", "hidden_size": ', st_bytes=raw)
c = json.loads(config); c["rope_scaling"] = {"rope_type": "yarn", "factor": 4.0}
case("unsupported_rope", cfg=json.dumps(c), st_bytes=raw)
c = json.loads(config); c["model_type"] = "llama"
case("wrong_model_type", cfg=json.dumps(c), st_bytes=raw)
c = json.loads(config); c["layer_types"] = c["layer_types"][:3]
case("short_layer_types", cfg=json.dumps(c), st_bytes=raw)
c = json.loads(config); c["hidden_activation"] = "relu"
case("unsupported_activation", cfg=json.dumps(c), st_bytes=raw)

# a tensor left out entirely (the data compacted): "missing tensor"
hdr, body, off = {}, b"", 0
for k, v in sorted((k, v) for k, v in header.items() if k != "__metadata__"):
    if k == "model.layers.4.mlp.down_proj.weight":
        continue
    b0, b1 = v["data_offsets"]
    hdr[k] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [off, off + b1 - b0]}
    body += data[b0:b1]; off += b1 - b0
case("missing_tensor", hdr=hdr, body=body)

# an extra tensor under the text prefix (a variant we do not implement)
hdr = json.loads(json.dumps(header)); off = len(data)
hdr["model.layers.0.self_attn.q_proj.bias"] = {"dtype": "BF16", "shape": [128], "data_offsets": [off, off + 256]}
case("unknown_tensor", hdr=hdr, body=data + bytes(256))

# a sharded copy: two shards plus model.safetensors.index.json, same tensors
d = os.path.join(out, "sharded"); os.makedirs(d, exist_ok=True)
open(os.path.join(d, "config.json"), "w").write(config)
items = sorted((k, v) for k, v in header.items() if k != "__metadata__")
weight_map = {}
for i, part in enumerate((items[: len(items) // 2], items[len(items) // 2:])):
    fname = "model-%05d-of-00002.safetensors" % (i + 1)
    hdr, body, off = {}, b"", 0
    for k, v in part:
        b0, b1 = v["data_offsets"]
        hdr[k] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [off, off + b1 - b0]}
        body += data[b0:b1]; off += b1 - b0
        weight_map[k] = fname
    write_st(os.path.join(d, fname), hdr, body)
json.dump({"metadata": {}, "weight_map": weight_map}, open(os.path.join(d, "model.safetensors.index.json"), "w"))
# an index naming a shard that lacks one of its tensors
d2 = os.path.join(out, "bad_index"); shutil.copytree(d, d2)
wm = dict(weight_map); wm["model.extra.weight"] = "model-00001-of-00002.safetensors"
json.dump({"weight_map": wm}, open(os.path.join(d2, "model.safetensors.index.json"), "w"))
