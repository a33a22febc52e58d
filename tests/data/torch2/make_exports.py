#!/usr/bin/env python3
"""torch.export programs (.pt2) made by PyTorch 2.6, and their references.
Run by make.sh inside the Debian 13 root.

    make_exports.py OUT_DIR

Writes pt2_<name>.pt2 and expected_pt2.json: per file its example input,
PyTorch's output for it, the attention weights of every site by module path
([batch, heads, target, source]), and the parameter count PyTorch gives.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import Encoder, SdpaBlock, WordLM, stock_weights, tensor_json, vit  # noqa: E402


class ExportedWordLM(WordLM):
    """The word-language model as it must be written for torch.export: the
    mask is known to be causal (export cannot look at its values)."""

    def forward(self, src):
        src = self.pos_encoder(self.encoder(src) * math.sqrt(self.ninp))
        mask = self.mask(src.size(0))
        output = self.transformer_encoder(src, mask, is_causal=True)
        return F.log_softmax(self.decoder(output), dim=-1)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(62)
    expected = {"pytorch": torch.__version__, "models": {}}

    def save(name, module, example, sites, pe=None):
        module.eval()
        program = torch.export.export(module, (example,))
        path = os.path.join(out_dir, "pt2_%s.pt2" % name)
        torch.export.save(program, path)
        with torch.no_grad():
            output = module(example)
        expected["models"][os.path.basename(path)] = {
            "input": tensor_json(example), "output": tensor_json(output),
            "sites": {k: v.tolist() for k, v in sites.items()},
            "params": sum(p.numel() for p in module.parameters()),
            "ops": sorted({n.target.__name__ for n in program.graph.nodes if n.op == "call_function"})}

    tokens = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]])
    seq_first = tokens.t().contiguous()
    m = Encoder(False).eval()
    save("encoder", m, tokens, stock_weights(m, tokens))
    m = ExportedWordLM().eval()
    save("word_lm", m, seq_first, stock_weights(m, seq_first))
    m = vit().eval()
    image = torch.randn(1, 3, 32, 32)
    save("vit", m, image, stock_weights(m, image))
    m = torchvision.models.resnet18(num_classes=10).eval()
    save("resnet18", m, torch.randn(1, 3, 32, 32), {})
    for kind in ("plain", "causal"):
        m = SdpaBlock(kind).eval()
        with torch.no_grad():
            w = m.weights(tokens)
        save("sdpa_" + kind, m, tokens, {"": w})

    with open(os.path.join(out_dir, "expected_pt2.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main()
