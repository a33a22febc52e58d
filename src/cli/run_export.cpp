#include <iostream>

#include "box.h"
#include "runners.h"
#include "pevis/io/load.h"
#include "pevis/io/torchscript.h"

namespace pevis::cli {

void run_export(const ExportOptions& options) {
  enter_box({{options.model}, {}, nullptr, options.file}, options.safety, options.safety.verbose);
  write_torchscript(load_model(options.model), options.model, options.file);
  std::cout << "wrote " << options.file << "\n";
}

}  // namespace pevis::cli
