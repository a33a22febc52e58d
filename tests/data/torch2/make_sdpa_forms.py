"""Every form of a scaled_dot_product_attention call that PyTorch 2.6 saves,
in a Llama-style block (grouped-query heads or not, a causal flag or a mask,
a scale or none), scripted, traced with and without grad, and exported with
torch.export; with the weights PyTorch's documented definition gives.

Run by make.sh in the Debian 13 root:  python3 make_sdpa_forms.py OUT_DIR
Writes v26_form_*.pt, pt2_form_*.pt2 and expected_forms.json."""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

# Shared with the other fixture scripts (make.sh copies them beside each other).
from make_fixtures import sdpa_weights, tensor_json

TOKENS = [3, 1, 4, 1, 5, 9, 2, 6]

# name: (kv heads, is_causal, scale, mask, how the call is written)
FORMS = {
    # A traced Llama under no_grad: all eight arguments, scale=None, enable_gqa=True.
    "gqa_causal": (2, True, None, None, "all"),
    "gqa_scale_mask": (2, False, 0.3, "float", "all"),
    "gqa_bool_mask": (1, False, None, "bool", "all"),
    # enable_gqa given as False, and left out (seven arguments, as PyTorch 2.1 to 2.4 wrote).
    "mha_gqa_false": (4, True, 0.25, None, "all"),
    "mha_seven": (4, False, 0.3, "float", "seven"),
    "mha_positional": (4, True, None, None, "positional"),
}


class Attention(nn.Module):
    def __init__(self, kv_heads, causal, scale, mask, how):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = 4, kv_heads, 4
        self.q_proj = nn.Linear(16, 16)
        self.k_proj = nn.Linear(16, kv_heads * 4)
        self.v_proj = nn.Linear(16, kv_heads * 4)
        self.o_proj = nn.Linear(16, 16)
        self.causal, self.scale, self.how = causal, scale, how
        n = len(TOKENS)
        distance = (torch.arange(n).view(1, n) - torch.arange(n).view(n, 1)).abs().float()
        self.register_buffer("bool_mask", distance <= 2)
        self.register_buffer("float_mask", -0.5 * distance.view(1, 1, n, n))
        self.mask_kind = mask or ""

    def project(self, x):
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, self.heads, 4).transpose(1, 2)
        k = self.k_proj(x).view(b, s, self.kv_heads, 4).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.kv_heads, 4).transpose(1, 2)
        return q, k, v

    def mask(self):
        if self.mask_kind == "bool":
            return self.bool_mask
        if self.mask_kind == "float":
            return self.float_mask
        return None

    def forward(self, x):
        q, k, v = self.project(x)
        gqa = self.kv_heads != self.heads
        if self.how == "seven":
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask(), dropout_p=0.0,
                                               is_causal=self.causal, scale=self.scale)
        elif self.how == "positional":
            y = F.scaled_dot_product_attention(q, k, v, None, 0.0, True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask(), dropout_p=0.0,
                                               is_causal=self.causal, scale=self.scale, enable_gqa=gqa)
        b, h, s, d = y.shape
        return self.o_proj(y.transpose(1, 2).reshape(b, s, h * d))

    def weights(self, x):
        q, k, _ = self.project(x)
        return sdpa_weights(q, k, self.scale, self.causal, self.mask())


class Block(nn.Module):
    """Embedding, then one attention layer as `self_attn` on a residual
    path, as in a Llama layer: the residual is computed around the call."""

    def __init__(self, *form):
        super().__init__()
        self.embed = nn.Embedding(10, 16)
        self.self_attn = Attention(*form)

    def forward(self, tokens):
        x = self.embed(tokens)
        return x + self.self_attn(x)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(2026)
    tokens = torch.tensor([TOKENS, TOKENS[::-1]])
    expected = {"pytorch": torch.__version__, "models": {}}
    for name, form in FORMS.items():
        model = Block(*form).eval()
        with torch.no_grad():
            output = model(tokens)
            sites = {"self_attn": model.self_attn.weights(model.embed(tokens)).tolist()}
        saved = {
            "script": lambda: torch.jit.script(model),
            "trace_grad": lambda: torch.jit.trace(model, tokens, check_trace=False),
        }
        with torch.no_grad():
            nograd = torch.jit.trace(model, tokens, check_trace=False)
        files = {"v26_form_%s_script.pt" % name: saved["script"](),
                 "v26_form_%s_trace_grad.pt" % name: saved["trace_grad"](),
                 "v26_form_%s_trace_nograd.pt" % name: nograd}
        for file, module in files.items():
            module.save(os.path.join(out, file))
        program = torch.export.export(model, (tokens,))
        pt2 = "pt2_form_%s.pt2" % name
        torch.export.save(program, os.path.join(out, pt2))
        for file in list(files) + [pt2]:
            expected["models"][file] = {"input": tensor_json(tokens), "output": tensor_json(output),
                                        "sites": sites}
    with open(os.path.join(out, "expected_forms.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main()
