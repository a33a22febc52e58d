#include <memory>

#include "commands.h"
#include "options.h"
#include "runners.h"

namespace pevis::cli {

void setup_export(CLI::App& app) {
  auto options = std::make_shared<ExportOptions>();
  CLI::App* command = app.add_subcommand("export", "save a built-in (or any TorchScript model) as a TorchScript archive");
  command->add_option("MODEL", options->model, "builtin:NAME or a TorchScript file")->required();
  command->add_option("FILE", options->file, "where to write the archive")->required();
  add_safety_options(*command, options->safety, /*with_verbose=*/true);
  command->footer("Example:\n  pevis export builtin:transformer-lm lm.pt");
  command->callback([options] { run_export(*options); });
}

}  // namespace pevis::cli
