#include "pevis/io/model_input.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <random>
#include <sstream>

#include "pevis/base/error.h"
#include "pevis/base/text.h"
#include "pevis/io/exported_program.h"
#include "pevis/io/tokens.h"
#include "pevis/text/tokenizer.h"

namespace pevis {
namespace {

constexpr std::size_t kMaxTextBytes = 64u << 20;
constexpr std::size_t kMaxBatch = 64;

// Sequences, one input each of a batch, as transformers' tokenizers pad a
// batch: on the right, with `pad`, and an attention mask of 1 for the real tokens.
ModelInput padded_batch(const std::vector<TokenSequence>& sequences, std::int64_t pad) {
  ModelInput input;
  std::size_t longest = 0;
  for (const auto& sequence : sequences) longest = std::max(longest, sequence.ids.size());
  const auto b = static_cast<std::int64_t>(sequences.size()), s = static_cast<std::int64_t>(longest);
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

void check_batch(std::size_t n, const std::string& what) {
  if (n > kMaxBatch) {
    throw bad_input(what, std::to_string(n) + " inputs: more than " + std::to_string(kMaxBatch) + " in one batch",
                    "give at most " + std::to_string(kMaxBatch));
  }
}

// The tokenizer.json the input is read with: --tokenizer, else the model
// folder's own; empty when there is none.
std::string tokenizer_path(const InputRequest& options, const Model* model) {
  if (!options.tokenizer.empty()) return options.tokenizer;
  if (!model || model->config_file.empty()) return "";
  const std::filesystem::path own = std::filesystem::path(model->config_file).parent_path() / "tokenizer.json";
  std::error_code error;
  return std::filesystem::is_regular_file(own, error) ? own.string() : "";
}

bool only_whole_numbers(const std::string& text) {
  return text.find_first_not_of("0123456789 \t\r\n\f\v") == std::string::npos &&
         text.find_first_of("0123456789") != std::string::npos;
}

// Texts through the tokenizer: each one sequence, with the special tokens its
// post-processor adds, labelled with the text each token stands for.
std::vector<TokenSequence> tokenized(const std::vector<std::string>& texts, const std::string& path) {
  const text::Tokenizer tokenizer = text::Tokenizer::load(path);
  std::vector<TokenSequence> sequences;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const text::Encoding encoding = tokenizer.encode(texts[i], true);
    TokenSequence sequence;
    for (const auto& token : encoding.tokens) sequence.ids.push_back(token.id);
    sequence.labels = tokenizer.labels(encoding.tokens);
    const std::string which = texts.size() > 1 ? "text " + std::to_string(i + 1) : "the text";
    if (sequence.ids.empty()) throw bad_input(which, "the tokenizer makes no token of it", "give a text that is not empty");
    if (sequence.ids.size() > kMaxTokens) {
      throw bad_input(which, std::to_string(sequence.ids.size()) + " tokens: more than the " + std::to_string(kMaxTokens) +
                                 " pevis feeds a model", "give a shorter text");
    }
    sequences.push_back(std::move(sequence));
  }
  return sequences;
}

// One sequence as the model takes it: [1, S] batch-first, else [S, 1].
ModelInput one_sequence(const TokenSequence& seq, bool batch_first) {
  ModelInput input;
  const auto n = static_cast<std::int64_t>(seq.ids.size());
  at::Tensor ids = at::tensor(seq.ids, at::TensorOptions().dtype(at::kLong));
  input.values.emplace_back(batch_first ? ids.reshape({1, n}) : ids.reshape({n, 1}));
  input.labels = seq.labels;
  return input;
}

}  // namespace

// --repeat-random P: a block of P ids drawn uniformly from the vocabulary
// (its size from the folder's config.json, or the --vocab file), then the
// same block again.
ModelInput repeated_random(const InputRequest& options, const Model* model, bool batch_first) {
  const std::int64_t period = options.repeat_random;
  if (period < 2 || static_cast<std::size_t>(period) > kMaxTokens / 2) {
    throw bad_input("--repeat-random " + std::to_string(period),
                    "a block must be 2 to " + std::to_string(kMaxTokens / 2) + " tokens (the input is twice the block)");
  }
  std::vector<std::string> vocab;
  std::int64_t size = 0;
  if (!options.vocab.empty()) {
    vocab = parse_vocab(read_text_file(options.vocab, kMaxTextBytes), options.vocab);
    size = static_cast<std::int64_t>(vocab.size());
  } else if (model) {
    for (const auto& [key, value] : model->config) {
      if (key == "vocab_size") size = whole_number(value).value_or(0);
    }
  }
  if (size < 2) {
    throw Error(ExitCode::kUsage, "--repeat-random",
                "the vocabulary's size is not known: it comes from a Hugging Face folder's config.json (vocab_size)",
                "give the vocabulary with --vocab FILE");
  }
  // mt19937_64 is the same generator everywhere (a standard library's
  // distributions are not), so a seed names the same block on any machine.
  std::mt19937_64 random(options.seed);
  std::vector<std::int64_t> block;
  for (std::int64_t i = 0; i < period; ++i) block.push_back(static_cast<std::int64_t>(random() % static_cast<std::uint64_t>(size)));
  TokenSequence sequence;
  sequence.ids = block;
  sequence.ids.insert(sequence.ids.end(), block.begin(), block.end());
  for (const std::int64_t id : sequence.ids) {
    sequence.labels.push_back(vocab.empty() ? std::to_string(id) : vocab[static_cast<std::size_t>(id)]);
  }
  return one_sequence(sequence, batch_first);
}

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
  if (static_cast<int>(!options.input.empty()) + static_cast<int>(!options.shape.empty()) +
          static_cast<int>(!options.texts.empty()) + static_cast<int>(options.repeat_random != 0) != 1) {
    throw Error(ExitCode::kUsage, "input",
                "give exactly one of --input FILE, --text TEXT, --input-shape LIST and --repeat-random P",
                "for example --input seq.txt");
  }
  const bool built = model && !model->built.empty();
  // A module pevis built takes its ids batch-first, as transformers' models do.
  const bool batch_first = options.batch_first || built;
  if (options.repeat_random != 0) return repeated_random(options, model, batch_first);
  if (!options.texts.empty()) {
    const std::string path = tokenizer_path(options, model);
    if (path.empty()) {
      throw Error(ExitCode::kUsage, "--text", "there is no tokenizer to read it: the model has no tokenizer.json beside it",
                  "name one with --tokenizer PATH");
    }
    check_batch(options.texts.size(), "--text");
    if (options.texts.size() > 1 && !built) {
      throw Error(ExitCode::kUsage, "--text", "several texts are a batch, which only the folders pevis builds take",
                  "give one --text");
    }
    const auto sequences = tokenized(options.texts, path);
    return sequences.size() > 1 ? padded_batch(sequences, model->built_pad) : one_sequence(sequences[0], batch_first);
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
  // A text file where a tokenizer reads it: --tokenizer, or a folder's own
  // tokenizer.json and a file that is not ids.
  const std::string tokenizer = options.vocab.empty() ? tokenizer_path(options, model) : "";
  const bool as_text = !tokenizer.empty() && (!options.tokenizer.empty() || !only_whole_numbers(text));
  std::vector<std::string> lines;
  if (built) {  // each non-empty line one input
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t\r\f\v") != std::string::npos) lines.push_back(line);
    }
  }
  if (as_text) {
    if (!built) lines = {text};
    check_batch(lines.size(), options.input);
    const auto sequences = tokenized(lines, tokenizer);
    return sequences.size() > 1 ? padded_batch(sequences, model->built_pad) : one_sequence(sequences[0], batch_first);
  }
  if (lines.size() > 1) {
    check_batch(lines.size(), options.input);
    std::vector<TokenSequence> sequences;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const std::string where = options.input + " line " + std::to_string(i + 1);
      sequences.push_back(map_tokens(split_tokens(lines[i], where), options.vocab.empty() ? nullptr : &vocab,
                                     options.unk.empty() ? std::nullopt : std::optional<std::string>(options.unk), where));
    }
    return padded_batch(sequences, model->built_pad);
  }
  const auto tokens = split_tokens(text, options.input);
  return one_sequence(map_tokens(tokens, options.vocab.empty() ? nullptr : &vocab,
                                 options.unk.empty() ? std::nullopt : std::optional<std::string>(options.unk),
                                 options.input),
                      batch_first);
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
