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
import json
import math
import os
import struct
import sys
import zipfile

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


class SimpleNet(torch.nn.Module):
    """The network of the classic bias tutorial."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(10, 20)
        self.fc2 = torch.nn.Linear(20, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def write_safetensors(path, tensors, metadata=None):
    """A small writer following the safetensors format: 8-byte little-endian
    header length, a JSON header, then the raw little-endian data."""
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
             torch.int64: "I64", torch.int32: "I32", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


class RunsCommand:
    """Pickles as a call to a function a state_dict never needs."""

    def __init__(self, function):
        self.function = function

    def __reduce__(self):
        return (self.function, ("touch SENTINEL",))


def make_models(out_dir):
    """SimpleNet in every format pevis reads, the values PyTorch reports, and
    files pevis must refuse. Returns the expected values."""
    torch.manual_seed(0)
    net = SimpleNet()
    # A copy: state_dict() shares storage with the parameters that training changes.
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    path = lambda name: os.path.join(out_dir, name)
    torch.jit.script(net).save(path("simple_net.script.pt"))
    torch.save(sd, path("simple_net.state.pt"))
    write_safetensors(path("simple_net.safetensors"), sd, {"format": "pt"})
    torch.save(sd, path("simple_net.legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(net, path("simple_net.model.pt"))

    # A few SGD steps on fixed data: how training moves the biases.
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(32, 10), torch.randn(32, 10)
    for step in range(1, 6):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        optimizer.step()
        if step < 5:
            torch.save(net.state_dict(), path(f"simple_net.step{step}.pt"))
    after = {k: v.clone() for k, v in net.state_dict().items()}
    torch.save({"model": after, "epoch": 5, "lr": 0.1, "optimizer": optimizer.state_dict()},
               path("simple_net.after.ckpt.pt"))
    torch.save([{"state_dict": after}, "note"], path("simple_net.after.list.pt"))

    half = {"fc1.bias": sd["fc1.bias"].half(), "fc2.bias": sd["fc2.bias"].bfloat16(),
            "fc1.weight": sd["fc1.weight"].half()}
    torch.save(half, path("simple_net.half.pt"))
    write_safetensors(path("simple_net.half.safetensors"), half)

    # A bias with a NaN and an Inf, for --fail-on-nonfinite.
    broken = {k: v.clone() for k, v in sd.items()}
    broken["fc2.bias"][3] = float("nan")
    broken["fc2.bias"][4] = float("inf")
    torch.save(broken, path("simple_net.nonfinite.pt"))

    # Files that must be refused without running anything.
    torch.save({"x": RunsCommand(os.system)}, path("bad_os_system.pt"))
    torch.save({"x": RunsCommand(eval)}, path("bad_eval.pt"))
    data = open(path("simple_net.state.pt"), "rb").read()
    open(path("bad_truncated.pt"), "wb").write(data[: len(data) // 2])
    header = json.dumps({"fc1.bias": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}).encode()
    open(path("bad_short.safetensors"), "wb").write(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    open(path("bad_header_length.safetensors"), "wb").write(struct.pack("<Q", 1 << 62) + b"{}")

    return {
        "before": {k: v.tolist() for k, v in sd.items() if k.endswith("bias")},
        "after": {k: v.tolist() for k, v in after.items() if k.endswith("bias")},
        "half": {k: v.float().tolist() for k, v in half.items() if k.endswith("bias")},
    }


class MhaModel(torch.nn.Module):
    """Embedding and one nn.MultiheadAttention, called as TransformerEncoderLayer
    calls it: need_weights=False. Input: token ids [S, 1] (seq-first)."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(20, 16)
        self.attn = torch.nn.MultiheadAttention(16, 4)

    def forward(self, tokens):
        x = self.embed(tokens)
        out, _ = self.attn(x, x, x, need_weights=False)
        return out


class EncoderModel(torch.nn.Module):
    """Embedding and a stock 2-layer nn.TransformerEncoder, with or without a
    causal mask. Input: token ids [S, 1] (seq-first)."""

    def __init__(self, causal: bool, batch_first: bool = False):
        super().__init__()
        self.causal = causal
        self.embed = torch.nn.Embedding(20, 16)
        layer = torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.1, batch_first=batch_first)
        self.encoder = torch.nn.TransformerEncoder(layer, 2)

    def mask(self, size: int):
        return torch.triu(torch.full((size, size), float("-inf")), diagonal=1)

    def forward(self, tokens):
        x = self.embed(tokens)
        if self.causal:
            return self.encoder(x, self.mask(tokens.size(0)))
        return self.encoder(x)


