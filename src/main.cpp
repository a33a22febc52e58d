// pevis: build the command line, run it, and map every failure to one line
// on stderr and a documented exit code.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>

#include "app.h"
#include "runners.h"
#include "pevis/error.h"
#include "pevis/memory.h"

namespace {

std::string first_line(const std::string& text) { return pevis::one_line(text.substr(0, text.find('\n'))); }

// Ends the process once the work is done and every file is closed: LibTorch's
// teardown (thread pools, registries) would add about 70 ms to every run.
// Sanitizer builds exit normally, so that LeakSanitizer still checks.
[[noreturn]] void finish(int code) {
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
  using pevis::ExitCode;
  pevis::cli::keep_command_line(argc, argv);
  try {
    auto app = pevis::cli::make_app();
    try {
      app->parse(argc, argv);
    } catch (const CLI::Success& done) {
      finish(app->exit(done));  // --help, --version
    } catch (const CLI::ParseError& error) {
      std::cerr << "pevis: " << first_line(pevis::cli::usage_message(*app, error, argc, argv))
                << " (see 'pevis --help')\n";
      return static_cast<int>(ExitCode::kUsage);
    }
    finish(static_cast<int>(ExitCode::kSuccess));
  } catch (const pevis::Error& error) {
    std::cerr << "pevis: " << error.what() << "\n";
    return static_cast<int>(error.code());
  } catch (const std::exception& error) {
    // An allocation that failed although the job's estimate fitted the budget.
    if (pevis::is_out_of_memory(error)) {
      std::cerr << "pevis: " << pevis::out_of_memory("running the job").what() << "\n";
      return static_cast<int>(ExitCode::kBadInput);
    }
    std::cerr << "pevis: internal error : " << first_line(error.what()) << " (please report this)\n";
    return static_cast<int>(ExitCode::kInternal);
  }
}
