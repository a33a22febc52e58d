"""Weights-only folders of the decoder families pevis builds from config.json,
with transformers' own eager attention weights as the reference.

Run with transformers (v5) and PyTorch 2.x, in the Debian 13 root:
    python3 make_architectures.py OUTDIR
Each family gets OUTDIR/<name>/ (config.json, model.safetensors) and one
expected.json for all: {name: {"ids": [...], "attentions": [[heads x T x T] per layer]}}.
Every weight is random and non-zero (norm weights and biases too), so that no
term of the computation is invisible.
"""
import json
import os
import sys

import torch


def stub_tokenizers():
    # The Rust tokenizers package may be absent; modelling code never calls it.
    import importlib.machinery
    import importlib.util
    import types
    if importlib.util.find_spec("tokenizers") is not None:
        return

    def module(name):
        m = types.ModuleType(name)
        m.__spec__ = importlib.machinery.ModuleSpec(name, None)
        m.__file__ = __file__
        m.__getattr__ = lambda attr: (type(attr, (), {}) if not attr.startswith("__") else (_ for _ in ()).throw(AttributeError(attr)))
        sys.modules[name] = m
        return m

    root = module("tokenizers")
    root.__version__ = "0.22.2"
    for sub in ["models", "decoders", "normalizers", "pre_tokenizers", "processors", "trainers"]:
        setattr(root, sub, module("tokenizers." + sub))


stub_tokenizers()
import transformers  # noqa: E402

T = 12
IDS = [3, 17, 5, 29, 11, 2, 40, 7, 23, 31, 13, 19][:T]

COMMON = dict(vocab_size=48, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5, hidden_act="silu",
              tie_word_embeddings=False)

FAMILIES = {
    "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM, dict(rope_theta=10000.0)),
    "llama3_rope": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
                    dict(rope_theta=500000.0, rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                                            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                            "original_max_position_embeddings": 8192})),
    "llama_tied": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
                   dict(rope_theta=10000.0, tie_word_embeddings=True)),
    "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM, dict(rope_theta=10000.0, sliding_window=4)),
    "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM,
              dict(rope_theta=1000000.0, use_sliding_window=False, sliding_window=4)),
}


def main(out):
    expected = {}
    for name, (config_class, model_class, extra) in FAMILIES.items():
        torch.manual_seed(len(name))
        settings = dict(COMMON)
        settings.update(extra)
        config = config_class(**settings)
        config._attn_implementation = "eager"
        model = model_class(config).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn_like(p) * 0.3 + (1.0 if p.dim() == 1 else 0.0))
        folder = os.path.join(out, name)
        model.save_pretrained(folder, safe_serialization=True)
        with torch.no_grad():
            result = model(torch.tensor([IDS]), output_attentions=True)
        expected[name] = {"ids": IDS,
                          "attentions": [a[0].tolist() for a in result.attentions],
                          "transformers": transformers.__version__, "torch": torch.__version__}
        print(name, [tuple(a.shape) for a in result.attentions])
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main(sys.argv[1])
