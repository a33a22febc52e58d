#pragma once
// The two back-ends of the forward hook: TorchScript modules (script.cpp) and
// torch.export programs (program.cpp). forward.cpp chooses one per model.

#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

#include "pevis/capture/forward.h"

namespace pevis {

/// What a back-end does: the calls of forward.h, for its kind of model.
struct ForwardBackend {
  c10::IValue (*plain)(const Model& model, const std::vector<c10::IValue>& inputs);
  CaptureResult (*capture)(const Model& model, const std::vector<c10::IValue>& inputs,
                           const std::vector<std::string>& kinds, bool explicit_paths, const SiteFilter& wanted);
  ForwardTrace (*trace)(const Model& model, const std::vector<c10::IValue>& inputs,
                        const std::vector<std::string>& op_kinds);
  std::string (*signature)(const Model& model);
};

const ForwardBackend& script_backend();
const ForwardBackend& program_backend();

}  // namespace pevis
