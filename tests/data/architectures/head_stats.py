# References for pevis's head statistics (heads.csv): each statistic
# computed in numpy, in float64, from the attention weights transformers
# returned for the test folders (expected.json, made by make.sh), straight
# from the definitions:
#   entropy   mean over queries q of -sum_k A[q,k] ln A[q,k]  (0 ln 0 = 0)
#   distance  mean over q of sum_k A[q,k] |q - k|; for the ViT, over the
#             patch queries and keys only (the class token left out), of
#             A[q,k] times the Euclidean distance of their places on the grid
#   sink      mean over q of A[q, 0]
#   self      mean over q of A[q, q]
#   prev      mean over q >= 1 of A[q, q - 1]
#   induction with the input read as a block of P = T/2 tokens then the
#             block again: mean over the second copy's queries of A[q, q-P+1]
# Runs where numpy is (Debian 13's root):
#   scripts/debian13 root python3-numpy
#   scripts/debian13 run python3 /pevis/tests/data/architectures/head_stats.py
import json
import os

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "expected.json")) as f:
    expected = json.load(f)


def statistics(a, image):
    t, s = a.shape
    logs = np.log(np.where(a > 0, a, 1.0))
    out = {
        "entropy": float(np.mean(-np.sum(a * logs, axis=1))),
        "sink": float(np.mean(a[:, 0])),
        "self": float(np.mean(np.diag(a))),
        "prev": float(np.mean(np.diag(a, k=-1))),
    }
    if image:
        g = int(round(np.sqrt(t - 1)))
        assert g * g == t - 1
        rows, cols = np.divmod(np.arange(g * g), g)
        far = np.sqrt((rows[:, None] - rows[None, :]) ** 2 + (cols[:, None] - cols[None, :]) ** 2)
        out["distance"] = float(np.mean(np.sum(a[1:, 1:] * far, axis=1)))
    else:
        q = np.arange(t)[:, None]
        k = np.arange(s)[None, :]
        out["distance"] = float(np.mean(np.sum(a * np.abs(q - k), axis=1)))
    if t % 2 == 0:
        p = t // 2
        out["induction"] = float(np.mean([a[q, q - p + 1] for q in range(p, 2 * p)]))
    return out


refs = {}
for name, entry in expected.items():
    image = "pixels" in entry
    layers = []
    for layer in entry["attentions"]:
        layers.append([statistics(np.asarray(head, dtype=np.float64), image) for head in layer])
    refs[name] = {"image": image, "numpy": np.__version__, "layers": layers}
with open(os.path.join(here, "head_stats.json"), "w") as f:
    json.dump(refs, f, indent=0)
    f.write("\n")
