"""Makes the fixtures and reference values of pevis's positional families.

Run by scripts/fixtures with Debian's python3-torch and python3-torchvision
(PyTorch 1.13, torchvision 0.14). The tests only read what this writes:

  reference.json      rotary tables (every scaling), ALiBi slopes and biases,
                      T5 buckets and bias matrices, computed here in float64
                      (T5's buckets in float32, as T5 computes them) from the
                      published formulas
  rope_buffers.pt     a state_dict of inv_freq buffers made the way Hugging
                      Face's rotary classes make them (float32)
  t5_bias.pt          a state_dict holding an encoder and a decoder
                      relative_attention_bias table
  swin_bias.pt        every relative_position_bias_table and
                      relative_position_index of torchvision's swin_t
  swin_reference.pt   torchvision's own relative position bias of some of
                      those blocks (ShiftedWindowAttention.get_relative_position_bias)
  swin_tiny.*.pt      a tiny torchvision Swin, scripted and traced, and the
                      windowed attention weights it forms for two images
  llama3_folder/      a weights-only Hugging Face folder with a Llama-3.1-8B
                      config.json and an inv_freq buffer that matches it
  qwen2_wrong_theta/  the same with a Qwen2-7B config.json and an inv_freq of
                      base 10000, as a wrong conversion leaves it
"""

import json
import math
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


# ------------------------------------------------------------------ rotary

