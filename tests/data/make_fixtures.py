#!/usr/bin/env python3
"""Makes the reference values pevis's tests compare against, with PyTorch.

Run through scripts/fixtures (Debian's python3-torch). The outputs are
committed, so the tests themselves need no Python.

sinusoidal_reference.txt holds, for a few (d_model, max_len, base), rows of the
table that PyTorch's word-language-model example computes, and a few position
similarity matrices:

    table D L B NROWS            followed by NROWS lines: position v0 ... v(D-1)
    similarity D L B N KIND      followed by N lines of N values (first N positions)
"""
import math
import os
import sys

import torch


def sinusoidal(d_model, max_len, base):
    # As in pytorch/examples word_language_model/model.py, PositionalEncoding,
    # with the base made a parameter.
    pe = torch.zeros(max_len, d_model)
    position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(base) / d_model))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe


def fmt(value):
    return repr(float(value))


def main():
    out_dir = os.path.dirname(os.path.abspath(__file__))
    lines = [f"# made by make_fixtures.py with torch {torch.__version__}"]
    cases = [
        (16, 50, 10000.0, list(range(50))),
        (2, 10, 10000.0, list(range(10))),
        (6, 20, 100.0, list(range(20))),
        (64, 2048, 500.0, [0, 1, 2, 31, 1000, 2047]),
        (512, 5000, 10000.0, [0, 1, 2, 3, 4, 100, 1000, 2500, 4995, 4996, 4997, 4998, 4999]),
        (1024, 64, 10000.0, [0, 1, 63]),
    ]
    for d_model, max_len, base, rows in cases:
        pe = sinusoidal(d_model, max_len, base)
        lines.append(f"table {d_model} {max_len} {fmt(base)} {len(rows)}")
        for r in rows:
            lines.append(" ".join([str(r)] + [fmt(v) for v in pe[r].tolist()]))
    for d_model, max_len, base, n, kind in [(16, 50, 10000.0, 12, "dot"), (64, 100, 10000.0, 10, "cosine")]:
        p = sinusoidal(d_model, max_len, base)[:n]
        if kind == "cosine":
            p = torch.nn.functional.normalize(p, dim=1)
        sim = p @ p.t()
        lines.append(f"similarity {d_model} {max_len} {fmt(base)} {n} {kind}")
        for row in sim.tolist():
            lines.append(" ".join(fmt(v) for v in row))
    with open(os.path.join(out_dir, "sinusoidal_reference.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", os.path.join(out_dir, "sinusoidal_reference.txt"), file=sys.stderr)


if __name__ == "__main__":
    main()
