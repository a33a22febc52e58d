// pevis: run the command line and end with its documented exit code.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "app.h"
#ifdef PEVIS_CONFINES_JOBS
#include "box.h"
#endif
#include "runners.h"

namespace {

// Ends the process once the work is done and every file is closed: LibTorch's
// teardown (thread pools, registries) would add about 70 ms to every run.
// Sanitizer builds exit normally, so that LeakSanitizer still checks.
[[noreturn]] void end_process(int code) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
#if defined(__SANITIZE_ADDRESS__)
  std::exit(code);
#else
  std::_Exit(code);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  pevis::cli::keep_command_line(argc, argv);
#ifdef PEVIS_CONFINES_JOBS
  pevis::cli::enable_confinement();  // pevis-torch: model jobs run confined (a test's own process never is)
#endif
  const int code = pevis::cli::run_command_line(argc, argv, std::cerr);
#ifdef PEVIS_CONFINES_JOBS
  pevis::cli::leave_box(code == 0);
#endif
  if (code == 0) end_process(code);
  return code;
}
