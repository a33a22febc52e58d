// The front executable's runners: a job that needs LibTorch is handed to
// `pevis-torch`, which sits beside `pevis`, by executing it on the same
// command line. The front never links LibTorch, so that computed encodings,
// listings, help and usage errors start in milliseconds; the hand-over adds
// one exec and one parse of the command line.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "runners.h"
#include "pevis/base/error.h"

namespace pevis::cli {
namespace {

std::string torch_executable() {
  if (const char* given = std::getenv("PEVIS_TORCH"); given && *given) return given;
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::filesystem::path dir = error ? std::filesystem::path(".") : self.parent_path();
  return (dir / "pevis-torch").string();
}

// PEVIS_HUGEPAGES=1 asks glibc for transparent huge pages on large blocks
// (glibc.malloc.hugetlb, read when a process starts, so set for the process
// that loads LibTorch). It cuts page faults 25-fold, but on the virtual
// machines pevis was measured on the kernel's zeroing and compaction of 2 MB
// pages cost more system time than the faults saved (docs/performance.md),
// so it is a choice, not the default.
void ask_for_huge_pages() {
  const char* choice = std::getenv("PEVIS_HUGEPAGES");
  if (!choice || std::strcmp(choice, "1") != 0) return;
  const char* current = std::getenv("GLIBC_TUNABLES");
  std::string tunables = current ? current : "";
  if (tunables.find("glibc.malloc.hugetlb") != std::string::npos) return;  // the user's own choice stands
  tunables += (tunables.empty() ? "" : ":") + std::string("glibc.malloc.hugetlb=1");
  ::setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
}

[[noreturn]] void hand_over() {
  const std::string executable = torch_executable();
  std::vector<std::string> words = kept_command_line();
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  ask_for_huge_pages();
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  ::execv(executable.c_str(), argv.data());
  throw Error(ExitCode::kInternal, executable, std::string("cannot start the LibTorch part of pevis: ") + std::strerror(errno),
              "build it with scripts/build, or name it with PEVIS_TORCH");
}

}  // namespace

void run_encoding_model(const EncodingOptions&) { hand_over(); }
void run_bias(const BiasOptions&) { hand_over(); }
void run_attention(const AttentionOptions&) { hand_over(); }
void run_summary(const SummaryOptions&) { hand_over(); }
void run_builtins_verbose(const BuiltinsOptions&) { hand_over(); }
void run_export(const ExportOptions&) { hand_over(); }

}  // namespace pevis::cli