class SelfAttention(torch.nn.Module):
    """The classic single self-attention block, written correctly: Q, K, V
    and output projections, heads split from the embedding, a 4-D softmax
    over the keys. Input: token ids [1, S] (batch-first)."""

    def __init__(self, embed_size: int = 16, heads: int = 4):
        super().__init__()
        self.embed = torch.nn.Embedding(20, embed_size)
        self.heads = heads
        self.head_dim = embed_size // heads
        self.queries = torch.nn.Linear(embed_size, embed_size)
        self.keys = torch.nn.Linear(embed_size, embed_size)
        self.values = torch.nn.Linear(embed_size, embed_size)
        self.fc_out = torch.nn.Linear(embed_size, embed_size)

    def weights(self, x):
        n, length, _ = x.shape
        q = self.queries(x).reshape(n, length, self.heads, self.head_dim)
        k = self.keys(x).reshape(n, length, self.heads, self.head_dim)
        energy = torch.einsum("nqhd,nkhd->nhqk", q, k) / math.sqrt(self.head_dim)
        return torch.softmax(energy, dim=3)

    def forward(self, tokens):
        x = self.embed(tokens)
        n, length, _ = x.shape
        attention = self.weights(x)
        v = self.values(x).reshape(n, length, self.heads, self.head_dim)
        out = torch.einsum("nhqk,nkhd->nqhd", attention, v).reshape(n, length, self.heads * self.head_dim)
        return self.fc_out(out)


class TransformerModel(torch.nn.Module):
    """Embedding and a stock nn.Transformer (one encoder and one decoder
    layer) fed the same sequence as source and target: self-attention in
    both, and the decoder's cross-attention. Input: token ids [S, 1]."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(20, 16)
        self.transformer = torch.nn.Transformer(16, 4, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32)

    def forward(self, tokens):
        x = self.embed(tokens)
        return self.transformer(x, x)


class FeatureAttention(torch.nn.Module):
    """Self-attention over float features [1, L, 16] (batch-first), as a
    vision transformer sees its patches; forward has an optional argument."""

    def __init__(self):
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x, scale: float = 1.0):
        out, _ = self.attn(x, x, x)
        return out * scale


def make_attention(out_dir):
    """Scripted attention models and the weights PyTorch gives for one input:
    need_weights=True, average_attn_weights=False, per layer, [batch, heads,
    target, source]."""
    torch.manual_seed(1)
    tokens = [3, 1, 4, 1, 5, 9, 2, 6]
    seq_first = torch.tensor(tokens).unsqueeze(1)
    expected = {"tokens": tokens}

    def save(model, name, example, sites):
        model.eval()
        with torch.no_grad():
            output = model(example)
        torch.jit.script(model).save(os.path.join(out_dir, name))
        expected[name] = {"sites": {k: v.tolist() for k, v in sites.items()}, "output": output.flatten().tolist(),
                          "output_shape": list(output.shape)}

    mha = MhaModel().eval()
    with torch.no_grad():
        x = mha.embed(seq_first)
        _, w = mha.attn(x, x, x, need_weights=True, average_attn_weights=False)
    save(mha, "attn_mha.pt", seq_first, {"attn": w})

    for causal in (False, True):
        enc = EncoderModel(causal).eval()
        sites = {}
        with torch.no_grad():
            x = enc.embed(seq_first)
            mask = enc.mask(len(tokens)) if causal else None
            for i, layer in enumerate(enc.encoder.layers):
                _, w = layer.self_attn(x, x, x, attn_mask=mask, need_weights=True, average_attn_weights=False)
                sites[f"encoder.layers.{i}.self_attn"] = w
                x = layer(x, src_mask=mask)
        save(enc, "attn_encoder_causal.pt" if causal else "attn_encoder.pt", seq_first, sites)

    # batch_first: in eval mode without autograd, PyTorch runs the fused
    # kernels (torch._transformer_encoder_layer_fwd) that never form the softmax.
    enc = EncoderModel(False, batch_first=True).eval()
    batch_first = torch.tensor(tokens).unsqueeze(0)
    sites = {}
    with torch.no_grad():
        x = enc.embed(batch_first)
        for i, layer in enumerate(enc.encoder.layers):
            _, w = layer.self_attn(x, x, x, need_weights=True, average_attn_weights=False)
            sites[f"encoder.layers.{i}.self_attn"] = w
            x = layer(x)
    save(enc, "attn_encoder_batch_first.pt", batch_first, sites)

    tr = TransformerModel().eval()
    sites = {}
    with torch.no_grad():
        src = tr.embed(seq_first)
        x = src
        for i, layer in enumerate(tr.transformer.encoder.layers):
            sites[f"transformer.encoder.layers.{i}.self_attn"] = layer.self_attn(
                x, x, x, need_weights=True, average_attn_weights=False)[1]
            x = layer(x)
        memory = tr.transformer.encoder.norm(x)
        y = src
        for i, layer in enumerate(tr.transformer.decoder.layers):
            sites[f"transformer.decoder.layers.{i}.self_attn"] = layer.self_attn(
                y, y, y, need_weights=True, average_attn_weights=False)[1]
            after_self = layer.norm1(y + layer._sa_block(y, None, None))
            sites[f"transformer.decoder.layers.{i}.multihead_attn"] = layer.multihead_attn(
                after_self, memory, memory, need_weights=True, average_attn_weights=False)[1]
            y = layer(y, memory)
    save(tr, "attn_transformer.pt", seq_first, sites)

    feat = FeatureAttention().eval()
    torch.jit.script(feat).save(os.path.join(out_dir, "attn_features.pt"))

    sa = SelfAttention().eval()
    with torch.no_grad():
        w = sa.weights(sa.embed(batch_first))
    save(sa, "attn_selfattention.pt", batch_first, {"": w})
    return expected


class ConvNet(torch.nn.Module):
    """A small convolutional network: conv, batch norm (buffers), pooling, linear."""

    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 16, 3, groups=2), torch.nn.ReLU())
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.classifier = torch.nn.Linear(16, 10)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


class TiedLM(torch.nn.Module):
    """An embedding tied to the output layer: one tensor, two modules."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(50, 16)
        self.hidden = torch.nn.Linear(16, 16)
        self.out = torch.nn.Linear(16, 50)
        self.out.weight = self.embed.weight
        self.hidden.bias.requires_grad_(False)

    def forward(self, tokens):
        return self.out(torch.relu(self.hidden(self.embed(tokens))))


