#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "options.h"
#include "runners.h"
#include "pevis/io/builtin_info.h"
#include "pevis/base/error.h"
#include "pevis/output/data_files.h"

namespace pevis::cli {

void builtins_job(const BuiltinsOptions& options,
                  const std::function<void(std::ostream& out, nlohmann::json& summary)>& check) {
  std::ostream& out = options.json ? std::cerr : std::cout;
  nlohmann::json listed = nlohmann::json::array();
  for (const auto& b : builtin_list()) {
    out << "builtin:" << b.name << "\n    " << b.description << "\n    e.g. " << b.example << "\n";
    listed.push_back({{"name", std::string(kBuiltinPrefix) + b.name}, {"description", b.description}});
  }
  nlohmann::json summary = {{"command", "builtins"}, {"builtins", listed}};
  if (check) check(out, summary);
  nlohmann::json files = nlohmann::json::array();
  if (!options.write_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(options.write_dir, error);
    if (!std::filesystem::is_directory(options.write_dir)) {
      throw output_error(options.write_dir, "cannot create the folder", "choose another with --write");
    }
    const std::pair<const char*, std::string> texts[] = {{"vocab.txt", builtin_lm_vocab()},
                                                         {"seq.txt", builtin_lm_sequence()},
                                                         {"reverse.txt", builtin_reverse_sequence()}};
    for (const auto& [name, text] : texts) {
      const std::string path = (std::filesystem::path(options.write_dir) / name).string();
      write_file_atomic(path, [&](std::ostream& file) { file << text; });
      out << "wrote " << path << "\n";
      files.push_back({{"path", path}, {"kind", "input"}, {"format", "txt"}});
    }
  }
  summary["files"] = files;
  if (options.json) std::cout << summary.dump() << "\n";
}

void setup_builtins(CLI::App& app) {
  auto options = std::make_shared<BuiltinsOptions>();
  CLI::App* command = app.add_subcommand("builtins", "list the built-in models, usable as builtin:NAME wherever a model is");
  command->add_option("--write", options->write_dir, "write sample inputs there: vocab.txt and seq.txt (transformer-lm), reverse.txt");
  command->add_flag("-v,--verbose", options->verbose, "also train (once, then cached) and measure builtin:reverse");
  command->add_flag("--json", options->json, "print one JSON object describing the built-ins on stdout");
  command->footer(
      "Examples:\n"
      "  pevis builtins --write inputs\n"
      "  pevis attention builtin:transformer-lm --input inputs/seq.txt --vocab inputs/vocab.txt\n"
      "  pevis attention builtin:reverse --input inputs/reverse.txt --layout batch-first\n"
      "  pevis export builtin:reverse reverse.pt        # a TorchScript archive torch.jit.load reads");
  command->callback([options] {
    if (options->verbose) return run_builtins_verbose(*options);
    builtins_job(*options);
  });
}

}  // namespace pevis::cli

