// `pevis tokenize`: a text through a Hugging Face tokenizer.json, served by
// the front executable (no LibTorch), fast enough to call in a loop.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "pevis/base/archive.h"
#include "pevis/base/error.h"
#include "pevis/text/tokenizer.h"

namespace pevis::cli {
namespace {

struct TokenizeOptions {
  std::string tokenizer, text, input;
  bool text_given = false, no_special = false, json = false;
};

constexpr std::uint64_t kMostTextBytes = 64u << 20;

void run(const TokenizeOptions& options) {
  if (options.text_given == !options.input.empty()) {
    throw Error(ExitCode::kUsage, "pevis tokenize", "give the text with --text TEXT or --input FILE (one of them)");
  }
  const text::Tokenizer tokenizer = text::Tokenizer::load(options.tokenizer);
  std::string text = options.text;
  if (!options.input.empty()) {
    const auto file = open_file(options.input);
    if (file->size() > kMostTextBytes) throw bad_input(options.input, "larger than 64 MB", "tokenize it in parts");
    text = file->read_string(0, file->size());
  }
  const text::Encoding encoding = tokenizer.encode(text, !options.no_special);
  if (options.json) {
    nlohmann::json ids = nlohmann::json::array(), tokens = nlohmann::json::array(), offsets = nlohmann::json::array();
    const text::CharacterOffsets characters(text);
    for (const auto& t : encoding.tokens) {
      ids.push_back(t.id);
      tokens.push_back(t.piece);
      const auto [first, last] = characters(t.begin, t.end);
      offsets.push_back({first, last});
    }
    const nlohmann::json out = {{"ids", ids}, {"tokens", tokens}, {"offsets", offsets}};
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  std::string lines;
  const std::vector<std::string> labels = tokenizer.labels(encoding.tokens);
  for (std::size_t i = 0; i < encoding.tokens.size(); ++i) {
    const auto& t = encoding.tokens[i];
    char head[48];
    std::snprintf(head, sizeof head, "%6zu %8lld  ", i, static_cast<long long>(t.id));
    lines += head + labels[i] + (t.special ? "  (special)" : "") + "\n";
  }
  std::cout << lines << encoding.tokens.size() << " tokens\n";
}

}  // namespace

void setup_tokenize(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* command = app.add_subcommand(
      "tokenize", "encode a text with a Hugging Face tokenizer.json, as the tokenizers library does, and show its tokens");
  command->add_option("TOKENIZER", options->tokenizer, "a tokenizer.json, or a folder holding one")->required();
  command->add_option_function<std::string>(
      "--text",
      [options](const std::string& text) {
        options->text = text;
        options->text_given = true;
      },
      "the text to encode");
  command->add_option("--input", options->input, "a file whose whole content is the text to encode (UTF-8)");
  command->add_flag("--no-special", options->no_special,
                    "leave out the special tokens the post-processor adds (by default they are added, as tokenizer(text) does)");
  command->add_flag("--json", options->json,
                    "print {\"ids\": [...], \"tokens\": [...], \"offsets\": [[start, end], ...]} (offsets in characters)");
  command->footer(
      "Prints each token: its position, its id, and the text it stands for (a space as ␣, a newline as ↵,\n"
      "bytes that are not a character on their own as <0xE2>, invisible and bidirectional marks as ⟨U+202E⟩).\n\n"
      "Examples:\n"
      "  pevis tokenize llama_folder --text \"Hello world\"\n"
      "  pevis tokenize tokenizer.json --input story.txt --json\n"
      "  pevis tokenize tokenizer.json --text \"Hello\" --no-special");
  command->callback([options] { run(*options); });
}

}  // namespace pevis::cli
