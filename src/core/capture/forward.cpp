#include "pevis/capture/forward.h"

#include <torch/csrc/jit/api/module.h>

#include <ATen/core/Tensor.h>

#include <algorithm>
#include <cctype>

#include "backends.h"
#include "pevis/base/shape_text.h"
#include "pevis/base/text.h"

namespace pevis {
namespace {

// The back-end of a model, chosen once per call: a torch.export program runs
// in pevis's interpreter, anything else is a TorchScript module (which says
// so where the file holds no forward).
const ForwardBackend& backend_of(const Model& model) {
  return model.program ? program_backend() : script_backend();
}

}  // namespace

c10::IValue plain_forward(const Model& model, const std::vector<c10::IValue>& inputs) {
  return backend_of(model).plain(model, inputs);
}

CaptureResult capture_forward(const Model& model, const std::vector<c10::IValue>& inputs,
                              const std::vector<std::string>& kinds, bool explicit_paths, const SiteFilter& wanted) {
  return backend_of(model).capture(model, inputs, kinds, explicit_paths, wanted);
}

ForwardTrace trace_forward(const Model& model, const std::vector<c10::IValue>& inputs,
                           const std::vector<std::string>& op_kinds) {
  return backend_of(model).trace(model, inputs, op_kinds);
}

std::string forward_signature(const Model& model) { return backend_of(model).signature(model); }

namespace {

bool is_embedding(const std::string& class_or_path) {
  const std::string name = lower_case(class_or_path);
  return name.find("emb") != std::string::npos || name.find("wte") != std::string::npos ||
         name.find("wpe") != std::string::npos;
}

bool is_position_table(const std::string& path) {
  const std::string name = lower_case(path);
  return name.find("pos") != std::string::npos || name.find("wpe") != std::string::npos;
}

// The one input tensor when it holds token ids (whole numbers), else null.
const at::Tensor* token_ids(const std::vector<c10::IValue>& inputs) {
  if (inputs.size() != 1 || !inputs[0].isTensor()) return nullptr;
  const at::Tensor& t = inputs[0].toTensor();
  return at::isFloatingType(t.scalar_type()) || at::isComplexType(t.scalar_type()) ? nullptr : &t;
}

// "token ids [8, 1] (seq-first; --layout batch-first gives [1, 8])".
std::string input_text(const std::vector<c10::IValue>& inputs) {
  if (inputs.size() != 1 || !inputs[0].isTensor()) return "";
  const at::Tensor& t = inputs[0].toTensor();
  const bool ids = token_ids(inputs) != nullptr;
  std::string text = "pevis gave it " + std::string(ids ? "token ids " : "a float tensor ") + shape_list_text(t.sizes().vec());
  if (ids && t.dim() == 2 && t.size(1) == 1 && t.size(0) > 1) {
    text += " (seq-first; --layout batch-first gives [1, " + std::to_string(t.size(0)) + "])";
  } else if (ids && t.dim() == 2 && t.size(0) == 1 && t.size(1) > 1) {
    text += " (batch-first; --layout seq-first gives [" + std::to_string(t.size(1)) + ", 1])";
  }
  return text;
}

// A token id outside the first embedding's rows, or more tokens than a
// later table (positions) has rows: said with the id and the table.
std::string index_diagnosis(const Model& model, const std::vector<c10::IValue>& inputs, const std::string& what) {
  if (what.find("index out of range") == std::string::npos && what.find("out of bounds") == std::string::npos) return "";
  const at::Tensor* ids = token_ids(inputs);
  if (!ids || ids->numel() == 0) return "";
  const at::Tensor& t = *ids;
  const auto tables = embedding_tables(model);
  if (tables.empty()) return "";
  const std::int64_t low = t.min().item<std::int64_t>(), high = t.max().item<std::int64_t>();
  // The token table: the first that is no position table.
  std::size_t token = 0;
  while (token + 1 < tables.size() && is_position_table(tables[token].first)) ++token;
  const auto& [name, rows] = tables[token];
  const std::string range = " (" + std::to_string(rows) + " rows: ids 0 to " + std::to_string(rows - 1) + ")";
  if (low < 0) return "token id " + std::to_string(low) + " is negative; " + name + " takes ids 0 to " + std::to_string(rows - 1);
  if (high >= rows) return "token id " + std::to_string(high) + " is outside the vocabulary of " + name + range;
  const std::int64_t length = t.dim() == 0 ? 1 : *std::max_element(t.sizes().begin(), t.sizes().end());
  for (std::size_t i = 0; i < tables.size(); ++i) {
    if (is_position_table(tables[i].first) && length > tables[i].second) {
      return "the input has " + std::to_string(length) + " tokens, but " + tables[i].first + " holds " +
             std::to_string(tables[i].second) + " positions: give at most " + std::to_string(tables[i].second) + " tokens";
    }
  }
  return "";
}

}  // namespace

std::string module_class(const Model& model, const std::string& layer) {
  if (model.module) {
    for (const auto& item : model.module->named_modules()) {
      if (item.name == layer && item.value.type()->name()) return item.value.type()->name()->qualifiedName();
    }
  }
  return layer;
}

std::vector<std::pair<std::string, std::int64_t>> embedding_tables(const Model& model) {
  std::vector<std::pair<std::string, std::int64_t>> tables;
  for (const auto& t : model.tensors) {
    if (t.name.size() <= 7 || !ends_with(t.name, ".weight") || t.shape().size() != 2) continue;
    const std::string layer = t.name.substr(0, t.name.size() - 7);
    bool seen = false;
    for (const auto& known : tables) seen = seen || known.first == layer;
    if (!seen && is_embedding(module_class(model, layer))) tables.emplace_back(layer, t.shape()[0]);
  }
  return tables;
}

Error forward_failed(const Model& model, const std::vector<c10::IValue>& inputs, const std::string& where,
                     const std::string& what, const std::string& takes, const std::string& known) {
  const std::string diagnosis = known.empty() ? index_diagnosis(model, inputs, what) : known;
  std::string hint = input_text(inputs);
  hint += (hint.empty() ? "" : "; ") + takes;
  // What the first layer takes helps where the input is of the wrong kind
  // (a float tensor to a model that embeds token ids, or the other way).
  const std::string first = first_layer_expects(model);
  if (!first.empty() && !token_ids(inputs)) hint += "; " + first;
  std::string message = (where.empty() ? "the model's forward" : where) + " failed on this input: ";
  message += diagnosis.empty() ? what : diagnosis + "; LibTorch said: " + what;
  return bad_input(model.path, message, hint);
}

std::string first_layer_expects(const Model& model) {
  for (const auto& t : model.tensors) {
    const std::string suffix = ".weight";
    if (t.name.size() <= suffix.size() || t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string layer = t.name.substr(0, t.name.size() - suffix.size());
    const auto& shape = t.shape();
    if (shape.size() < 2 || shape.size() > 5) continue;  // not a linear, embedding or convolution weight
    if (shape.size() == 2 && is_embedding(module_class(model, layer))) {
      return layer + " takes token ids (give them with --input)";
    }
    if (shape.size() == 2) return layer + " expects [..., " + std::to_string(shape[1]) + "]";
    if (shape.size() >= 3 && shape.size() <= 5) {
      static const char* spatial[] = {"L", "H, W", "D, H, W"};
      return layer + " expects [N, " + std::to_string(shape[1]) + ", " + spatial[shape.size() - 3] + "]";
    }
  }
  return "";
}

}  // namespace pevis
