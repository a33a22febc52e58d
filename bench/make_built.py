#!/usr/bin/env python3
"""Folders for scripts/bench --built (weights-only models pevis builds from
config.json), made into OUT_DIR:

  llama-mid/        a Llama-shaped folder (1024 wide, 8 layers, 16 heads, 4 key-value
                    heads, vocabulary 32000): config.json and float32 safetensors,
                    random weights (seed 0)
  llama-mid-bf16/   the same weights in bfloat16
  llama-mid.pt      the same model as a TorchScript program (scripted here, float32),
                    which pevis runs as it runs any program: the reference for time
  llama3-8b/        Llama-3-8B's tensors and shapes in bfloat16, 4 shards and an index,
                    16 GB of holes (a sparse file): for memory

    python3 make_built.py OUT_DIR
"""
import json
import os
import struct
import sys

import torch

import make_large

D, LAYERS, HEADS, KV, INTER, VOCAB = 1024, 8, 16, 4, 2816, 32000
HD = D // HEADS


def config(hidden, layers, heads, kv, inter, vocab, dtype, theta):
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
            "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": heads,
            "num_key_value_heads": kv, "vocab_size": vocab, "max_position_embeddings": 8192,
            "rms_norm_eps": 1e-5, "rope_theta": theta, "torch_dtype": dtype, "tie_word_embeddings": False}


def llama_tensors(hidden, layers, kv_dim, inter, vocab):
    out = [("model.embed_tokens.weight", [vocab, hidden])]
    for i in range(layers):
        p = "model.layers.%d." % i
        out += [(p + "input_layernorm.weight", [hidden]), (p + "self_attn.q_proj.weight", [hidden, hidden]),
                (p + "self_attn.k_proj.weight", [kv_dim, hidden]), (p + "self_attn.v_proj.weight", [kv_dim, hidden]),
                (p + "self_attn.o_proj.weight", [hidden, hidden]), (p + "post_attention_layernorm.weight", [hidden]),
                (p + "mlp.gate_proj.weight", [inter, hidden]), (p + "mlp.up_proj.weight", [inter, hidden]),
                (p + "mlp.down_proj.weight", [hidden, inter])]
    return out + [("model.norm.weight", [hidden]), ("lm_head.weight", [vocab, hidden])]


def save_safetensors(path, tensors, dtype):
    """tensors: [(name, tensor)], written in `dtype` ("F32" or "BF16")."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors:
        t = t.contiguous()
        data = t.float().numpy().tobytes() if dtype == "F32" else t.bfloat16().view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


class Linear(torch.nn.Module):
    def __init__(self, weight):
        super().__init__()
        self.weight = torch.nn.Parameter(weight)

    def forward(self, x):
        return torch.nn.functional.linear(x, self.weight)


class RMSNorm(torch.nn.Module):
    def __init__(self, weight, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(weight)
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class Attention(torch.nn.Module):
    def __init__(self, w, p):
        super().__init__()
        self.q_proj, self.k_proj = Linear(w[p + "q_proj.weight"]), Linear(w[p + "k_proj.weight"])
        self.v_proj, self.o_proj = Linear(w[p + "v_proj.weight"]), Linear(w[p + "o_proj.weight"])
        self.heads, self.kv, self.hd, self.d = HEADS, KV, HD, D

    def forward(self, x, cos, sin, mask):
        b, t = x.size(0), x.size(1)
        q = self.q_proj(x).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        half = self.hd // 2
        q = q * cos + torch.cat([-q[..., half:], q[..., :half]], -1) * sin
        k = k * cos + torch.cat([-k[..., half:], k[..., :half]], -1) * sin
        k = torch.repeat_interleave(k, self.heads // self.kv, 1)
        v = torch.repeat_interleave(v, self.heads // self.kv, 1)
        weights = torch.softmax(torch.matmul(q, k.transpose(2, 3)) * self.hd ** -0.5 + mask, -1)
        return self.o_proj(torch.matmul(weights, v).transpose(1, 2).reshape(b, t, self.d))


class Layer(torch.nn.Module):
    def __init__(self, w, p):
        super().__init__()
        self.input_layernorm = RMSNorm(w[p + "input_layernorm.weight"], 1e-5)
        self.self_attn = Attention(w, p + "self_attn.")
        self.post_attention_layernorm = RMSNorm(w[p + "post_attention_layernorm.weight"], 1e-5)
        self.gate_proj, self.up_proj = Linear(w[p + "mlp.gate_proj.weight"]), Linear(w[p + "mlp.up_proj.weight"])
        self.down_proj = Linear(w[p + "mlp.down_proj.weight"])

    def forward(self, x, cos, sin, mask):
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        g = self.post_attention_layernorm(h)
        return h + self.down_proj(torch.nn.functional.silu(self.gate_proj(g)) * self.up_proj(g))


class Llama(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding.from_pretrained(w["model.embed_tokens.weight"], freeze=False)
        self.layers = torch.nn.ModuleList([Layer(w, "model.layers.%d." % i) for i in range(LAYERS)])
        self.norm = RMSNorm(w["model.norm.weight"], 1e-5)
        self.register_buffer("inv_freq", 1.0 / (500000.0 ** (torch.arange(0, HD, 2).float() / HD)))

    def forward(self, ids):
        x = self.embed_tokens(ids)
        t = ids.size(1)
        freqs = torch.arange(t).float().unsqueeze(1) * self.inv_freq.unsqueeze(0)
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.zeros(t, t).masked_fill(torch.ones(t, t).triu(1) > 0, float("-inf"))
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.norm(x)


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    tensors = []
    for name, shape in llama_tensors(D, LAYERS, KV * HD, INTER, VOCAB):
        t = torch.ones(shape) + 0.1 * torch.randn(shape) if len(shape) == 1 else 0.02 * torch.randn(shape)
        tensors.append((name, t))
    for folder, dtype in (("llama-mid", "F32"), ("llama-mid-bf16", "BF16")):
        os.makedirs(os.path.join(out, folder), exist_ok=True)
        save_safetensors(os.path.join(out, folder, "model.safetensors"), tensors, dtype)
        with open(os.path.join(out, folder, "config.json"), "w") as f:
            json.dump(config(D, LAYERS, HEADS, KV, INTER, VOCAB, "float32" if dtype == "F32" else "bfloat16", 500000.0),
                      f, indent=2)
    torch.jit.script(Llama(dict(tensors)).eval()).save(os.path.join(out, "llama-mid.pt"))

    # Llama-3-8B: 4096 wide, 32 layers, 32 heads, 8 key-value heads, vocabulary 128256.
    folder = os.path.join(out, "llama3-8b")
    os.makedirs(folder, exist_ok=True)
    big = llama_tensors(4096, 32, 1024, 14336, 128256)
    per, weight_map, total = (len(big) + 3) // 4, {}, 0
    for k in range(4):
        part = big[k * per:(k + 1) * per]
        name = "model-%05d-of-00004.safetensors" % (k + 1)
        total += make_large.write_safetensors(os.path.join(folder, name), part)
        for t, _ in part:
            weight_map[t] = name
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    settings = config(4096, 32, 32, 8, 14336, 128256, "bfloat16", 500000.0)
    settings["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                "original_max_position_embeddings": 8192}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(settings, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1])