class PositionalEncoding(torch.nn.Module):
    """As in pytorch/examples word_language_model/model.py."""

    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = torch.nn.Dropout(p=dropout)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        pe = pe.unsqueeze(0).transpose(0, 1)
        self.register_buffer("pe", pe)

    def forward(self, x):
        x = x + self.pe[:x.size(0), :]
        return self.dropout(x)


class WordLM(torch.nn.Module):
    """The word-language-model example's TransformerModel (stock layers),
    small: embedding, pe buffer, 2-layer nn.TransformerEncoder, decoder."""

    def __init__(self, ntoken=40, ninp=32, nhead=4, nhid=64, nlayers=2):
        super().__init__()
        self.ninp = ninp
        self.encoder = torch.nn.Embedding(ntoken, ninp)
        self.pos_encoder = PositionalEncoding(ninp)
        self.transformer_encoder = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(ninp, nhead, nhid), nlayers)
        self.decoder = torch.nn.Linear(ninp, ntoken)

    def forward(self, src):
        mask = torch.triu(torch.full((src.size(0), src.size(0)), float("-inf")), diagonal=1)
        x = self.encoder(src) * math.sqrt(self.ninp)
        x = self.pos_encoder(x)
        return torch.log_softmax(self.decoder(self.transformer_encoder(x, mask)), dim=-1)


