// Set-up of every process that runs LibTorch jobs (pevis-torch, and the test
// programs, which link the same runners): before any tensor is made, large
// CPU buffers start coming from pevis's caching allocator. PEVIS_CPU_CACHE
// gives its size in MiB (0: LibTorch's own allocator).
#include <cstdlib>
#include <string>

#include <c10/util/Exception.h>

#include "pevis/capture/cpu_allocator.h"
#include "pevis/operators/torch_version.h"

namespace pevis::cli {
namespace {

// A model's warnings (`warnings.warn` in its code is the operator
// aten::warn) are not pevis's words: they would print on stderr around
// pevis's one-line messages, as often as the model likes. Dropped.
class SilentWarnings final : public c10::WarningHandler {
 public:
#if PEVIS_TORCH_WARNING_CLASS
  void process(const c10::Warning&) override {}
#else
  void process(const c10::SourceLocation&, const std::string&, const bool) override {}
#endif
};

struct TorchSetup {
  TorchSetup() {
    static SilentWarnings silent;
#if PEVIS_TORCH_WARNING_CLASS
    c10::WarningUtils::set_warning_handler(&silent);
#else
    c10::Warning::set_warning_handler(&silent);
#endif
    std::size_t mib = 1024;
    if (const char* given = std::getenv("PEVIS_CPU_CACHE"); given && *given) mib = std::strtoull(given, nullptr, 10);
    if (mib > 0) use_caching_cpu_allocator(mib << 20);
  }
};

const TorchSetup setup;

}  // namespace
}  // namespace pevis::cli
