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

GEMMA = dict(head_dim=12, hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True)

# name: (config class, model class, settings beyond COMMON, lengths run)
FAMILIES = {
    "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM, dict(rope_theta=10000.0), [T]),
    "llama3_rope": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
                    dict(rope_theta=500000.0, rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                                            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                            "original_max_position_embeddings": 8192}), [T]),
    # yarn's ramp and attention factor; dynamic's frequencies grow past max_position_embeddings (8).
    "llama_yarn": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
                   dict(rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                                         "original_max_position_embeddings": 16}), [T]),
    "llama_dynamic": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
                      dict(max_position_embeddings=8,
                           rope_parameters={"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0}), [T, 6]),
    "llama_tied": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
                   dict(rope_theta=10000.0, tie_word_embeddings=True), [T]),
    "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM, dict(rope_theta=10000.0, sliding_window=4),
                [T]),
    "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM,
              dict(rope_theta=1000000.0, use_sliding_window=False, sliding_window=4), [T]),
    "gemma": (transformers.GemmaConfig, transformers.GemmaForCausalLM,
              dict(head_dim=12, hidden_act="gelu_pytorch_tanh", tie_word_embeddings=True, pad_token_id=0), [T]),
    # Soft-caps low enough to change the numbers; head_dim x heads != hidden;
    # query_pre_attn_scalar != head_dim; layer 0 slides over 4 keys.
    "gemma2": (transformers.Gemma2Config, transformers.Gemma2ForCausalLM,
               dict(GEMMA, query_pre_attn_scalar=10, attn_logit_softcapping=2.0, final_logit_softcapping=5.0,
                    sliding_window=4, pad_token_id=0), [T]),
    # Three layers (sliding, full, sliding), each type its own rotary table.
    "gemma3": (transformers.Gemma3TextConfig, transformers.Gemma3ForCausalLM,
               dict(GEMMA, num_hidden_layers=3, sliding_window_pattern=2, sliding_window=4, query_pre_attn_scalar=10,
                    pad_token_id=0,
                    rope_parameters={"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
                                     "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}), [T]),
    # Half of each head rotated; LongRoPE's long factors past 8 positions, short ones below; a window of 5.
    "phi3": (transformers.Phi3Config, transformers.Phi3ForCausalLM,
             dict(pad_token_id=0, sliding_window=5, max_position_embeddings=64, original_max_position_embeddings=8,
                  partial_rotary_factor=0.5,
                  rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "short_factor": [1.0, 1.5],
                                   "long_factor": [3.0, 7.0]}), [T, 6]),
    # Learned positions, Conv1D weights [in, out], every bias; its own config names.
    "gpt2": (transformers.GPT2Config, transformers.GPT2LMHeadModel,
             dict(vocab_size=48, n_embd=32, n_layer=2, n_head=4, n_positions=64, activation_function="gelu_new"), [T]),
    # Scores scaled by 1 / (layer + 1) too; an inner size of its own.
    "gpt2_scaled": (transformers.GPT2Config, transformers.GPT2LMHeadModel,
                    dict(vocab_size=48, n_embd=32, n_layer=3, n_head=4, n_positions=64, n_inner=48,
                         scale_attn_by_inverse_layer_idx=True), [T]),
    # Encoders. BERT as a masked LM: its file names the base model "bert." and holds the head "cls.".
    "bert": (transformers.BertConfig, transformers.BertForMaskedLM,
             dict(vocab_size=48, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                  max_position_embeddings=64, hidden_act="gelu"), [T]),
    # RoBERTa counts positions from pad_token_id + 1, skipping pads: the input holds one (id 1).
    "roberta": (transformers.RobertaConfig, transformers.RobertaModel,
                dict(vocab_size=48, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                     max_position_embeddings=64, pad_token_id=1), [T]),
    # An image encoder: 16x16 images in 4x4 patches, 17 tokens with the class token.
    "vit": (transformers.ViTConfig, transformers.ViTForImageClassification,
            dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48, image_size=16,
                 patch_size=4, num_labels=3), [1]),
}
SITES = {"vit": "layers.%d.attention", "gpt2": "transformer.h.%d.attn", "gpt2_scaled": "transformer.h.%d.attn",
         "bert": "encoder.layer.%d.attention.self", "roberta": "encoder.layer.%d.attention.self"}
INPUTS = {"roberta": [3, 17, 5, 29, 11, 1, 40, 7, 23, 31, 13, 19]}  # others: model.layers.%d.self_attn


def bf16_reference(model_class, folder, ids, batch, mask):
    """The folder loaded in bfloat16, as transformers computes it then (what
    pevis --dtype bfloat16 computes): one input, and the padded batch."""
    model = model_class.from_pretrained(folder, dtype=torch.bfloat16, attn_implementation="eager",
                                        disable_mmap=True).eval()
    with torch.no_grad():
        one = model(torch.tensor([ids]), output_attentions=True)
        padded = model(batch, attention_mask=mask, output_attentions=True)
    lengths = [int(n) for n in mask.sum(1)]
    return {"attentions": [a[0].float().tolist() for a in one.attentions],
            "batch": [[a[i, :, :n, :n].float().tolist() for a in padded.attentions] for i, n in enumerate(lengths)]}


