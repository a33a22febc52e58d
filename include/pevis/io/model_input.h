#pragma once
// The model's one input, built from the request: token ids from a token file
// (and vocabulary), a random float tensor of a given shape, or the example a
// torch.export program was saved with.

#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

#include "pevis/io/input_request.h"
#include "pevis/io/model.h"

namespace pevis {

/// The model's input and a label per token (empty for --input-shape).
struct ModelInput {
  std::vector<c10::IValue> values;
  std::vector<std::string> labels;
  std::int64_t batch = 1;    ///< inputs in the batch: the first size of a float input, 1 for tokens
  bool image = false;        ///< a 4-D float input, [N, C, H, W]
  /// A padded batch of token sequences (a built model given several lines):
  /// each input's real length and labels; `values` are the ids [B, S],
  /// padded on the right, and the attention mask [B, S] (1 real, 0 pad).
  /// Empty otherwise.
  std::vector<std::int64_t> lengths;
  std::vector<std::vector<std::string>> line_labels;
};

/// Builds the input; with no input asked for and a torch.export `model`, its
/// example. Throws `pevis::Error` (exit 2 when no input or two are given, 3
/// for files and values pevis cannot use).
ModelInput make_input(const InputRequest& request, const Model* model = nullptr);

/// For --verbose: the model's format and files, what its config.json
/// declares, its other entries (such as `epoch`), and with `tensors` each
/// tensor's name, dtype and shape (known without reading its data).
std::string model_details(const std::string& path, const Model& model, bool tensors);

}  // namespace pevis
