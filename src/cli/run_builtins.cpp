#include <iostream>
#include <unistd.h>

#include "box.h"
#include "runners.h"
#include "pevis/io/builtins.h"

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

}  // namespace pevis::cli
