#!/usr/bin/env python3
"""A corpus of small models built from real library code (torchvision 0.21,
torchaudio 2.6, torch.nn) by PyTorch 2.6, and what PyTorch computes for them.
Run by make.sh inside the Debian 13 root.

    make_corpus.py OUT_DIR

Every model is a real architecture at a small size (so the files stay small):
the code that builds it is the library's, only the widths and depths are ours.
expected.json holds, per model file, its input, and the attention weights
[batch, heads, target, source] of every site keyed by module path, computed by
PyTorch itself (nn.MultiheadAttention with need_weights=True, or the explicit
softmax of the library's own query and key projections); per position
table its values; per Swin V2 block its continuous position bias; per head
size Hugging Face's Llama 3 inv_freq.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
import torchaudio
import torchvision
from torchvision.models import swin_transformer as swin

# Shared with the other fixture scripts (make.sh copies them beside this one).
from make_fixtures import stock_weights as mha_weights, tensor_json
from make_positions import hf_inv_freq, hf_llama3 as hf_llama3_scaling

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(27)
expected = {"pytorch": torch.__version__, "torchvision": torchvision.__version__,
            "torchaudio": torchaudio.__version__, "models": {}, "tables": {}, "llama3": [], "swin_v2_bias": {}}


def record(name, sites, example, how, counted=None):
    expected["models"][name] = {"how": how, "input": tensor_json(example),
                                "sites": {k: v.tolist() for k, v in sites.items()}}
    if counted is not None:
        # What PyTorch counts in the saved module (scripting drops wav2vec2's
        # weight_norm; tied parameters are counted once).
        expected["models"][name]["parameters"] = sum(p.numel() for p in counted.parameters())
        expected["models"][name]["buffers"] = sum(b.numel() for b in counted.buffers())


def save(name, module, example, sites, how="script"):
    module.eval()
    if how == "script":
        saved = torch.jit.script(module)
    else:
        with torch.no_grad():
            saved = torch.jit.trace(module, example, check_trace=False)
    saved.save(os.path.join(OUT, name))
    record(name, sites, example, how, saved)


def pre_hook_sites(model, x, matches, weights_of):
    """weights_of(module, its input) for every module `matches` accepts, by
    module path: the weights recomputed from the module's own projections."""
    sites = {}
    hooks = [m.register_forward_pre_hook(lambda m, args, name=name: sites.__setitem__(name, weights_of(m, args[0])))
             for name, m in model.named_modules() if matches(m)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return sites


# --- torchaudio: wav2vec2 and HuBERT (SDPA), Conformer (nn.MultiheadAttention), Emformer (its own softmax)

def wav2vec2_like(hubert):
    # torchaudio's hubert_base is wav2vec2_model with group-norm features and
    # post-norm layers; the large ones use layer-norm features and pre-norm.
    return torchaudio.models.wav2vec2_model(
        extractor_mode="layer_norm" if hubert else "group_norm",
        extractor_conv_layer_config=[(16, 10, 5), (16, 3, 2), (16, 2, 2)], extractor_conv_bias=hubert,
        encoder_embed_dim=32, encoder_projection_dropout=0.0, encoder_pos_conv_kernel=16,
        encoder_pos_conv_groups=4, encoder_num_layers=2, encoder_num_heads=4, encoder_attention_dropout=0.0,
        encoder_ff_interm_features=64, encoder_ff_interm_dropout=0.0, encoder_dropout=0.0,
        encoder_layer_norm_first=hubert, encoder_layer_drop=0.0, aux_num_out=None).eval()


def wav2vec2_attention(m, h):
    """softmax(Q K^T / sqrt(d)) of a wav2vec2 SelfAttention, from its own projections."""
    b, s, _ = h.shape
    q = m.q_proj(h).view(b, s, m.num_heads, m.head_dim).transpose(1, 2)
    k = m.k_proj(h).view(b, s, m.num_heads, m.head_dim).transpose(1, 2)
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(m.head_dim), dim=-1)


