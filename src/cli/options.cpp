#include "options.h"
#include "runners.h"

namespace pevis::cli {
namespace {

std::vector<std::string>& command_line() {
  static std::vector<std::string> words;
  return words;
}

}  // namespace

void keep_command_line(int argc, char** argv) { command_line().assign(argv, argv + argc); }

const std::vector<std::string>& kept_command_line() { return command_line(); }

void add_input_options(CLI::App& command, InputOptions& options) {
  const std::string group = "Input";
  command.add_option("--input", options.input, "token file: whitespace-separated ids, or words with --vocab")->group(group);
  command.add_option("--vocab", options.vocab, "vocabulary: one token per line, the line number (from 0) is its id")
      ->group(group);
  command.add_option("--unk", options.unk, "vocabulary token to use for words the vocabulary lacks")->group(group);
  command
      .add_option_function<std::string>(
          "--layout", [&options](const std::string& name) { options.batch_first = name == "batch-first"; },
          "shape of the token tensor: seq-first [S, 1] or batch-first [1, S]")
      ->check(CLI::IsMember({"seq-first", "batch-first"}))
      ->default_str("seq-first")
      ->group(group);
  command.add_option("--input-shape", options.input_shape, "feed a random float tensor of this shape instead, e.g. 1,3,224,224")
      ->group(group);
  command.add_option("--seed", options.seed, "seed of the random input")->capture_default_str()->group(group);
}

}  // namespace pevis::cli
