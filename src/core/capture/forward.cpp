#include "pevis/capture/forward.h"

#include <torch/csrc/jit/api/module.h>

#include <cctype>

#include "backends.h"

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

std::string first_layer_expects(const Model& model) {
  for (const auto& t : model.tensors) {
    const std::string suffix = ".weight";
    if (t.name.size() <= suffix.size() || t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string layer = t.name.substr(0, t.name.size() - suffix.size());
    const auto& shape = t.shape();
    if (shape.size() < 2 || shape.size() > 5) continue;  // not a linear, embedding or convolution weight
    // The module's class where the file keeps it (TorchScript), else the name.
    std::string lower = layer;
    if (model.module) {
      for (const auto& item : model.module->named_modules()) {
        if (item.name == layer && item.value.type()->name()) lower = item.value.type()->name()->qualifiedName();
      }
    }
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (shape.size() == 2 && (lower.find("emb") != std::string::npos || lower.find("wte") != std::string::npos)) {
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
