#include "options.h"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "runners.h"
#include "pevis/base/error.h"
#include "pevis/base/text.h"
#include "pevis/operators/operator_name.h"

namespace pevis::cli {
namespace {

std::vector<std::string>& command_line() {
  static std::vector<std::string> words;
  return words;
}

bool& confining() {
  static bool on = false;
  return on;
}

}  // namespace

void enable_confinement() { confining() = true; }
bool confinement_enabled() { return confining(); }

void arm_time_limit(double seconds) {
  if (!(seconds > 0) || !confinement_enabled()) return;
  seconds = std::min(seconds, 1e9);  // about 30 years: a deadline the clock can hold
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
  char seconds_text[32];
  std::snprintf(seconds_text, sizeof seconds_text, "%g", seconds);
  const std::string line = "pevis: the job : ran longer than its time limit of " + std::string(seconds_text) +
                           " s, so it was stopped (give a larger --time-limit, or 0 for none, if the model is simply "
                           "slow or the output large)\n";
  // Its thread outlives main: what it uses is its own.
  std::thread([deadline, line] {
    std::this_thread::sleep_until(deadline);
    if (::write(STDERR_FILENO, line.data(), line.size()) < 0) {
    }
    ::_exit(static_cast<int>(ExitCode::kBadInput));
  }).detach();
}

void add_safety_options(CLI::App& command, SafetyOptions& options, bool with_verbose) {
  const std::string group = "Safety";
  command
      .add_option("--allow-op", options.allow_ops,
                  "let the model call this operator although it is not on pevis's list (a qualified name such as "
                  "aten::from_file; repeat for more): only for a file you trust")
      ->check(CLI::Validator(
          [](std::string& name) -> std::string {
            return is_qualified_operator_name(name)
                       ? ""
                       : "'" + one_line(name) + "' is not a qualified operator name such as aten::from_file";
          },
          ""))
      ->type_name("OPERATOR")
      ->group(group);
  command
      .add_option("--time-limit", options.time_limit,
                  "stop with exit 3 when the job (loading and running the model, writing its output) takes longer than this many seconds (0: no limit)")
      ->type_name("SECONDS")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            double seconds = -1;
            try {
              seconds = std::stod(text);
            } catch (const std::exception&) {
            }
            return std::isfinite(seconds) && seconds >= 0 ? "" : "'" + one_line(text) + "' is not a number of seconds (0 or more)";
          },
          ""))
      ->capture_default_str()
      ->group(group);
  if (with_verbose) command.add_flag("-v,--verbose", options.verbose, "say which confinement the job runs in")->group(group);
}

void keep_command_line(int argc, char** argv) { command_line().assign(argv, argv + argc); }

const std::vector<std::string>& kept_command_line() { return command_line(); }

void add_input_options(CLI::App& command, InputOptions& options) {
  const std::string group = "Input";
  InputRequest& request = options.request;
  command.add_option("--input", request.input, "token file: whitespace-separated ids, or words with --vocab")->group(group);
  command.add_option("--text", request.texts,
                     "a text for the tokenizer (the model folder's tokenizer.json, or --tokenizer); repeat it for a "
                     "batch")
      ->group(group);
  command.add_option("--tokenizer", request.tokenizer,
                     "a tokenizer.json (or a folder holding one) for --text, and for --input read as text")
      ->group(group);
  command.add_option("--vocab", request.vocab, "vocabulary: one token per line, the line number (from 0) is its id")
      ->group(group);
  command.add_option("--unk", request.unk, "vocabulary token to use for words the vocabulary lacks")->group(group);
  command
      .add_option_function<std::string>(
          "--layout", [&request](const std::string& name) { request.batch_first = name == "batch-first"; },
          "shape of the token tensor: seq-first [S, 1] or batch-first [1, S]")
      ->check(CLI::IsMember({"seq-first", "batch-first"}))
      ->default_str("seq-first")
      ->group(group);
  command.add_option("--input-shape", options.shape, "feed a random float tensor of this shape instead, e.g. 1,3,224,224")
      ->group(group);
  command
      .add_option("--repeat-random", request.repeat_random,
                  "feed P random token ids (from --seed), then the same P again: induction heads show on it, and "
                  "heads.csv gets their induction score")
      ->option_text("P")
      ->group(group);
  command.add_option("--seed", request.seed, "seed of the random input (--input-shape, --repeat-random)")
      ->capture_default_str()
      ->group(group);
  command
      .add_option_function<std::string>(
          "--dtype", [&request](const std::string& name) { request.bfloat16 = name == "bfloat16"; },
          "what a Hugging Face folder pevis builds computes in: float32, or bfloat16 as transformers computes a model "
          "loaded in bfloat16 (norms, rotary tables and softmax in float32 where it does so)")
      ->check(CLI::IsMember({"float32", "bfloat16"}))
      ->default_str("float32")
      ->group(group);
}

InputRequest input_request(const InputOptions& options) {
  InputRequest request = options.request;
  const std::string& text = options.shape;
  if (text.empty()) return request;
  std::size_t start = 0;
  std::uint64_t total = 1;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const auto parsed = whole_number(text.substr(start, end - start));
    if (!parsed) {
      throw Error(ExitCode::kUsage, "--input-shape " + text, "expected whole numbers separated by commas",
                  "for example --input-shape 1,3,224,224");
    }
    const long long value = *parsed;
    if (value < 1 || value > 1000000 || request.shape.size() == 8) {
      throw bad_input("--input-shape " + text, "each size must be from 1 to 1000000, with at most 8 of them");
    }
    total *= static_cast<std::uint64_t>(value);
    if (total > 256u << 20) throw bad_input("--input-shape " + text, "the input would have more than 268 million values");
    request.shape.push_back(value);
    start = end + 1;
  }
  return request;
}

}  // namespace pevis::cli
