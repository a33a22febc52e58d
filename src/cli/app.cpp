#include "app.h"

#include <algorithm>
#include <string>
#include <vector>

#include "commands.h"
#include "pevis/base/error.h"
#include "pevis/base/memory.h"

#ifndef PEVIS_VERSION
#define PEVIS_VERSION "unknown"
#endif

namespace pevis::cli {

std::unique_ptr<CLI::App> make_app() {
  auto app = std::make_unique<CLI::App>(
      "pevis: see what is inside a PyTorch model: positional encodings, biases, attention, structure.\n"
      "Figures are drawn with gnuplot; the numbers behind every figure are written beside it.",
      "pevis");
  app->set_version_flag("--version", std::string("pevis ") + PEVIS_VERSION);
  app->require_subcommand(1);
  app->footer(
      "Examples:\n"
      "  pevis encoding --d-model 512                 # sinusoidal table, figures in pevis-out/\n"
      "  pevis builtins                               # models to try: builtin:NAME works as a file\n"
      "  pevis encoding --d-model 64 --format txt     # draw on the terminal\n"
      "  pevis bias model.pt                          # every bias vector of a model\n"
      "  pevis bias before.pt after.pt                # what training changed\n"
      "  pevis attention model.pt --input seq.txt --vocab vocab.txt\n"
      "  pevis summary model.pt --input-shape 1,3,224,224  # the structure table\n"
      "  pevis tokenize model_folder --text \"Hello world\"  # a tokenizer.json's tokens\n"
      "  pevis SUBCOMMAND --help                      # options of one subcommand\n\n"
      "Exit codes: 0 success, 1 internal error, 2 usage error, 3 bad input,\n"
      "4 output error (cannot write, gnuplot missing or failed), 5 a requested check failed.");
  // Every subcommand, in the order --help lists them.
  for (auto* setup : {&setup_encoding, &setup_bias, &setup_attention, &setup_summary, &setup_builtins, &setup_export,
                      &setup_tokenize}) {
    setup(*app);
  }
  return app;
}

namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The option of `command` nearest to `word` ("--dmodel" -> "--d-model"), or
// "" when none is near: within a third of the word's length.
std::string nearest_option(const CLI::App& command, const std::string& word) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(1, word.size() / 3) + 1;
  for (const CLI::Option* option : command.get_options()) {
    for (const std::string& name : option->get_lnames()) {
      const std::size_t d = edit_distance(word, "--" + name);
      if (d < best_distance) best_distance = d, best = "--" + name;
    }
  }
  return best;
}

}  // namespace

std::string usage_message(const CLI::App& app, const CLI::ParseError& error, int argc, char** argv) {
  std::string message = error.what();
  message = message.substr(0, message.find('\n'));
  // An option CLI11 does not know: suggest the nearest one of the subcommand.
  if (dynamic_cast<const CLI::ExtrasError*>(&error)) {
    const auto used = app.get_subcommands();
    const CLI::App& command = used.empty() ? app : *used.front();
    for (int i = 1; i < argc; ++i) {
      const std::string word = argv[i];
      if (word.rfind("--", 0) != 0 || message.find(word.substr(0, word.find('='))) == std::string::npos) continue;
      const std::string near = nearest_option(command, word.substr(0, word.find('=')));
      if (!near.empty() && near != word) return message + "; did you mean " + near + "?";
    }
  }
  // CLI11 reports an unknown first word as a missing subcommand; name it.
  if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty()) {
    std::string known;
    for (const CLI::App* command : app.get_subcommands({})) known += (known.empty() ? "" : ", ") + command->get_name();
    message = std::string("unknown subcommand '") + argv[1] + "' (the subcommands are: " + known + ")";
  }
  return message;
}

int run_command_line(int argc, char** argv, std::ostream& err) {
  try {
    auto app = make_app();
    try {
      app->parse(argc, argv);
    } catch (const CLI::Success& done) {
      return app->exit(done);  // --help, --version
    } catch (const CLI::ParseError& error) {
      err << "pevis: " << first_line(usage_message(*app, error, argc, argv)) << " (see 'pevis --help')\n";
      return static_cast<int>(ExitCode::kUsage);
    }
    return static_cast<int>(ExitCode::kSuccess);
  } catch (const Error& error) {
    err << "pevis: " << error.what() << "\n";
    return static_cast<int>(error.code());
  } catch (const std::exception& error) {
    // An allocation that failed although the job's estimate fitted the budget.
    if (is_out_of_memory(error)) {
      err << "pevis: " << out_of_memory("running the job").what() << "\n";
      return static_cast<int>(ExitCode::kBadInput);
    }
    err << "pevis: internal error : " << first_line(error.what()) << " (please report this)\n";
    return static_cast<int>(ExitCode::kInternal);
  }
}

}  // namespace pevis::cli
