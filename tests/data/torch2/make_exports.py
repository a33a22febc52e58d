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


def small_resnet():
    """torchvision's ResNet with two BasicBlocks of 8 and 16 channels (the
    stock ones start at 64: 45 MB), batch norm in eval mode."""
    from torchvision.models.resnet import BasicBlock, ResNet

    class Small(ResNet):
        def __init__(self):
            super().__init__(BasicBlock, [1, 1, 1, 1], num_classes=10)
            self.inplanes = 8
            self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(8)
            self.layer1 = self._make_layer(BasicBlock, 8, 1)
            self.layer2 = self._make_layer(BasicBlock, 16, 1, stride=2)
            self.layer3 = torch.nn.Identity()
            self.layer4 = torch.nn.Identity()
            self.fc = torch.nn.Linear(16, 10)

    m = Small()
    # Running statistics that are not the defaults, so that eval mode shows.
    for module in m.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    return m


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(62)
    expected = {"pytorch": torch.__version__, "models": {}}

    def save(name, module, example, sites, dynamic=None, run_on=None):
        """Exports `module` on `example` (with `dynamic` shapes, if given);
        the references are for `run_on` (default: the example)."""
        module.eval()
        program = torch.export.export(module, (example,), dynamic_shapes=dynamic)
        path = os.path.join(out_dir, "pt2_%s.pt2" % name)
        torch.export.save(program, path)
        run_on = example if run_on is None else run_on
        with torch.no_grad():
            output = module(run_on)
        expected["models"][os.path.basename(path)] = {
            "input": tensor_json(run_on), "example_is_input": run_on is example, "output": tensor_json(output),
            "sites": {k: v.tolist() for k, v in sites.items()},
            "params": sum(p.numel() for p in module.parameters()),
            "ops": sorted({n.target.__name__ for n in program.graph.nodes if n.op == "call_function"})}

    tokens = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]])
    seq_first = tokens.t().contiguous()
    m = Encoder(False).eval()
    save("encoder", m, tokens, stock_weights(m, tokens))
    # The sequence length left symbolic: sym_size nodes, sizes computed at run time.
    longer = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]])
    save("encoder_dynamic", m, tokens, stock_weights(m, longer),
         dynamic={"tokens": {1: torch.export.Dim("length", min=2, max=512)}}, run_on=longer)
    m = ExportedWordLM().eval()
    save("word_lm", m, seq_first, stock_weights(m, seq_first))
    m = vit().eval()
    image = torch.randn(1, 3, 32, 32)
    save("vit", m, image, stock_weights(m, image))
    m = small_resnet().eval()
    save("resnet", m, torch.randn(1, 3, 32, 32), {})
    for kind in ("plain", "causal"):
        m = SdpaBlock(kind).eval()
        with torch.no_grad():
            w = m.weights(tokens)
        save("sdpa_" + kind, m, tokens, {"": w})

    with open(os.path.join(out_dir, "expected_pt2.json"), "w") as f:
        json.dump(expected, f)
    make_bad(os.path.join(out_dir, "pt2_sdpa_plain.pt2"), out_dir)


def make_bad(source, out_dir):
    """Damaged programs every subcommand must refuse (exit 3, one line):
    bad_pt2_*.pt2, moved to tests/data/bad by make.sh; and the same program
    with deflated entries, which must run."""
    import zipfile
    name = "serialized_exported_program.json"

    def rewrite(target, change=None, compress=False, name_as="bad_pt2_%s.pt2"):
        with zipfile.ZipFile(source) as src, zipfile.ZipFile(
                os.path.join(out_dir, name_as % target), "w",
                zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as dst:
            for item in src.infolist():
                data = src.read(item.filename)
                if change and item.filename.endswith(name):
                    program = json.loads(data)
                    change(program)
                    data = json.dumps(program).encode()
                dst.writestr(item.filename, data)

    def nodes(program):
        return program["graph_module"]["graph"]["nodes"]

    def undefined(program):
        nodes(program)[2]["inputs"][0]["arg"] = {"as_tensor": {"name": "defined_nowhere"}}

    def unknown_operator(program):
        nodes(program)[1]["target"] = "torch.ops.aten.linear_v9.default"

    def wrong_kind(program):
        linear = next(n for n in nodes(program) if n["target"] == "torch.ops.aten.linear.default")
        linear["inputs"][1]["arg"] = {"as_string": "weight"}

    def version(program):
        program["schema_version"]["major"] = 99

    rewrite("undefined_value", undefined)
    rewrite("unknown_operator", unknown_operator)
    rewrite("wrong_argument_kind", wrong_kind)
    rewrite("schema_version", version)
    # Not damaged: Python's zipfile and PyTorch read deflated entries, and so does pevis.
    rewrite("deflated", compress=True, name_as="pt2_sdpa_plain_%s.pt2")
    data = open(source, "rb").read()
    open(os.path.join(out_dir, "bad_pt2_truncated.pt2"), "wb").write(data[: len(data) * 2 // 3])


if __name__ == "__main__":
    main()