def sdpa_weights(model, x):
    return pre_hook_sites(model, x, lambda m: type(m).__name__ == "SelfAttention", wav2vec2_attention)


class Wav2vec2Features(torch.nn.Module):
    """The encoder's output only (torchaudio returns a tuple with lengths)."""

    def __init__(self, hubert):
        super().__init__()
        self.model = wav2vec2_like(hubert)

    def forward(self, waveform):
        return self.model(waveform)[0]


class WithLengths(torch.nn.Module):
    """Conformer and Emformer take (features, lengths); every row is whole here."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, features):
        lengths = torch.full((features.size(0),), features.size(1), dtype=torch.long)
        return self.inner(features, lengths)[0]


def emformer_weights(model, x):
    from torchaudio.models.emformer import _EmformerAttention
    names = {id(m): n for n, m in model.named_modules()}
    original = _EmformerAttention._gen_attention_probs
    sites = {}

    def probs(self, weights, mask, padding):
        p = original(self, weights, mask, padding)
        b = p.size(0) // self.num_heads
        sites[names[id(self)]] = p.detach().view(b, self.num_heads, p.size(1), p.size(2))
        return p

    _EmformerAttention._gen_attention_probs = probs
    try:
        with torch.no_grad():
            model(x)
    finally:
        _EmformerAttention._gen_attention_probs = original
    return sites


wave = torch.randn(1, 400)
for hubert in (False, True):
    m = Wav2vec2Features(hubert).eval()
    name = "hubert" if hubert else "wav2vec2"
    save(name + ".pt", m, wave, sdpa_weights(m, wave))
    save(name + "_trace.pt", m, wave, sdpa_weights(m, wave), how="trace")
    conv = m.model.encoder.transformer.pos_conv_embed.conv
    expected["tables"][name] = {"pos_conv": list(conv.weight.shape)}

features = torch.randn(1, 12, 16)
m = WithLengths(torchaudio.models.Conformer(input_dim=16, num_heads=4, ffn_dim=32, num_layers=2,
                                            depthwise_conv_kernel_size=3)).eval()
save("conformer.pt", m, features, mha_weights(m, features))
save("conformer_trace.pt", m, features, mha_weights(m, features), how="trace")

m = WithLengths(torchaudio.models.Emformer(input_dim=16, num_heads=4, ffn_dim=32, num_layers=2, segment_length=4,
                                           right_context_length=1)).eval()
features = torch.randn(1, 13, 16)  # 12 frames and 1 of right context
save("emformer.pt", m, features, emformer_weights(m, features))


# --- language models with learned absolute positions (GPT-2, BERT, OPT), tied weights

class Gpt2Block(torch.nn.Module):
    def __init__(self, d, heads, n_ctx):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(d)
        self.c_attn = torch.nn.Linear(d, 3 * d)
        self.c_proj = torch.nn.Linear(d, d)
        self.ln_2 = torch.nn.LayerNorm(d)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(d, 4 * d), torch.nn.GELU(), torch.nn.Linear(4 * d, d))
        self.heads = heads
        # As GPT-2 keeps it: a bool lower triangle, saved with the weights.
        self.register_buffer("bias", torch.tril(torch.ones(n_ctx, n_ctx, dtype=torch.bool)).view(1, 1, n_ctx, n_ctx))

    def attention(self, x):
        b, s, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q = q.view(b, s, self.heads, d // self.heads).transpose(1, 2)
        k = k.view(b, s, self.heads, d // self.heads).transpose(1, 2)
        v = v.view(b, s, self.heads, d // self.heads).transpose(1, 2)
        w = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads)
        w = w.masked_fill(~self.bias[:, :, :s, :s], float("-inf"))
        w = torch.softmax(w, dim=-1)
        return w, (w @ v).transpose(1, 2).reshape(b, s, d)

    def forward(self, x):
        x = x + self.c_proj(self.attention(x)[1])
        return x + self.mlp(self.ln_2(x))


class Gpt2(torch.nn.Module):
    """GPT-2's layout: wte, wpe (learned positions), h.N blocks, ln_f, and an
    lm_head tied to wte. Input: token ids [batch, seq]."""

    def __init__(self, vocab=50, n_ctx=32, d=32, heads=4, layers=2):
        super().__init__()
        self.wte = torch.nn.Embedding(vocab, d)
        self.wpe = torch.nn.Embedding(n_ctx, d)
        self.h = torch.nn.ModuleList([Gpt2Block(d, heads, n_ctx) for _ in range(layers)])
        self.ln_f = torch.nn.LayerNorm(d)
        self.lm_head = torch.nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, tokens):
        positions = torch.arange(tokens.size(1), device=tokens.device)
        x = self.wte(tokens) + self.wpe(positions)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def gpt2_weights(model, tokens):
    return pre_hook_sites(model, tokens, lambda m: isinstance(m, Gpt2Block), lambda m, h: m.attention(h)[0])


tokens = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]])
gpt2 = Gpt2().eval()
with torch.no_grad():  # a trained table is smooth; a fresh one is noise: make it a little of both
    gpt2.wpe.weight.copy_(torch.sin(torch.arange(32).view(-1, 1) * torch.linspace(0.02, 1.0, 32).view(1, -1))
                          + 0.05 * torch.randn(32, 32))
save("gpt2.pt", gpt2, tokens, gpt2_weights(gpt2, tokens))
torch.save(gpt2.state_dict(), os.path.join(OUT, "gpt2_state.pt"))
expected["tables"]["gpt2"] = {"wpe": gpt2.wpe.weight.tolist()}
expected["gpt2_state"] = {
    "parameters": sum(p.numel() for p in gpt2.parameters()),  # counts the tied weight once
    "buffers": sum(b.numel() for b in gpt2.buffers()),
    "tied": ["lm_head.weight", "wte.weight"]}

# torch.export with a sequence length of 2 to 24 tokens.
seq = torch.export.Dim("seq", min=2, max=24)
program = torch.export.export(gpt2, (tokens,), dynamic_shapes={"tokens": {1: seq}})
torch.export.save(program, os.path.join(OUT, "gpt2_dynamic.pt2"))
record("gpt2_dynamic.pt2", gpt2_weights(gpt2, tokens), tokens, "export")


class BertEmbeddings(torch.nn.Module):
    def __init__(self, vocab=40, n_pos=64, d=32):
        super().__init__()
        self.word_embeddings = torch.nn.Embedding(vocab, d)
        self.position_embeddings = torch.nn.Embedding(n_pos, d)
        self.token_type_embeddings = torch.nn.Embedding(2, d)
        self.LayerNorm = torch.nn.LayerNorm(d)
        self.register_buffer("position_ids", torch.arange(n_pos).expand((1, -1)))


class Bert(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embeddings = BertEmbeddings()
        layer = torch.nn.TransformerEncoderLayer(32, 4, 64, 0.0, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)


class OptLearnedPositions(torch.nn.Embedding):
    """OPT's and BART's table: two rows more than the context, looked up at position + 2."""

    def __init__(self, n_pos, d):
        super().__init__(n_pos + 2, d)


class OptDecoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(40, 32)
        self.embed_positions = OptLearnedPositions(48, 32)


class Opt(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.decoder = OptDecoder()


bert, opt = Bert(), Opt()
torch.save(bert.state_dict(), os.path.join(OUT, "bert_state.pt"))
torch.save({"model": opt.state_dict()}, os.path.join(OUT, "opt_checkpoint.pt"))
expected["tables"]["bert"] = {"shape": list(bert.embeddings.position_embeddings.weight.shape)}
expected["tables"]["opt"] = {"shape": list(opt.decoder.embed_positions.weight.shape)}


# --- vision: Swin V2 (continuous position bias), MaxViT (grid attention), ViT

def swin_v2():
    return torchvision.models.SwinTransformer(
        patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4],
        stochastic_depth_prob=0.0, num_classes=10, block=swin.SwinTransformerBlockV2,
        downsample_layer=swin.PatchMergingV2).eval()


def softmax_sites(model, x, kinds, shape):
    """The output of every F.softmax called inside a module of `kinds`
    (torchvision's Swin V2 and MaxViT form their weights so), by module path,
    as [batch*windows, heads, query, key]."""
    current, sites, hooks = [], {}, []
    for name, mod in model.named_modules():
        if isinstance(mod, kinds):
            hooks.append(mod.register_forward_pre_hook(lambda m, a, name=name: current.append(name)))
            hooks.append(mod.register_forward_hook(lambda m, a, o: current.pop() and None))  # returns None: output kept
    original = F.softmax

    def recording(t, *args, **kwargs):
        y = original(t, *args, **kwargs)
        if current:
            sites[current[-1]] = shape(y.detach())
        return y

    torch.nn.functional.softmax = recording
    try:
        with torch.no_grad():
            model(x)
    finally:
        torch.nn.functional.softmax = original
        for h in hooks:
            h.remove()
    return sites


image = torch.randn(1, 3, 32, 32)
m = swin_v2()
v2_sites = softmax_sites(m, image, swin.ShiftedWindowAttentionV2, lambda w: w)
save("swin_v2.pt", m, image, v2_sites)
save("swin_v2_trace.pt", m, image, v2_sites, how="trace")
with torch.no_grad():
    for name, mod in m.named_modules():
        if isinstance(mod, swin.ShiftedWindowAttentionV2):
            expected["swin_v2_bias"][name] = mod.get_relative_position_bias()[0].tolist()

maxvit = torchvision.models.MaxVit(input_size=(32, 32), stem_channels=8, partition_size=4, block_channels=[16],
                                   block_layers=[1], head_dim=8, stochastic_depth_prob=0.0, num_classes=10).eval()
from torchvision.models.maxvit import RelativePositionalMultiHeadAttention
save("maxvit_trace.pt", maxvit, image,
     softmax_sites(maxvit, image, RelativePositionalMultiHeadAttention, lambda w: w.flatten(0, 1)), how="trace")


# --- Hugging Face's Llama 3 inv_freq for head sizes from 16 up

def hf_llama3(d_head, base=500000.0, factor=8.0, low=1.0, high=4.0, original=8192):
    """Hugging Face's Llama 3 vector for a head size, in float32."""
    return hf_llama3_scaling(hf_inv_freq(d_head, base), factor, low, high, original)


class LlamaAttention(torch.nn.Module):
    """Llama's attention: rotary positions from a Llama 3 inv_freq buffer,
    grouped-query heads, causal SDPA."""

    def __init__(self, d=128, heads=4, kv_heads=2):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, d // heads
        self.q_proj = torch.nn.Linear(d, d, bias=False)
        self.k_proj = torch.nn.Linear(d, kv_heads * self.head_dim, bias=False)
        self.v_proj = torch.nn.Linear(d, kv_heads * self.head_dim, bias=False)
        self.o_proj = torch.nn.Linear(d, d, bias=False)
        self.register_buffer("inv_freq", hf_llama3(self.head_dim), persistent=True)

    def rotate(self, x, positions):
        angles = positions.float().view(-1, 1) * self.inv_freq.view(1, -1)
        cos, sin = torch.cat([angles.cos()] * 2, dim=-1), torch.cat([angles.sin()] * 2, dim=-1)
        half = x.size(-1) // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rotated * sin

    def project(self, x):
        b, s, _ = x.shape
        positions = torch.arange(s, device=x.device)
        q = self.rotate(self.q_proj(x).view(b, s, self.heads, self.head_dim).transpose(1, 2), positions)
        k = self.rotate(self.k_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2), positions)
        v = self.v_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        return q, k, v

    def forward(self, x):
        q, k, v = self.project(x)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        return self.o_proj(y.transpose(1, 2).reshape(x.shape))

    def weights(self, x):
        q, k, _ = self.project(x)
        k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
        s = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        n = s.size(-1)
        s = s.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), float("-inf"))
        return torch.softmax(s, dim=-1)


class LlamaLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm = torch.nn.RMSNorm(128)
        self.self_attn = LlamaAttention()
        self.post_attention_layernorm = torch.nn.RMSNorm(128)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(128, 256, bias=False), torch.nn.SiLU(),
                                       torch.nn.Linear(256, 128, bias=False))

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(torch.nn.Module):
    """Input: token ids [batch, seq]."""

    def __init__(self):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(64, 128)
        self.layers = torch.nn.ModuleList([LlamaLayer() for _ in range(2)])
        self.norm = torch.nn.RMSNorm(128)
        self.lm_head = torch.nn.Linear(128, 64, bias=False)

    def forward(self, tokens):
        x = self.embed_tokens(tokens)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


def llama_weights(model, tokens):
    return pre_hook_sites(model, tokens, lambda m: isinstance(m, LlamaAttention), lambda m, h: m.weights(h))


llama = Llama().eval()
tokens = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]])
save("llama.pt", llama, tokens, llama_weights(llama, tokens))
# Traced under no_grad, its SDPA call carries all eight arguments
# (scale=None, enable_gqa=True), as a traced Llama's does.
save("llama_trace.pt", llama, tokens, llama_weights(llama, tokens), how="trace")
seq = torch.export.Dim("seq", min=2, max=1024)
torch.export.save(torch.export.export(llama, (tokens,), dynamic_shapes={"tokens": {1: seq}}),
                  os.path.join(OUT, "llama_dynamic.pt2"))