def main(out):
    expected = {}
    for name, (config_class, model_class, extra, lengths) in FAMILIES.items():
        torch.manual_seed(len(name))
        settings = dict(COMMON) if name not in SITES else {}
        settings.update(extra)
        config = config_class(**settings)
        config._attn_implementation = "eager"
        model = model_class(config).eval()
        # The rotary tables as the model holds them before any forward (never saved).
        rotary = {n: b.tolist() for n, b in model.named_buffers() if n.endswith("inv_freq") and "original" not in n}
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn_like(p) * 0.3 + (1.0 if p.dim() == 1 else 0.0))
        folder = os.path.join(out, name)
        model.save_pretrained(folder, safe_serialization=True)
        if name == "vit":
            torch.manual_seed(7)
            pixels = torch.randn(1, 3, 16, 16)
            with torch.no_grad():
                result = model(pixel_values=pixels, output_attentions=True)
                loaded = model_class.from_pretrained(folder, dtype=torch.bfloat16, attn_implementation="eager",
                                                     disable_mmap=True).eval()
                bf16 = loaded(pixel_values=pixels, output_attentions=True)
            expected[name] = {"folder": name, "pixels": pixels.flatten().tolist(), "shape": [1, 3, 16, 16],
                              "site": SITES[name], "rotary": rotary,
                              "parameters": sum(p.numel() for p in model.base_model.parameters()),
                              "attentions": [a[0].tolist() for a in result.attentions],
                              "bf16": {"attentions": [a[0].float().tolist() for a in bf16.attentions]},
                              "transformers": transformers.__version__, "torch": torch.__version__}
            print(name, [tuple(a.shape) for a in result.attentions])
            continue
        for n in lengths:
            ids = INPUTS.get(name, IDS)[:n]
            with torch.no_grad():
                result = model(torch.tensor([ids]), output_attentions=True)
            key = name if n == lengths[0] else "%s_%d" % (name, n)
            # pevis builds the base model of a BERT with a task head (the head does not change attention).
            counted = model.base_model if name == "bert" else model
            expected[key] = {"folder": name, "ids": ids, "site": SITES.get(name, "model.layers.%d.self_attn"),
                             "parameters": sum(p.numel() for p in counted.parameters()), "rotary": rotary,
                             "attentions": [a[0].tolist() for a in result.attentions],
                             "transformers": transformers.__version__, "torch": torch.__version__}
            print(key, [tuple(a.shape) for a in result.attentions])
        # A padded batch of two, as pevis makes one of two lines: padded on the
        # right with the config's pad_token_id (0 when it has none in the
        # vocabulary), an attention mask; each input's real tokens kept.
        first = INPUTS.get(name, IDS)[:lengths[0]]
        second = first[:7]
        pad = config.pad_token_id if isinstance(config.pad_token_id, int) and 0 <= config.pad_token_id < config.vocab_size else 0
        ids = torch.tensor([first, second + [pad] * (len(first) - len(second))])
        mask = torch.tensor([[1] * len(first), [1] * len(second) + [0] * (len(first) - len(second))])
        with torch.no_grad():
            result = model(ids, attention_mask=mask, output_attentions=True)
        expected[name]["batch"] = {
            "ids": ids.tolist(), "mask": mask.tolist(), "lengths": [len(first), len(second)],
            "attentions": [[a[i, :, :n, :n].tolist() for a in result.attentions]
                           for i, n in enumerate([len(first), len(second)])]}
        expected[name]["bf16"] = bf16_reference(model_class, folder, first, ids, mask)
    # The Llama folder in bf16, sharded (an index and three shards), as
    # transformers saves it; its reference is transformers' own float32 run
    # of that folder, as pevis computes in float32.
    torch.manual_seed(len("llama"))
    config = transformers.LlamaConfig(**dict(COMMON, rope_theta=10000.0))
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (1.0 if p.dim() == 1 else 0.0))
    folder = os.path.join(out, "llama_bf16_sharded")
    model.to(torch.bfloat16).save_pretrained(folder, safe_serialization=True, max_shard_size="16KB")
    loaded = transformers.LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager",
                                                           disable_mmap=True).eval()
    with torch.no_grad():
        result = loaded(torch.tensor([IDS]), output_attentions=True)
    expected["llama_bf16_sharded"] = {"folder": "llama_bf16_sharded", "ids": IDS, "site": "model.layers.%d.self_attn",
                                      "parameters": sum(p.numel() for p in loaded.parameters()),
                                      "rotary": {n: b.tolist() for n, b in loaded.named_buffers()
                                                 if n.endswith("inv_freq") and "original" not in n},
                                      "attentions": [a[0].tolist() for a in result.attentions],
                                      "transformers": transformers.__version__, "torch": torch.__version__}
    print("llama_bf16_sharded", sorted(os.listdir(folder)))
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main(sys.argv[1])