def rope_inv_freq(d_head, base, scaling="none", factor=1.0, original=None, beta_fast=32.0, beta_slow=1.0,
                  low_freq_factor=1.0, high_freq_factor=4.0, attention_factor=None):
    """Frequencies of the d_head/2 pairs, float64, after the scaling."""
    pairs = d_head // 2
    ideal = [base ** (-2.0 * i / d_head) for i in range(pairs)]
    if scaling == "none":
        return ideal
    if scaling == "linear":  # Chen et al. 2023: positions divided by the factor
        return [f / factor for f in ideal]
    if scaling == "ntk":  # NTK-aware: the base grows so the slowest pair is interpolated
        scaled = base * factor ** (d_head / (d_head - 2.0))
        return [scaled ** (-2.0 * i / d_head) for i in range(pairs)]
    if scaling == "yarn":  # Peng et al. 2023, with its ramp over pair indexes
        def correction_dim(rotations):
            return d_head * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(base))
        low = max(math.floor(correction_dim(beta_fast)), 0)
        high = min(math.ceil(correction_dim(beta_slow)), d_head - 1)
        if low == high:
            high += 0.001
        out = []
        for i, f in enumerate(ideal):
            ramp = min(max((i - low) / (high - low), 0.0), 1.0)  # 0: keep, 1: interpolate
            out.append(f * (1 - ramp) + f / factor * ramp)
        return out
    if scaling == "llama3":  # Llama 3.1: smoothed between two wavelengths of the original context
        low_wavelen = original / low_freq_factor
        high_wavelen = original / high_freq_factor
        out = []
        for f in ideal:
            wavelen = 2 * math.pi / f
            if wavelen < high_wavelen:
                out.append(f)
            elif wavelen > low_wavelen:
                out.append(f / factor)
            else:
                smooth = (original / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
                out.append((1 - smooth) * f / factor + smooth * f)
        return out
    raise ValueError(scaling)


def rope_attention_factor(scaling, factor, attention_factor=None):
    if scaling != "yarn":
        return 1.0
    if attention_factor is not None:
        return attention_factor
    return 1.0 if factor <= 1 else 0.1 * math.log(factor) + 1.0


def rope_case(name, d_head, base, max_len, positions, distances, **scaling):
    inv = rope_inv_freq(d_head, base, **scaling)
    a = rope_attention_factor(scaling.get("scaling", "none"), scaling.get("factor", 1.0),
                              scaling.get("attention_factor"))
    # RoFormer's rotation of pair i at position p: the angle p * theta_i.
    cos = [[a * math.cos(p * f) for f in inv] for p in positions]
    sin = [[a * math.sin(p * f) for f in inv] for p in positions]
    # Constant query and key (all ones): q_m . k_n = sum_i 2 cos((m - n) theta_i),
    # averaged over the d_head dimensions, with the attention factor on both.
    decay = [a * a * sum(2 * math.cos(d * f) for f in inv) / d_head for d in distances]
    return {"name": name, "d_head": d_head, "base": base, "max_len": max_len, "scaling": scaling,
            "inv_freq": inv, "attention_factor": a, "wavelength": [2 * math.pi / f for f in inv],
            "positions": positions, "cos": cos, "sin": sin, "distances": distances, "decay": decay}


def rope_cases():
    cases = []
    positions = [0, 1, 2, 7, 100, 1000, 2047]
    distances = [0, 1, 2, 5, 10, 50, 100, 500, 1000, 2047]
    cases.append(rope_case("plain", 64, 10000.0, 2048, positions, distances))
    cases.append(rope_case("linear", 64, 10000.0, 8192, positions + [8191], distances + [8191],
                           scaling="linear", factor=4.0, original=2048))
    cases.append(rope_case("ntk", 64, 10000.0, 8192, positions + [8191], distances + [8191],
                           scaling="ntk", factor=4.0, original=2048))
    cases.append(rope_case("yarn", 64, 10000.0, 8192, positions + [8191], distances + [8191],
                           scaling="yarn", factor=4.0, original=2048, beta_fast=32.0, beta_slow=1.0))
    cases.append(rope_case("yarn-attention-factor", 128, 1000000.0, 65536, positions, distances,
                           scaling="yarn", factor=2.0, original=32768, beta_fast=16.0, beta_slow=2.0,
                           attention_factor=1.2))
    cases.append(rope_case("llama3", 128, 500000.0, 131072, positions + [131071], distances + [131071],
                           scaling="llama3", factor=8.0, original=8192, low_freq_factor=1.0, high_freq_factor=4.0))
    return cases


def hf_inv_freq(d_head, base):
    """Hugging Face's float32 computation of the unscaled frequencies."""
    return 1.0 / (base ** (torch.arange(0, d_head, 2, dtype=torch.int64).float() / d_head))


def hf_llama3(inv_freq, factor, low_freq_factor, high_freq_factor, original):
    low_wavelen = original / low_freq_factor
    high_wavelen = original / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (original / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


def rope_buffers():
    state = {
        "base500k.rotary_emb.inv_freq": hf_inv_freq(128, 500000.0),
        "qwen2.rotary_emb.inv_freq": hf_inv_freq(128, 1000000.0),
        "llama3.rotary_emb.inv_freq": hf_llama3(hf_inv_freq(128, 500000.0), 8.0, 1.0, 4.0, 8192),
        "linear.rotary_emb.inv_freq": hf_inv_freq(64, 10000.0) / 4.0,
        "yarn.rotary_emb.inv_freq": torch.tensor(
            rope_inv_freq(64, 10000.0, scaling="yarn", factor=4.0, original=2048), dtype=torch.float32),
    }
    torch.save(state, os.path.join(HERE, "rope_buffers.pt"))


# ------------------------------------------------------------------ ALiBi

def alibi_slopes(heads):
    """Press et al. 2022: a geometric sequence from 2^(-8/n); for a head count
    that is not a power of two, the closest smaller power's slopes, then every
    other slope of twice that many."""
    def power_of_two(n):
        start = 2 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]
    if heads & (heads - 1) == 0:
        return power_of_two(heads)
    closest = 2 ** int(math.floor(math.log2(heads)))
    return power_of_two(closest) + power_of_two(2 * closest)[0::2][: heads - closest]


def alibi_cases():
    out = []
    for heads in [1, 2, 6, 8, 12, 16, 20, 32, 40, 64]:
        slopes = alibi_slopes(heads)
        n = 6
        # Causal: the query at i sees keys j <= i with bias -slope * (i - j).
        bias = [[[-s * (i - j) if j <= i else None for j in range(n)] for i in range(n)] for s in slopes]
        out.append({"heads": heads, "slopes": slopes, "positions": n, "bias": bias})
    return out


# ------------------------------------------------------------------ T5

def t5_bucket(relative_position, bidirectional, num_buckets, max_distance):
    """T5's bucket of key position minus query position, in float32 as T5 computes it."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).to(torch.long) * num_buckets
        n = torch.abs(relative_position)
    else:
        n = -torch.min(relative_position, torch.zeros_like(relative_position))
    exact = num_buckets // 2
    small = n < exact
    large = exact + (torch.log(n.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(small, n, large)


def t5_cases(table_encoder, table_decoder):
    rel = torch.arange(-300, 301)
    cases = []
    for bidirectional, buckets, distance in [(True, 32, 128), (False, 32, 128), (True, 16, 64), (False, 64, 256)]:
        cases.append({"bidirectional": bidirectional, "num_buckets": buckets, "max_distance": distance,
                      "relative": rel.tolist(), "bucket": t5_bucket(rel, bidirectional, buckets, distance).tolist()})
    matrices = []
    n = 40
    q = torch.arange(n)[:, None]
    k = torch.arange(n)[None, :]
    for name, table, bidirectional in [("encoder", table_encoder, True), ("decoder", table_decoder, False)]:
        bucket = t5_bucket(k - q, bidirectional, table.shape[0], 128)
        bias = table[bucket].permute(2, 0, 1).double().tolist()  # [heads, query, key]
        if not bidirectional:  # a decoder's causal mask hides later keys: None there
            bias = [[[v if j <= i else None for j, v in enumerate(row)] for i, row in enumerate(head)] for head in bias]
        matrices.append({"name": name, "positions": n, "bias": bias})
    return cases, matrices


def t5_fixture():
    g = torch.Generator().manual_seed(5)
    encoder = torch.randn(32, 4, generator=g)
    decoder = torch.randn(32, 4, generator=g)
    state = {
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": encoder,
        "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": decoder,
        "shared.weight": torch.randn(10, 8, generator=g),
    }
    torch.save(state, os.path.join(HERE, "t5_bias.pt"))
    return encoder, decoder


# ------------------------------------------------------------------ Swin

def swin_fixture():
    from torchvision.models import swin_t
    torch.manual_seed(7)
    model = swin_t().eval()
    state = {k: v for k, v in model.state_dict().items() if "relative_position" in k}
    torch.save(state, os.path.join(HERE, "swin_bias.pt"))
    reference = {}
    for name, module in model.named_modules():
        if name in ("features.1.0.attn", "features.3.1.attn", "features.5.4.attn", "features.7.1.attn"):
            reference[name] = module.get_relative_position_bias()[0].detach().clone()  # [heads, N, N]
    torch.save(reference, os.path.join(HERE, "swin_reference.pt"))
    return sorted(state)


def swin_tiny_fixture():
    """A tiny torchvision Swin (2x2 windows, two stages), scripted and traced,
    with the attention weights PyTorch forms for a batch of two images:
    stage 1 has 16 windows of 4 tokens per image, stage 2 has 4."""
    from torchvision.models import SwinTransformer
    import torch.nn.functional as F
    torch.manual_seed(11)
    model = SwinTransformer(patch_size=[2, 2], embed_dim=8, depths=[2, 2], num_heads=[2, 4], window_size=[2, 2],
                            num_classes=3).eval()
    images = torch.randn(2, 3, 16, 16)
    recorded = []
    softmax = F.softmax

    def recording(x, *args, **kwargs):
        y = softmax(x, *args, **kwargs)
        recorded.append(y.detach().clone())
        return y
    F.softmax = recording
    try:
        with torch.no_grad():
            output = model(images)
    finally:
        F.softmax = softmax
    names = [n for n, m in model.named_modules() if type(m).__name__ == "ShiftedWindowAttention"]
    assert len(names) == len(recorded), (names, len(recorded))
    reference = {name: w for name, w in zip(names, recorded)}
    reference["input"] = images
    reference["output"] = output
    torch.save(reference, os.path.join(HERE, "swin_tiny.expected.pt"))
    torch.jit.script(model).save(os.path.join(HERE, "swin_tiny.scripted.pt"))
    with torch.no_grad():
        torch.jit.trace(model, images).save(os.path.join(HERE, "swin_tiny.traced.pt"))


# ------------------------------------------------------------------ a folder

def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def folder_fixture(name, config_name, inv_freq):
    """A weights-only folder: a config.json and a small model.safetensors
    holding one layer's inv_freq buffer beside other tensors."""
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(HERE, config_name)) as f:
        config = f.read()
    with open(os.path.join(folder, "config.json"), "w") as f:
        f.write(config)
    g = torch.Generator().manual_seed(3)
    write_safetensors(os.path.join(folder, "model.safetensors"),
                      {"model.norm.weight": torch.ones(16), "lm_head.weight": torch.randn(4, 16, generator=g),
                       "model.layers.0.self_attn.rotary_emb.inv_freq": inv_freq})


def main():
    encoder, decoder = t5_fixture()
    t5_buckets, t5_matrices = t5_cases(encoder, decoder)
    swin_names = swin_fixture()
    swin_tiny_fixture()
    rope_buffers()
    # Llama 3.1 as Hugging Face computes it, and a Qwen2 checkpoint converted
    # with the wrong theta (10000 instead of its config's 1000000).
    folder_fixture("llama3_folder", "llama3.1-8b.config.json", hf_llama3(hf_inv_freq(128, 500000.0), 8.0, 1.0, 4.0, 8192))
    folder_fixture("qwen2_wrong_theta", "qwen2-7b.config.json", hf_inv_freq(128, 10000.0))
    reference = {"rope": rope_cases(), "alibi": alibi_cases(), "t5_buckets": t5_buckets, "t5_matrices": t5_matrices,
                 "swin_tensors": swin_names}
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(reference, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
