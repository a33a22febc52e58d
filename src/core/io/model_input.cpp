#include "pevis/io/model_input.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "pevis/base/error.h"
#include "pevis/io/exported_program.h"
#include "pevis/io/tokens.h"

namespace pevis {
namespace {

constexpr std::size_t kMaxTextBytes = 64u << 20;
constexpr std::size_t kMaxBatch = 64;

// Each line one input of a batch, as transformers' tokenizers pad a batch:
// on the right, with `pad`, and an attention mask of 1 for the real tokens.
ModelInput padded_batch(const std::vector<std::string>& lines, const std::vector<std::string>& vocab,
                        const InputRequest& options, std::int64_t pad) {
  if (lines.size() > kMaxBatch) {
    throw bad_input(options.input, std::to_string(lines.size()) + " lines: more than " + std::to_string(kMaxBatch) +
                                       " inputs in one batch",
                    "give at most " + std::to_string(kMaxBatch) + " lines");
  }
  ModelInput input;
  std::vector<TokenSequence> sequences;
  std::size_t longest = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string where = options.input + " line " + std::to_string(i + 1);
    sequences.push_back(map_tokens(split_tokens(lines[i], where), options.vocab.empty() ? nullptr : &vocab,
                                   options.unk.empty() ? std::nullopt : std::optional<std::string>(options.unk), where));
    longest = std::max(longest, sequences.back().ids.size());
  }
  const auto b = static_cast<std::int64_t>(lines.size()), s = static_cast<std::int64_t>(longest);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(b * s), pad), mask(static_cast<std::size_t>(b * s), 0);
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    for (std::size_t j = 0; j < sequences[i].ids.size(); ++j) {
      ids[i * longest + j] = sequences[i].ids[j];
      mask[i * longest + j] = 1;
    }
    input.lengths.push_back(static_cast<std::int64_t>(sequences[i].ids.size()));
    input.line_labels.push_back(sequences[i].labels);
  }
  const auto as_long = at::TensorOptions().dtype(at::kLong);
  input.values.emplace_back(at::tensor(ids, as_long).reshape({b, s}));
  input.values.emplace_back(at::tensor(mask, as_long).reshape({b, s}));
  input.batch = b;
  input.labels = input.line_labels.front();
  return input;
}

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
  const std::string text = read_text_file(options.input, kMaxTextBytes);
  std::vector<std::string> vocab;
  if (!options.vocab.empty()) vocab = parse_vocab(read_text_file(options.vocab, kMaxTextBytes), options.vocab);
  if (model && !model->built.empty()) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.find_first_not_of(" \t\r\f\v") != std::string::npos) lines.push_back(line);
    }
    if (lines.size() > 1) return padded_batch(lines, vocab, options, model->built_pad);
  }
  const auto tokens = split_tokens(text, options.input);
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
