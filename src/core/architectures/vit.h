#pragma once
// ViT image encoders (architectures/vit.cpp).

#include <nlohmann/json.hpp>

#include <string>

#include "pevis/io/model.h"

namespace torch::jit {
struct Module;
}

namespace pevis::architectures {

/// ViTModel from `config` on `weights`: the modules named as transformers 5
/// names them (`layers.N.attention.q_proj`), the tensors read by the names
/// its files keep (`vit.encoder.layer.N.attention.attention.query`, with or
/// without `vit.`). A classifier head (`classifier.`) does not change
/// attention and is not built. Throws `pevis::Error` (exit 3) naming
/// `source` for what it cannot build exactly. It computes in `compute`
/// (the pixels are converted to it, as ViTModel converts them to its weights' dtype).
torch::jit::Module build_vit(const Model& weights, const nlohmann::json& config, const std::string& source,
                             at::ScalarType compute);

}  // namespace pevis::architectures
