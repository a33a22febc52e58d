"""Large checkpoints for scripts/bench --large, made sparse: only the bytes
of the bias vectors are written, the weights are holes in the file, so a
15.2 GB checkpoint takes a few hundred kB of disk.

    python3 make_large.py OUT_DIR [--torch]

Writes, in OUT_DIR:
  qwen2-7b.safetensors        Qwen2-7B's tensors and shapes, bf16, 15.2 GB
  qwen2-7b-biases.safetensors the same 84 bias vectors, nothing else
  qwen2-7b-sharded/           4 shards + model.safetensors.index.json + config.json
With --torch (needs PyTorch), also:
  state-2gb.pt                a torch.save state_dict holding 2 GB of weights
  state-2gb-biases.pt         its bias vectors only
"""
import json
import os
import random
import struct
import sys

HIDDEN, INTER, LAYERS, KV, VOCAB = 3584, 18944, 28, 512, 152064


def qwen2_tensors():
    """(name, shape) in Hugging Face's order for Qwen2-7B."""
    out = [("model.embed_tokens.weight", [VOCAB, HIDDEN])]
    for i in range(LAYERS):
        p = "model.layers.%d." % i
        out += [
            (p + "input_layernorm.weight", [HIDDEN]),
            (p + "self_attn.q_proj.weight", [HIDDEN, HIDDEN]),
            (p + "self_attn.q_proj.bias", [HIDDEN]),
            (p + "self_attn.k_proj.weight", [KV, HIDDEN]),
            (p + "self_attn.k_proj.bias", [KV]),
            (p + "self_attn.v_proj.weight", [KV, HIDDEN]),
            (p + "self_attn.v_proj.bias", [KV]),
            (p + "self_attn.o_proj.weight", [HIDDEN, HIDDEN]),
            (p + "post_attention_layernorm.weight", [HIDDEN]),
            (p + "mlp.gate_proj.weight", [INTER, HIDDEN]),
            (p + "mlp.up_proj.weight", [INTER, HIDDEN]),
            (p + "mlp.down_proj.weight", [HIDDEN, INTER]),
        ]
    out += [("model.norm.weight", [HIDDEN]), ("lm_head.weight", [VOCAB, HIDDEN])]
    return out


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def bf16_bytes(name, count):
    """Deterministic bf16 values for a bias vector: the top half of float32s."""
    rng = random.Random(name)
    return b"".join(struct.pack("<f", rng.gauss(0.0, 0.5))[2:] for _ in range(count))


def write_safetensors(path, tensors):
    """A safetensors file of `tensors`; only the .bias vectors are written."""
    header, offset = {}, 0
    for name, shape in tensors:
        size = numel(shape) * 2
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        start = f.tell()
        for name, shape in tensors:
            if name.endswith(".bias"):
                f.seek(start + header[name]["data_offsets"][0])
                f.write(bf16_bytes(name, numel(shape)))
        f.truncate(start + offset)
    return offset


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    tensors = qwen2_tensors()
    total = write_safetensors(os.path.join(out, "qwen2-7b.safetensors"), tensors)
    write_safetensors(os.path.join(out, "qwen2-7b-biases.safetensors"), [t for t in tensors if t[0].endswith(".bias")])
    folder = os.path.join(out, "qwen2-7b-sharded")
    os.makedirs(folder, exist_ok=True)
    shards, per = [], (len(tensors) + 3) // 4
    weight_map = {}
    for k in range(4):
        part = tensors[k * per:(k + 1) * per]
        name = "model-%05d-of-00004.safetensors" % (k + 1)
        write_safetensors(os.path.join(folder, name), part)
        for t, _ in part:
            weight_map[t] = name
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": HIDDEN,
                   "intermediate_size": INTER, "num_hidden_layers": LAYERS, "num_attention_heads": 28,
                   "num_key_value_heads": 4, "max_position_embeddings": 131072, "rope_theta": 1000000.0,
                   "vocab_size": VOCAB, "torch_dtype": "bfloat16"}, f, indent=2)

    if "--torch" in sys.argv:
        import torch
        torch.manual_seed(0)
        state, biases = {}, {}
        # 16 layers of 4096x8192 float32 (128 MiB each): 2.1 GB of weights.
        for i in range(16):
            state["layers.%d.weight" % i] = torch.zeros(4096, 8192)
            bias = torch.randn(4096)
            state["layers.%d.bias" % i] = bias
            biases["layers.%d.bias" % i] = bias
        torch.save(state, os.path.join(out, "state-2gb.pt"))
        torch.save(biases, os.path.join(out, "state-2gb-biases.pt"))


if __name__ == "__main__":
    main()
