#!/usr/bin/env python3
"""Which operators do TorchScript files made by this PyTorch name? Scripts
every torch.nn layer that scripts (built with small arguments), and scripts
and traces (with and without grad, in eval mode) torchvision's models; writes
the operators each file's inlined graph calls, and the files themselves (to
FILES_DIR: some 10 GB), so that a LibTorch can be asked whether it loads them.

    survey.py OUT.json [FILES_DIR]
"""
import inspect
import json
import os
import sys

import torch
import torchvision

# Arguments that build each layer small; a layer not listed is tried with none.
ARGS = {
    "Linear": (8, 8), "Bilinear": (8, 8, 8), "LazyLinear": (8,),
    "Conv1d": (3, 8, 3), "Conv2d": (3, 8, 3), "Conv3d": (3, 8, 3),
    "ConvTranspose1d": (3, 8, 3), "ConvTranspose2d": (3, 8, 3), "ConvTranspose3d": (3, 8, 3),
    "BatchNorm1d": (8,), "BatchNorm2d": (8,), "BatchNorm3d": (8,), "SyncBatchNorm": (8,),
    "InstanceNorm1d": (8,), "InstanceNorm2d": (8,), "InstanceNorm3d": (8,),
    "LayerNorm": (8,), "GroupNorm": (2, 8), "RMSNorm": (8,), "LocalResponseNorm": (2,),
    "Embedding": (10, 8), "EmbeddingBag": (10, 8),
    "RNN": (8, 8), "LSTM": (8, 8), "GRU": (8, 8), "RNNCell": (8, 8), "LSTMCell": (8, 8), "GRUCell": (8, 8),
    "MultiheadAttention": (8, 2), "TransformerEncoderLayer": (8, 2), "TransformerDecoderLayer": (8, 2),
    "Transformer": (8, 2),
    "MaxPool1d": (2,), "MaxPool2d": (2,), "MaxPool3d": (2,), "AvgPool1d": (2,), "AvgPool2d": (2,),
    "AvgPool3d": (2,), "LPPool1d": (2, 2), "LPPool2d": (2, 2), "LPPool3d": (2, 2),
    "AdaptiveAvgPool1d": (2,), "AdaptiveAvgPool2d": (2,), "AdaptiveAvgPool3d": (2,),
    "AdaptiveMaxPool1d": (2,), "AdaptiveMaxPool2d": (2,), "AdaptiveMaxPool3d": (2,),
    "FractionalMaxPool2d": (2,), "FractionalMaxPool3d": (2,),
    "ConstantPad1d": (1, 0.0), "ConstantPad2d": (1, 0.0), "ConstantPad3d": (1, 0.0),
    "ReflectionPad1d": (1,), "ReflectionPad2d": (1,), "ReflectionPad3d": (1,),
    "ReplicationPad1d": (1,), "ReplicationPad2d": (1,), "ReplicationPad3d": (1,),
    "ZeroPad1d": (1,), "ZeroPad2d": (1,), "ZeroPad3d": (1,), "CircularPad1d": (1,), "CircularPad2d": (1,),
    "CircularPad3d": (1,), "PixelShuffle": (2,), "PixelUnshuffle": (2,), "ChannelShuffle": (2,),
    "Upsample": (None, 2.0), "UpsamplingNearest2d": (None, 2.0), "UpsamplingBilinear2d": (None, 2.0),
    "Fold": ((4, 4), (2, 2)), "Unfold": ((2, 2),), "Flatten": (), "Unflatten": (1, (2, 4)),
    "PReLU": (), "Softmax": (-1,), "LogSoftmax": (-1,), "Softmin": (-1,), "GLU": (), "Threshold": (0.1, 0.0),
    "Hardtanh": (), "CosineSimilarity": (), "PairwiseDistance": (), "AdaptiveLogSoftmaxWithLoss": (8, 10, [4]),
}

# The largest variants repeat the architecture of a smaller one (same code,
# same operators) and take minutes and gigabytes to build: left out.
GIANTS = ("vit_h_", "vit_l_", "regnet_y_128gf", "regnet_y_32gf", "regnet_y_16gf", "regnet_x_32gf")


def operators(module):
    kinds = set()

    def walk(block):
        for node in block.nodes():
            kinds.add(node.kind())
            for inner in node.blocks():
                walk(inner)

    for method in ("forward",):
        if hasattr(module, method):
            graph = getattr(module, method).inlined_graph if hasattr(getattr(module, method), "inlined_graph") \
                else module.inlined_graph
            walk(graph)
    return sorted(k for k in kinds if k.startswith("aten::"))


def main():
    out = sys.argv[1]
    files = sys.argv[2] if len(sys.argv) > 2 else None
    if files:
        os.makedirs(files, exist_ok=True)
    result = {"pytorch": torch.__version__, "torchvision": torchvision.__version__, "files": {}, "failed": {}}

    def keep(name, saved):
        result["files"][name] = operators(saved)
        if files:
            saved.save(os.path.join(files, name + ".pt"))

    for name, cls in sorted(inspect.getmembers(torch.nn, inspect.isclass)):
        if not issubclass(cls, torch.nn.Module) or name.startswith("_") or "Loss" in name or name.startswith("Lazy"):
            continue
        try:
            module = cls(*ARGS.get(name, ())).eval()
            keep("nn." + name, torch.jit.script(module))
        except Exception as e:  # noqa: BLE001 - many layers do not script; the survey says which
            result["failed"]["nn." + name] = type(e).__name__ + ": " + str(e).strip().split("\n")[0][:200]

    torch.manual_seed(0)
    for name in sorted(torchvision.models.list_models(module=torchvision.models)):
        if any(big in name for big in GIANTS):
            continue
        try:
            model = torchvision.models.get_model(name, weights=None).eval()
        except Exception as e:  # noqa: BLE001
            result["failed"]["tv." + name] = type(e).__name__ + ": " + str(e)[:200]
            continue
        size = 299 if name.startswith("inception") else 224
        x = torch.randn(1, 3, size, size)
        for how in ("script", "trace_grad", "trace_nograd"):
            label = "tv.%s.%s" % (name, how)
            try:
                if how == "script":
                    saved = torch.jit.script(model)
                elif how == "trace_grad":
                    saved = torch.jit.trace(model, x, check_trace=False, strict=False)
                else:
                    with torch.no_grad():
                        saved = torch.jit.trace(model, x, check_trace=False, strict=False)
                keep(label, saved)
            except Exception as e:  # noqa: BLE001
                result["failed"][label] = type(e).__name__ + ": " + str(e).strip().split("\n")[0][:200]
        print("survey:", name, file=sys.stderr, flush=True)

    with open(out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
