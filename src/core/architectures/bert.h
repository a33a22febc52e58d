#pragma once
// BERT and RoBERTa encoders (architectures/bert.cpp).

#include <nlohmann/json.hpp>

#include <string>

#include "pevis/io/model.h"

namespace torch::jit {
struct Module;
}

namespace pevis::architectures {

/// BertModel (`roberta`: RobertaModel, positions counted from
/// pad_token_id + 1) from `config` on `weights`, whose names may carry the
/// `bert.`/`roberta.` prefix. The task heads of BertFor*/RobertaFor* models
/// (`cls.`, `lm_head.`, `classifier.`, `qa_outputs.`) do not change
/// attention and are not built. Throws `pevis::Error` (exit 3) naming
/// `source` for what it cannot build exactly. It computes in `compute`.
torch::jit::Module build_bert(const std::string& family, const Model& weights, const nlohmann::json& config,
                              const std::string& source, at::ScalarType compute);

}  // namespace pevis::architectures
