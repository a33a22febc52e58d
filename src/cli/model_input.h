#pragma once

#include "options.h"
#include "pevis/io/model.h"

#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

namespace pevis::cli {

/// The model's input and a label per token (empty for --input-shape).
struct ModelInput {
  std::vector<c10::IValue> values;
  std::vector<std::string> labels;
  std::int64_t batch = 1;    ///< inputs in the batch: the first size of a float input, 1 for tokens
  bool image = false;        ///< a 4-D float input, [N, C, H, W]
};

/// Builds the input; throws `pevis::Error` (exit 2 for a malformed
/// --input-shape, 3 for files and values pevis cannot use).
ModelInput make_input(const InputOptions& options, const Model* model = nullptr);

/// For --verbose: the model's format and files, what its config.json
/// declares, its other entries (such as `epoch`), and with `tensors` each
/// tensor's name, dtype and shape (known without reading its data).
void print_model_details(std::ostream& out, const std::string& path, const Model& model, bool tensors);

}  // namespace pevis::cli
