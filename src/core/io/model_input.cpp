#include "pevis/io/model_input.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>

#include <sstream>

#include "pevis/base/error.h"
#include "pevis/io/exported_program.h"
#include "pevis/io/tokens.h"

namespace pevis {
namespace {

constexpr std::size_t kMaxTextBytes = 64u << 20;

}  // namespace

ModelInput make_input(const InputRequest& options, const Model* model) {
  if (!options.given() && model && model->program) {
    ModelInput input;  // the example the program was exported with
    input.values = exported_example_inputs(*model);
    if (!input.values.empty() && input.values[0].isTensor() && input.values[0].toTensor().dim() >= 1 &&
        input.values[0].toTensor().is_floating_point()) {
      input.batch = input.values[0].toTensor().size(0);
      input.image = input.values[0].toTensor().dim() == 4;
    }
    return input;
  }
  if (options.input.empty() == options.shape.empty()) {
    throw Error(ExitCode::kUsage, "input", "give exactly one of --input FILE and --input-shape LIST",
                "for example --input seq.txt");
  }
  ModelInput input;
  if (!options.shape.empty()) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
    const auto& shape = options.shape;
    input.values.emplace_back(at::randn(shape, generator));
    input.batch = shape[0];
    input.image = shape.size() == 4;
    return input;
  }
  const auto tokens = split_tokens(read_text_file(options.input, kMaxTextBytes), options.input);
  std::vector<std::string> vocab;
  if (!options.vocab.empty()) vocab = parse_vocab(read_text_file(options.vocab, kMaxTextBytes), options.vocab);
  const TokenSequence seq = map_tokens(tokens, options.vocab.empty() ? nullptr : &vocab,
                                       options.unk.empty() ? std::nullopt : std::optional<std::string>(options.unk),
                                       options.input);
  const auto n = static_cast<std::int64_t>(seq.ids.size());
  at::Tensor ids = at::tensor(seq.ids, at::TensorOptions().dtype(at::kLong));
  // A module pevis built takes its ids batch-first, as transformers' models do.
  const bool batch_first = options.batch_first || (model && !model->built.empty());
  input.values.emplace_back(batch_first ? ids.reshape({1, n}) : ids.reshape({n, 1}));
  input.labels = seq.labels;
  return input;
}

std::string model_details(const std::string& path, const Model& model, bool tensors) {
  // What the files say, each name and value on its own row, shown.
  std::ostringstream out;
  out << one_line(path) << ": " << one_line(model.described()) << ", " << model.tensors.size() << " tensors\n";
  if (model.files.size() > 1) {
    for (const auto& file : model.files) out << "  file " << one_line(file) << "\n";
  }
  for (const auto& [key, value] : model.config) out << "  config.json " << one_line(key) << " = " << one_line(value) << "\n";
  for (const auto& [key, value] : model.metadata) out << "  " << one_line(key) << " = " << one_line(value) << "\n";
  if (!tensors) return out.str();
  for (const auto& t : model.tensors) {
    out << "  " << one_line(t.name) << "  " << c10::toString(t.dtype()) << " [";
    for (std::size_t i = 0; i < t.shape().size(); ++i) out << (i ? ", " : "") << t.shape()[i];
    out << "]\n";
  }
  return out.str();
}

}  // namespace pevis
