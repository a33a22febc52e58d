#pragma once
// Weights-only Hugging Face folders made runnable: pevis builds the standard
// architectures from config.json, as TorchScript modules named as
// transformers names them (`model.layers.0.self_attn`), computing attention
// as transformers' eager path does, and fills them with the folder's
// weights. Every back-end that runs a TorchScript module (capture, summary)
// then runs them unchanged. A registry: one entry per family.

#include <c10/core/ScalarType.h>

#include <string>
#include <vector>

#include "pevis/io/model.h"

namespace pevis {

/// The `model_type`s pevis builds, in the registry's order.
std::vector<std::string> built_model_types();

/// `model` unchanged when it holds a forward pass or has no config.json;
/// otherwise the architecture its config.json names, built on its weights
/// (read from the file where a layer uses them), with `Model::built` set.
/// It computes in `compute`: float32, or bfloat16 as transformers computes
/// a model loaded in bfloat16 (its norms, rotary tables and, where
/// transformers does, softmax in float32). Its forward returns the logits when `logits`, else
/// the last hidden states, without computing the output head. Throws
/// `pevis::Error` (exit 3), naming what is missing, for an unknown
/// `model_type` (listing the known ones), a config feature not implemented
/// (a rope type, an activation), a missing tensor (its name and expected
/// shape) or one of another shape: never an approximate model.
/// A `compute` other than float32 for a model that is not built is a usage
/// error (exit 2).
Model with_forward(Model model, bool logits = true, at::ScalarType compute = at::kFloat);

/// The rotary frequencies the model built from `model`'s config.json
/// computes and never saves, named as transformers names those buffers:
/// `model.rotary_emb.inv_freq` (LongRoPE's long ones
/// `model.rotary_emb.long_inv_freq`; Gemma 3's per layer type
/// `model.rotary_emb.full_attention_inv_freq` and
/// `...sliding_attention_inv_freq`). Empty when there is no config.json,
/// its family has no rotary positions or is not built, or the config cannot
/// be built (what `with_forward` would refuse); `why` then says so where it
/// is not empty.
std::vector<NamedTensor> computed_rotary_buffers(const Model& model, std::string* why = nullptr);

}  // namespace pevis
