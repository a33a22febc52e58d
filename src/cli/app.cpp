#include "app.h"

#include "commands.h"

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
      "  pevis SUBCOMMAND --help                      # options of one subcommand\n\n"
      "Exit codes: 0 success, 1 internal error, 2 usage error, 3 bad input,\n"
      "4 output error (cannot write, gnuplot missing or failed), 5 a requested check failed.");
  setup_encoding(*app);
  setup_bias(*app);
  setup_attention(*app);
  setup_summary(*app);
  setup_builtins(*app);
  return app;
}

std::string usage_message(const CLI::App& app, const CLI::ParseError& error, int argc, char** argv) {
  std::string message = error.what();
  message = message.substr(0, message.find('\n'));
  // CLI11 reports an unknown first word as a missing subcommand; name it.
  if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty()) {
    std::string known;
    for (const CLI::App* command : app.get_subcommands({})) known += (known.empty() ? "" : ", ") + command->get_name();
    message = std::string("unknown subcommand '") + argv[1] + "' (the subcommands are: " + known + ")";
  }
  return message;
}

}  // namespace pevis::cli
