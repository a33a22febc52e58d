#include <iostream>

#include "box.h"
#include "runners.h"
#include "pevis/io/load.h"
#include "pevis/io/torchscript.h"

namespace pevis::cli {

void run_export(const ExportOptions& options) {
  enter_box({{options.model}, {}, nullptr, options.file}, options.safety, options.safety.verbose);
  const Model model = load_model(options.model);
  write_job_file(options.file, [&](const std::string& path) { write_torchscript(model, options.model, path); });
  std::cout << "wrote " << options.file << "\n";
}

}  // namespace pevis::cli
