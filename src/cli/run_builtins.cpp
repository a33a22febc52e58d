#include <torch/script.h>

#include <cstdio>
#include <iostream>
#include <unistd.h>

#include "box.h"
#include "runners.h"
#include "pevis/io/load.h"
#include "pevis/io/builtins.h"
#include "pevis/base/error.h"
#include "pevis/output/data_files.h"
#include "pevis/io/model.h"

namespace pevis::cli {

void run_builtins_verbose(const BuiltinsOptions& options) {
  builtins_job(options, [](std::ostream& out, nlohmann::json& summary) {
    if (::isatty(STDERR_FILENO)) std::cerr << "pevis: loading builtin:reverse (trained on first use)..." << std::endl;
    const ReverseReport report = reverse_report();
    out << "builtin:reverse reverses " << report.sequence_accuracy * 100 << "% of 2000 held-out sequences without error";
    if (report.cached) out << " (cached in " << report.cache_path << ")";
    else out << " (trained in " << report.seconds << " s" << (report.cache_path.empty() ? ", not cached" : ", cached in " + report.cache_path) << ")";
    out << "\n";
    summary["reverse_accuracy"] = report.sequence_accuracy;
  });
}

void run_export(const ExportOptions& options) {
  enter_box({{options.model}, {}, nullptr, options.file}, options.safety, options.safety.verbose);
  const Model model = load_model(options.model);
  if (!model.module) {
    throw bad_input(options.model, "a " + model.format + " file has no module to export", "export a built-in or a TorchScript model");
  }
  try {
    write_via_temporary(options.file, [&](const std::string& temp) { model.module->save(temp); });
  } catch (const Error&) {
    throw output_error(options.file, "cannot write the archive", "check that the folder exists and is writable");
  }
  std::cout << "wrote " << options.file << "\n";
}

}  // namespace pevis::cli
