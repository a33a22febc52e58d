#include "model_input.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>

#include "output_options.h"
#include "pevis/base/error.h"
#include "pevis/io/exported_program.h"
#include "pevis/io/tokens.h"

namespace pevis::cli {
namespace {

constexpr std::size_t kMaxTextBytes = 64u << 20;

std::vector<std::int64_t> parse_shape(const std::string& text) {
  std::vector<std::int64_t> shape;
  std::size_t start = 0;
  std::uint64_t total = 1;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, end - start);
    const auto parsed = whole_number(part);
    if (!parsed) {
      throw Error(ExitCode::kUsage, "--input-shape " + text, "expected whole numbers separated by commas",
                  "for example --input-shape 1,3,224,224");
    }
    const long long value = *parsed;
    if (value < 1 || value > 1000000 || shape.size() == 8) {
      throw bad_input("--input-shape " + text, "each size must be from 1 to 1000000, with at most 8 of them");
    }
    total *= static_cast<std::uint64_t>(value);
    if (total > 256u << 20) throw bad_input("--input-shape " + text, "the input would have more than 268 million values");
    shape.push_back(value);
    start = end + 1;
  }
  return shape;
}

}  // namespace

ModelInput make_input(const InputOptions& options, const Model* model) {
  if (options.input.empty() && options.input_shape.empty() && model && model->program) {
    ModelInput input;  // the example the program was exported with
    input.values = exported_example_inputs(*model);
    if (!input.values.empty() && input.values[0].isTensor() && input.values[0].toTensor().dim() >= 1 &&
        input.values[0].toTensor().is_floating_point()) {
      input.batch = input.values[0].toTensor().size(0);
      input.image = input.values[0].toTensor().dim() == 4;
    }
    return input;
  }
  if (options.input.empty() == options.input_shape.empty()) {
    throw Error(ExitCode::kUsage, "input", "give exactly one of --input FILE and --input-shape LIST",
                "for example --input seq.txt");
  }
  ModelInput input;
  if (!options.input_shape.empty()) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
    const auto shape = parse_shape(options.input_shape);
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
  input.values.emplace_back(options.batch_first ? ids.reshape({1, n}) : ids.reshape({n, 1}));
  input.labels = seq.labels;
  return input;
}

void print_model_details(std::ostream& out, const std::string& path, const Model& model, bool tensors) {
  out << path << ": " << model.format << ", " << model.tensors.size() << " tensors\n";
  if (model.files.size() > 1) {
    for (const auto& file : model.files) out << "  file " << file << "\n";
  }
  for (const auto& [key, value] : model.config) out << "  config.json " << key << " = " << value << "\n";
  for (const auto& [key, value] : model.metadata) out << "  " << key << " = " << value << "\n";
  if (!tensors) return;
  for (const auto& t : model.tensors) {
    out << "  " << t.name << "  " << c10::toString(t.dtype()) << " [";
    for (std::size_t i = 0; i < t.shape().size(); ++i) out << (i ? ", " : "") << t.shape()[i];
    out << "]\n";
  }
}

}  // namespace pevis::cli
