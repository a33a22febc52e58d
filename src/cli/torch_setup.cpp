// Set-up of every process that runs LibTorch jobs (pevis-torch, and the test
// programs, which link the same runners): before any tensor is made, large
// CPU buffers start coming from pevis's caching allocator. PEVIS_CPU_CACHE
// gives its size in MiB (0: LibTorch's own allocator).
#include <cstdlib>
#include <string>

#include "pevis/cpu_allocator.h"

namespace pevis::cli {
namespace {

struct TorchSetup {
  TorchSetup() {
    std::size_t mib = 1024;
    if (const char* given = std::getenv("PEVIS_CPU_CACHE"); given && *given) mib = std::strtoull(given, nullptr, 10);
    if (mib > 0) use_caching_cpu_allocator(mib << 20);
  }
};

const TorchSetup setup;

}  // namespace
}  // namespace pevis::cli