def make_summaries(out_dir):
    """Scripted models with what PyTorch reports: unique parameter counts,
    trainable counts, and every module's output shape for one input."""
    torch.manual_seed(2)
    expected = {}
    for name, model, example in [("summary_conv.pt", ConvNet().eval(), torch.randn(1, 3, 16, 16)),
                                 ("summary_tied.pt", TiedLM().eval(), torch.tensor([[1, 2, 3, 4, 5]])),
                                 ("word_lm.pt", WordLM().eval(), torch.tensor([[1], [5], [9], [2], [7], [3]]))]:
        shapes = {}
        def keep(name, output):
            output = output[0] if isinstance(output, tuple) else output
            shapes.setdefault(name, list(output.shape))
        hooks = [m.register_forward_hook(lambda m, i, o, n=n: keep(n, o))
                 for n, m in model.named_modules() if n]
        with torch.no_grad():
            model(example)
        for h in hooks:
            h.remove()
        params = {id(p): p for p in model.parameters()}.values()
        expected[name] = {
            "input_shape": list(example.shape),
            "input_dtype": str(example.dtype),
            "total_params": sum(p.numel() for p in params),
            "trainable_params": sum(p.numel() for p in params if p.requires_grad),
            "buffers": sum(b.numel() for b in model.buffers()),
            "outputs": shapes,
        }
        torch.jit.script(model).save(os.path.join(out_dir, name))
    with open(os.path.join(out_dir, "summary.expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


def check_builtins(out_dir, pevis):
    """Exports every built-in with pevis, loads it with torch.jit.load, and
    records what Python computes for a fixed input: the C++ tests compare
    pevis's own outputs with these."""
    import subprocess
    import tempfile
    inputs = {
        "simple-net": torch.linspace(-1, 1, 30).reshape(3, 10),
        "simple-net-trained": torch.linspace(-1, 1, 30).reshape(3, 10),
        "transformer-lm": torch.tensor([[2], [4], [6], [8], [2], [10]]),
        "self-attention": torch.linspace(-2, 2, 12 * 64).reshape(1, 12, 64),
        "reverse": torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]]),
    }
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, x in inputs.items():
            path = os.path.join(tmp, name + ".pt")
            subprocess.run([pevis, "export", "builtin:" + name, path], check=True, stdout=subprocess.DEVNULL,
                           env=dict(os.environ, XDG_CACHE_HOME=tmp))
            module = torch.jit.load(path)
            with torch.no_grad():
                y = module(x)
            result[name] = {"input": x.flatten().tolist(), "input_shape": list(x.shape),
                            "input_dtype": str(x.dtype), "output": y.flatten().tolist(),
                            "output_shape": list(y.shape)}
    with open(os.path.join(out_dir, "builtins.expected.json"), "w") as f:
        json.dump(result, f)