record("llama_dynamic.pt2", llama_weights(llama, tokens), tokens, "export")

buffers = {}
for d_head in (16, 24, 32, 48, 64, 96, 128):
    for factor, original in ((8.0, 8192), (32.0, 8192)):
        inv = hf_llama3(d_head, factor=factor, original=original)
        expected["llama3"].append({"d_head": d_head, "factor": factor, "original": original, "base": 500000.0,
                                   "low_freq_factor": 1.0, "high_freq_factor": 4.0, "inv_freq": inv.tolist()})
        buffers["layers.d%d_x%d.rotary_emb.inv_freq" % (d_head, int(factor))] = inv
torch.save(buffers, os.path.join(OUT, "llama3_heads.pt"))


# --- Cross-attention: learned queries attend to the tokens (as DETR's decoder,
# Perceiver and Q-Former do), so queries and keys are different sequences.

class LearnedQueries(torch.nn.Module):
    def __init__(self, vocab=40, d=32, queries=6, heads=4):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, d)
        self.queries = torch.nn.Parameter(torch.randn(queries, 1, d))
        self.cross_attn = torch.nn.MultiheadAttention(d, heads)
        self.self_attn = torch.nn.MultiheadAttention(d, heads)

    def forward(self, tokens):  # [T, 1], seq-first
        x = self.embed(tokens)
        q, _ = self.cross_attn(self.queries, x, x, need_weights=False)
        out, _ = self.self_attn(q, q, q, need_weights=False)
        return out


def learned_queries_weights(model, tokens):
    with torch.no_grad():
        x = model.embed(tokens)
        q, cross = model.cross_attn(model.queries, x, x, need_weights=True, average_attn_weights=False)
        _, own = model.self_attn(q, q, q, need_weights=True, average_attn_weights=False)
    return {"cross_attn": cross, "self_attn": own}


cross = LearnedQueries().eval()
tokens = torch.tensor([[3], [1], [4], [1], [5], [9], [2], [6], [5], [3], [5]])
save("cross_attention.pt", cross, tokens, learned_queries_weights(cross, tokens))

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f)
