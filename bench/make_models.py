#!/usr/bin/env python3
"""Makes the benchmark models (random weights, fixed seeds) into a folder:
lm6.pt (a 6-layer, 512-wide, 8-head Transformer language model, scripted),
lm12.pt (12 layers, 768 wide, 12 heads: BERT-base's shape, for the attention page),
resnet18.pt and vit_b_16.pt (torchvision, scripted), and token files of
64 to 2048 tokens. Not committed: scripts/bench runs this."""
import os
import random
import sys

import torch
import torchvision


class LM(torch.nn.Module):
    def __init__(self, vocab=1000, d=512, heads=8, layers=6):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, d)
        self.encoder = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(d, heads, 4 * d), layers)
        self.decoder = torch.nn.Linear(d, vocab)

    def forward(self, tokens):
        return self.decoder(self.encoder(self.embed(tokens)))


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    torch.jit.script(LM().eval()).save(os.path.join(out, "lm6.pt"))
    torch.jit.script(LM(d=768, heads=12, layers=12).eval()).save(os.path.join(out, "lm12.pt"))
    torch.jit.script(torchvision.models.resnet18().eval()).save(os.path.join(out, "resnet18.pt"))
    torch.jit.script(torchvision.models.vit_b_16().eval()).save(os.path.join(out, "vit_b_16.pt"))
    rng = random.Random(0)
    for n in (64, 128, 256, 512, 1024, 2048):
        with open(os.path.join(out, f"tokens{n}.txt"), "w") as f:
            f.write(" ".join(str(rng.randrange(1000)) for _ in range(n)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