def make_bad(out_dir):
    """tests/data/bad/: files every subcommand must refuse with exit 3 and
    a one-line message, running nothing and writing nothing."""
    import io
    import pickle
    import random
    import subprocess
    bad = os.path.join(out_dir, "bad")
    os.makedirs(bad, exist_ok=True)
    path = lambda name: os.path.join(bad, name)
    rng = random.Random(4)
    open(path("empty.pt"), "wb").close()
    open(path("random.bin"), "wb").write(bytes(rng.randrange(256) for _ in range(4096)))
    open(path("random_pk.pt"), "wb").write(b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(4096)))
    good = open(os.path.join(out_dir, "simple_net.state.pt"), "rb").read()
    open(path("truncated.pt"), "wb").write(good[: len(good) * 2 // 3])
    # The end-of-central-directory record points at a central directory that is garbage.
    eocd = good.rfind(b"PK\x05\x06")
    damaged = bytearray(good)
    start = int.from_bytes(good[eocd + 16:eocd + 20], "little")
    for i in range(start, eocd):
        damaged[i] = rng.randrange(256)
    open(path("corrupt_directory.pt"), "wb").write(bytes(damaged))

    # A TorchScript archive whose code no longer parses.
    script = os.path.join(out_dir, "simple_net.script.pt")
    with zipfile.ZipFile(script) as src, zipfile.ZipFile(path("damaged_code.pt"), "w", zipfile.ZIP_STORED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if "/code/" in item.filename and item.filename.endswith(".py"):
                data = data.replace(b"def forward", b"def forward(((")
            dst.writestr(item, data)

    # Pickles asking for functions that run code, inside torch.save's zip.
    for name, function in [("os_system.pt", os.system), ("builtins_eval.pt", eval),
                           ("subprocess_popen.pt", subprocess.Popen)]:
        torch.save({"weight": RunsCommand(function)}, path(name))

    def save_raw_pickle(name, payload):
        buffer = io.BytesIO()
        torch.save({}, buffer)
        with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, \
                zipfile.ZipFile(path(name), "w", zipfile.ZIP_STORED) as dst:
            for item in src.infolist():
                dst.writestr(item, payload if item.filename.endswith("data.pkl") else src.read(item.filename))

    # Pickle bombs: nesting a million deep, and a list doubled 40 times over by reference.
    save_raw_pickle("deep_nesting.pt", b"\x80\x02" + b"]" * 1000000 + b"a" * 999999 + b".")
    doubling = b"\x80\x02]q\x000" + b"(h\x00h\x00lq\x000" * 40 + b"h\x00."
    save_raw_pickle("doubling.pt", doubling)

    header = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
              "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}
    text = json.dumps(header).encode()
    open(path("overlapping.safetensors"), "wb").write(struct.pack("<Q", len(text)) + text + b"\0" * 24)
    header = {"a": {"dtype": "F32", "shape": [4], "data_offsets": [100, 116]}}
    text = json.dumps(header).encode()
    open(path("past_end.safetensors"), "wb").write(struct.pack("<Q", len(text)) + text + b"\0" * 16)
    header = {"a": {"dtype": "F32", "shape": [1000000, 1000000], "data_offsets": [0, 16]}}
    text = json.dumps(header).encode()
    open(path("huge_shape.safetensors"), "wb").write(struct.pack("<Q", len(text)) + text + b"\0" * 16)

    # Indexes of sharded checkpoints: a shard that is not there, one outside
    # the index's folder, an index naming itself, and a tensor in two shards.
    def write_safetensors(name, tensors):
        header, data = {}, b""
        for tensor, values in tensors:
            raw = struct.pack("<%df" % len(values), *values)
            header[tensor] = {"dtype": "F32", "shape": [len(values)], "data_offsets": [len(data), len(data) + len(raw)]}
            data += raw
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        open(path(name), "wb").write(struct.pack("<Q", len(text)) + text + data)

    def write_index(name, weight_map):
        with open(path(name), "w") as f:
            json.dump({"weight_map": weight_map}, f)
            f.write("\n")

    write_index("index_missing_shard.index.json", {"layer.bias": "gone.safetensors"})
    write_index("index_outside_folder.index.json", {"layer.bias": "../simple_net.safetensors"})
    write_index("index_itself.index.json", {"layer.bias": "index_itself.index.json"})
    os.makedirs(path("sharded_twice"), exist_ok=True)
    write_safetensors("sharded_twice/model-00001-of-00002.safetensors", [("layer.bias", [1.0, 2.0]), ("head.bias", [0.5])])
    write_safetensors("sharded_twice/model-00002-of-00002.safetensors", [("layer.bias", [3.0, 4.0]), ("tail.bias", [1.0])])
    with open(path("sharded_twice/model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": {"layer.bias": "model-00001-of-00002.safetensors",
                                  "head.bias": "model-00001-of-00002.safetensors",
                                  "tail.bias": "model-00002-of-00002.safetensors"}}, f)

    # Text inputs.
    open(path("latin1_tokens.txt"), "wb").write("caf\xe9 cr\xe8me".encode("latin-1"))
    open(path("duplicate_vocab.txt"), "w").write("a\nb\nc\nb\n")


class Forked(torch.nn.Module):
    """Attention computed twice: once in a task started with torch.jit.fork,
    once in forward itself (or only in the task)."""

    def __init__(self, also_here):
        super().__init__()
        self.also_here = also_here

    def attend(self, x):
        return torch.softmax(x @ x.transpose(1, 2), -1)

    def forward(self, x):
        future = torch.jit.fork(self.attend, x)
        forked = torch.jit.wait(future)
        if self.also_here:
            return forked + self.attend(x)
        return forked


def make_forked(out_dir):
    torch.jit.script(Forked(True)).save(os.path.join(out_dir, "attn_forked.pt"))
    torch.jit.script(Forked(False)).save(os.path.join(out_dir, "attn_forked_only.pt"))


def main():
    out_dir = os.path.dirname(os.path.abspath(__file__))
    make_bad(out_dir)
    make_forked(out_dir)
    if os.environ.get("PEVIS_BINARY"):
        check_builtins(out_dir, os.environ["PEVIS_BINARY"])
    make_summaries(out_dir)
    with open(os.path.join(out_dir, "attention.expected.json"), "w") as f:
        json.dump(make_attention(out_dir), f)
    expected = make_models(out_dir)
    with open(os.path.join(out_dir, "simple_net.expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
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
