#!/usr/bin/env python3
"""Fixtures for models saved by PyTorch 2.x, and the references pevis is
tested against. Run by make.sh: inside a Debian 13 root with PyTorch 2.6 and
torchvision 0.21 (files named v26_*), and on Debian 12 with PyTorch 1.13 and
torchvision 0.14 (v113_*: traced models that run the fused kernels).

    make_fixtures.py OUT_DIR

Writes the model files and expected_<tag>.json. For every model file the JSON
holds its input (dtype, shape, values), PyTorch's own output for it, and the
attention weights [batch, heads, target, source] of every site, keyed by
module path. Stock layers' weights are nn.MultiheadAttention's with
need_weights=True, average_attn_weights=False; hand-written blocks that call
F.scaled_dot_product_attention get the explicit softmax(Q K^T * scale + mask).
"""
import json
import math
import os
import sys
from typing import Optional

import torch
import torch.nn.functional as F
import torchvision

VERSION = tuple(int(p) for p in torch.__version__.split(".")[:2])
TAG = "v%d%d" % VERSION
HAS_SDPA = hasattr(F, "scaled_dot_product_attention")
TOKENS = [3, 1, 4, 1, 5, 9, 2, 6]


class Mha(torch.nn.Module):
    """Embedding and one nn.MultiheadAttention called as the stock layers call
    it (need_weights=False). Input: token ids [S, 1]."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(20, 16)
        self.attn = torch.nn.MultiheadAttention(16, 4)

    def forward(self, tokens):
        x = self.embed(tokens)
        out, _ = self.attn(x, x, x, need_weights=False)
        return out


class Encoder(torch.nn.Module):
    """Embedding and a stock 2-layer batch-first nn.TransformerEncoder.
    Input: token ids [B, S]."""

    def __init__(self, norm_first: bool):
        super().__init__()
        self.embed = torch.nn.Embedding(20, 16)
        layer = torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True, norm_first=norm_first)
        self.enc = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, tokens):
        return self.enc(self.embed(tokens))


class PositionalEncoding(torch.nn.Module):
    """As in the word-language-model example of pytorch/examples."""

    def __init__(self, d_model, max_len=64):
        super().__init__()
        self.dropout = torch.nn.Dropout(0.1)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(0), :])


class WordLM(torch.nn.Module):
    """The word-language-model Transformer: sequence-first, causal mask made
    in forward. Input: token ids [S, 1]."""

    def __init__(self, ntoken=40, ninp=16, nhead=4, nhid=32, nlayers=2):
        super().__init__()
        self.pos_encoder = PositionalEncoding(ninp)
        layer = torch.nn.TransformerEncoderLayer(ninp, nhead, nhid, 0.1)
        self.transformer_encoder = torch.nn.TransformerEncoder(layer, nlayers, enable_nested_tensor=False)
        self.encoder = torch.nn.Embedding(ntoken, ninp)
        self.decoder = torch.nn.Linear(ninp, ntoken)
        self.ninp = ninp

    def mask(self, size: int):
        return torch.triu(torch.full((size, size), float("-inf")), diagonal=1)

    def forward(self, src):
        src = self.pos_encoder(self.encoder(src) * math.sqrt(self.ninp))
        output = self.transformer_encoder(src, self.mask(src.size(0)))
        return F.log_softmax(self.decoder(output), dim=-1)


class SdpaBlock(torch.nn.Module):
    """A hand-written attention block calling F.scaled_dot_product_attention:
    Q, K, V projections (K and V with fewer heads for grouped-query), an
    optional causal flag, bool or float mask and scale. Input: token ids [B, S]."""

    def __init__(self, kind: str, heads: int = 4, kv_heads: int = 4, length: int = 8):
        super().__init__()
        self.kind = kind
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, 4
        self.embed = torch.nn.Embedding(20, heads * 4)
        self.q = torch.nn.Linear(heads * 4, heads * 4)
        self.k = torch.nn.Linear(heads * 4, kv_heads * 4)
        self.v = torch.nn.Linear(heads * 4, kv_heads * 4)
        self.out = torch.nn.Linear(heads * 4, heads * 4)
        # bool: keys 6 and 7 are padding; float: a per-head linear bias (as ALiBi).
        keep = torch.ones(1, 1, 1, length, dtype=torch.bool)
        keep[..., 6:] = False
        slopes = torch.tensor([0.5 ** (i + 1) for i in range(heads)]).view(1, heads, 1, 1)
        distance = (torch.arange(length).view(1, -1) - torch.arange(length).view(-1, 1)).float()
        self.register_buffer("bool_mask", keep)
        self.register_buffer("float_mask", slopes * distance.view(1, 1, length, length))
        self.causal = kind == "causal"
        self.scale = 0.3 if kind == "scale" else None

    def project(self, tokens):
        x = self.embed(tokens)
        b, s, _ = x.shape
        q = self.q(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = self.k(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        return q, k, v

    def mask(self) -> Optional[torch.Tensor]:
        if self.kind == "bool_mask":
            return self.bool_mask
        if self.kind == "float_mask":
            return self.float_mask
        return None

    def forward(self, tokens):
        q, k, v = self.project(tokens)
        if self.kind == "gqa":
            y = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask(), is_causal=self.causal,
                                               scale=self.scale)
        b, h, s, d = y.shape
        return self.out(y.transpose(1, 2).reshape(b, s, h * d))

    def weights(self, tokens):
        q, k, _ = self.project(tokens)
        return sdpa_weights(q, k, self.scale, self.causal, self.mask())


def sdpa_weights(q, k, scale, causal, mask):
    """The explicit softmax, as PyTorch's documentation defines SDPA; key
    heads are repeated to the query's (grouped-query attention)."""
    k = k.repeat_interleave(q.size(1) // k.size(1), dim=1)
    scale = scale if scale is not None else 1.0 / math.sqrt(q.size(-1))
    scores = q @ k.transpose(-2, -1) * scale
    s = scores.size(-1)
    if causal:
        scores = scores.masked_fill(~torch.ones(s, s, dtype=torch.bool).tril(), float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    return torch.softmax(scores, dim=-1)


def vit():
    return torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4,
                                                hidden_dim=32, mlp_dim=64, num_classes=10)


def stock_weights(model, x):
    """Runs `model` (eval, grad enabled so the stock layers call their
    attention modules) with every nn.MultiheadAttention asked for
    need_weights=True, average_attn_weights=False; returns the weights by
    module path, [batch, heads, target, source] with batch first."""
    names = {id(m): n for n, m in model.named_modules()}
    original = torch.nn.MultiheadAttention.forward
    sites = {}

    def forward(self, query, key, value, *args, **kwargs):
        kwargs["need_weights"] = True
        kwargs["average_attn_weights"] = False
        out, w = original(self, query, key, value, *args, **kwargs)
        sites[names[id(self)]] = w.detach()
        return out, w

    torch.nn.MultiheadAttention.forward = forward
    try:
        with torch.enable_grad():
            model(x)
    finally:
        torch.nn.MultiheadAttention.forward = original
    return sites


def unknown_operator(source, target):
    """A copy of `source` whose code calls an operator no LibTorch has, as a
    file from a future PyTorch would."""
    import zipfile
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if "/code/" in item.filename and item.filename.endswith(".py"):
                data = data.replace(b"torch.scaled_dot_product_attention(", b"torch.scaled_dot_product_attention_v9(")
            dst.writestr(item, data)


def tensor_json(t):
    return {"dtype": "long" if t.dtype == torch.long else "float", "shape": list(t.shape),
            "values": t.flatten().tolist()}


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(26 if VERSION >= (2, 0) else 113)
    expected = {"pytorch": torch.__version__, "torchvision": torchvision.__version__, "models": {}}

    def save(name, module, example, sites, how="script"):
        """Saves `module` scripted or traced (with or without grad) and
        records what PyTorch computes for `example`."""
        module.eval()
        for p in module.parameters():
            p.requires_grad_(True)
        if how == "script":
            saved = torch.jit.script(module)
        elif how == "trace_grad":
            saved = torch.jit.trace(module, example, check_trace=False)
        else:
            with torch.no_grad():
                saved = torch.jit.trace(module, example, check_trace=False)
        path = os.path.join(out_dir, "%s_%s.pt" % (TAG, name))
        saved.save(path)
        with torch.no_grad():
            output = module(example)
        expected["models"][os.path.basename(path)] = {
            "how": how, "input": tensor_json(example), "output": tensor_json(output),
            "sites": {k: v.tolist() for k, v in sites.items()}}

    tokens = torch.tensor([TOKENS])
    tokens2 = torch.tensor([TOKENS, TOKENS[::-1]])
    image = torch.randn(1, 3, 32, 32)
    image2 = torch.randn(2, 3, 32, 32)
    seq_first = tokens.t().contiguous()

    if VERSION >= (2, 0):
        m = Mha().eval()
        save("mha", m, seq_first, stock_weights(m, seq_first))
        for norm_first in (False, True):
            m = Encoder(norm_first).eval()
            save("encoder_pre" if norm_first else "encoder_post", m, tokens, stock_weights(m, tokens))
        m = WordLM().eval()
        save("word_lm", m, seq_first, stock_weights(m, seq_first))
        m = vit().eval()
        save("vit_script", m, image, stock_weights(m, image))
        save("vit_trace_grad", m, image, stock_weights(m, image), how="trace_grad")
        m = Encoder(False).eval()
        save("encoder_trace_grad", m, tokens, stock_weights(m, tokens), how="trace_grad")
        for kind in ("plain", "causal", "bool_mask", "float_mask", "scale", "gqa"):
            m = SdpaBlock(kind, kv_heads=2 if kind == "gqa" else 4).eval()
            with torch.no_grad():
                w = m.weights(tokens2)
            save("sdpa_" + kind, m, tokens2, {"": w})
        if hasattr(torch.nn, "RMSNorm"):
            m = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.RMSNorm(8)).eval()
            save("rms_norm", m, torch.randn(2, 3, 8), {})
        unknown_operator(os.path.join(out_dir, TAG + "_sdpa_plain.pt"), os.path.join(out_dir, TAG + "_unknown_op.pt"))
    # Traced without grad: the fused kernels, and no softmax, in both versions.
    m = vit().eval()
    save("vit_trace_nograd", m, image, stock_weights(m, image), how="trace_nograd")
    save("vit_trace_nograd_b2", m, image2, stock_weights(m, image2), how="trace_nograd")
    if VERSION < (2, 0):
        # 1.13 with grad: the explicit [batch*heads, T, S] softmax, and a trace
        # keeps no num_heads to split it with.
        save("vit_trace_grad_b2", m, image2, stock_weights(m, image2), how="trace_grad")
    for norm_first in (False, True):
        m = Encoder(norm_first).eval()
        name = "encoder_%s_trace_nograd" % ("pre" if norm_first else "post")
        save(name, m, tokens, stock_weights(m, tokens), how="trace_nograd")
        if not norm_first:
            save(name + "_b2", m, tokens2, stock_weights(m, tokens2), how="trace_nograd")

    if VERSION >= (2, 0):
        # Weights-only files: a state_dict, a training checkpoint, safetensors.
        from safetensors.torch import save_file
        net = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.ReLU(), torch.nn.Linear(20, 10))
        sd = {k: v.clone() for k, v in net.state_dict().items()}
        torch.save(sd, os.path.join(out_dir, TAG + "_state.pt"))
        opt = torch.optim.Adam(net.parameters())
        net(torch.randn(4, 10)).sum().backward()
        opt.step()
        torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
                   os.path.join(out_dir, TAG + "_checkpoint.pt"))
        tensors = {}
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            short = str(dtype).split(".")[1]
            save_file({k: v.to(dtype).contiguous() for k, v in sd.items()},
                      os.path.join(out_dir, "%s_%s.safetensors" % (TAG, short)))
            tensors[short] = {k: v.to(dtype).float().flatten().tolist() for k, v in sd.items()}
        expected["weights"] = {"state": {k: v.flatten().tolist() for k, v in sd.items()},
                               "checkpoint": {k: v.flatten().tolist() for k, v in net.state_dict().items()},
                               "safetensors": tensors}

    with open(os.path.join(out_dir, "expected_%s.json" % TAG), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main()
