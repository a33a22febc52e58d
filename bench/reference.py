#!/usr/bin/env python3
"""The Python way of doing each benchmark job, for comparison with pevis:
PyTorch computes, matplotlib (Agg) draws a figure of the same pixel size as
pevis's, and the numbers are written as CSV, as pevis writes them.

    reference.py encoding D L OUT
    reference.py bias MODEL OUT
    reference.py attention MODEL TOKENS OUT
    reference.py summary MODEL SHAPE OUT
"""
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

DPI = 100
SIZE = (12, 8)  # 1200 x 800 pixels, pevis's default


def encoding(d_model, max_len, out):
    """pevis encoding draws three figures: the table, six dimensions over the
    first 256 positions, and the dot products of those positions."""
    pe = torch.zeros(max_len, d_model)
    position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    fig, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    image = ax.imshow(pe.numpy(), aspect="auto", cmap="viridis", vmin=-1, vmax=1, interpolation="antialiased")
    ax.set_xlabel("dimension")
    ax.set_ylabel("position")
    fig.colorbar(image, ax=ax)
    fig.savefig(os.path.join(out, "encoding.png"))
    plt.close(fig)
    np.savetxt(os.path.join(out, "encoding.csv"), pe.numpy(), delimiter=",", fmt="%.9g")

    window = pe[:256]
    dims = [0, 1, d_model // 8, d_model // 4, d_model // 2, d_model - 2]
    fig, axes = plt.subplots(3, 2, figsize=SIZE, dpi=DPI, squeeze=False)
    for ax, d in zip(axes.flat, dims):
        ax.plot(np.arange(len(window)), window[:, d].numpy())
        ax.set_title(f"dim {d}", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "encoding-dims.png"))
    plt.close(fig)
    np.savetxt(os.path.join(out, "encoding-dims.csv"), window[:, dims].numpy(), delimiter=",", fmt="%.9g")

    similarity = (window @ window.T).numpy()
    fig, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    image = ax.imshow(similarity, aspect="auto", cmap="viridis", interpolation="antialiased")
    fig.colorbar(image, ax=ax)
    fig.savefig(os.path.join(out, "encoding-similarity.png"))
    plt.close(fig)
    np.savetxt(os.path.join(out, "encoding-similarity.csv"), similarity, delimiter=",", fmt="%.9g")


def bias(model_path, out):
    model = torch.jit.load(model_path)
    biases = [(n, p.detach().float().numpy()) for n, p in model.named_parameters() if n.endswith("bias") and p.dim() == 1]
    cols = 4
    for page in range(0, len(biases), 12):
        chunk = biases[page:page + 12]
        rows = math.ceil(len(chunk) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=SIZE, dpi=DPI, squeeze=False)
        for ax, (name, values) in zip(axes.flat, chunk):
            ax.scatter(np.arange(len(values)), values, s=4)
            ax.set_title(f"{name} ({len(values)})", fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, f"bias-{page // 12 + 1}.png"))
        plt.close(fig)
    with open(os.path.join(out, "bias.csv"), "w") as f:
        f.write("layer,index,value\n")
        for name, values in biases:
            for i, v in enumerate(values):
                f.write(f"{name},{i},{v!r}\n")
    # pevis also draws the distributions as box plots and writes statistics.
    fig, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    ax.boxplot([values for _, values in biases], labels=[name for name, _ in biases])
    ax.tick_params(axis="x", rotation=45, labelsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "bias-hist.png"))
    plt.close(fig)
    with open(os.path.join(out, "bias-stats.csv"), "w") as f:
        f.write("layer,size,mean,std,min,max,l2,nonfinite\n")
        for name, v in biases:
            f.write(f"{name},{len(v)},{v.mean()!r},{v.std()!r},{v.min()!r},{v.max()!r},{np.linalg.norm(v)!r},"
                    f"{int((~np.isfinite(v)).sum())}\n")


def attention(model_path, tokens_path, out):
    """Stock nn.MultiheadAttention inside nn.TransformerEncoder asks for no
    weights, so the reference recomputes them per layer with
    need_weights=True, as a user would by hand."""
    model = torch.jit.load(model_path).eval()
    ids = [int(t) for t in open(tokens_path).read().split()]
    x_tokens = torch.tensor(ids).unsqueeze(1)
    layers_weights = []
    with torch.no_grad():
        x = model.embed(x_tokens)
        for _, layer in model.encoder.layers.named_children():
            _, w = layer.self_attn(x, x, x, need_weights=True, average_attn_weights=False)
            layers_weights.append(w[0].numpy())
            x = layer(x)
    for i, heads in enumerate(layers_weights):
        n = heads.shape[0] + 1
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(cols * 4.6, rows * 4.2), dpi=DPI, squeeze=False)
        panels = list(heads) + [heads.mean(0)]
        for ax, w in zip(axes.flat, panels):
            ax.imshow(w, cmap="viridis", interpolation="antialiased")
        fig.savefig(os.path.join(out, f"layer{i}.png"))
        plt.close(fig)
        for h, w in enumerate(heads):
            np.savetxt(os.path.join(out, f"layer{i}.head{h}.csv"), w, delimiter=",", fmt="%.9g")
        np.savetxt(os.path.join(out, f"layer{i}.mean.csv"), heads.mean(0), delimiter=",", fmt="%.9g")
    # pevis also draws an overview: one row per layer, one thumbnail per head.
    heads_count = layers_weights[0].shape[0]
    fig, axes = plt.subplots(len(layers_weights), heads_count, figsize=(heads_count * 1.4, len(layers_weights) * 1.4 + 0.6),
                             dpi=DPI, squeeze=False)
    for i, heads in enumerate(layers_weights):
        for h, w in enumerate(heads):
            axes[i][h].imshow(w, cmap="viridis", interpolation="antialiased")
            axes[i][h].set_axis_off()
    fig.savefig(os.path.join(out, "overview.png"))
    plt.close(fig)


def summary(model_path, shape, out):
    model = torch.jit.load(model_path).eval()
    params = {n: p.numel() for n, p in model.named_parameters()}
    x = torch.randn(*shape)
    with torch.no_grad():
        model(x)
    names = list(params)[:60]
    fig, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    ax.bar(range(len(names)), [params[n] for n in names])
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=6)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "summary.png"))
    print("Total params:", sum(params.values()))


def main():
    job, *args = sys.argv[1:]
    out = args[-1]
    os.makedirs(out, exist_ok=True)
    if job == "encoding":
        encoding(int(args[0]), int(args[1]), out)
    elif job == "bias":
        bias(args[0], out)
    elif job == "attention":
        attention(args[0], args[1], out)
    elif job == "summary":
        summary(args[0], [int(s) for s in args[1].split(",")], out)


if __name__ == "__main__":
    main()
