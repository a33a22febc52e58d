#pragma once
// Runs a pevis command line inside the test's own process, through the same
// function `main` calls: the breadth of refusals and options is tested this
// way, without paying LibTorch's start-up for every case. The few tests that
// need the real executables (exit codes as a shell sees them, the hand-over
// from `pevis` to `pevis-torch`) use test::run.

#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"
#include "test_util.h"

namespace pevis::test {

/// Runs `pevis ARGS...` in this process with the working folder `cwd` and
/// `env` set on top of this process's environment (both put back after);
/// returns the exit code `main` would return and what went to std::cout and
/// std::cerr.
inline RunResult run_in_process(const std::vector<std::string>& args, const fs::path& cwd,
                                const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> words = {"pevis"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);

  std::map<std::string, std::optional<std::string>> saved;
  for (const auto& [key, value] : env) {
    const char* old = std::getenv(key.c_str());
    saved[key] = old ? std::optional<std::string>(old) : std::nullopt;
    ::setenv(key.c_str(), value.c_str(), 1);
  }
  const fs::path previous = fs::current_path();
  fs::current_path(cwd);
  std::ostringstream out, err;
  std::streambuf* old_out = std::cout.rdbuf(out.rdbuf());
  std::streambuf* old_err = std::cerr.rdbuf(err.rdbuf());
  RunResult result;
  result.exit_code = cli::run_command_line(static_cast<int>(words.size()), argv.data(), err);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  fs::current_path(previous);
  for (const auto& [key, value] : saved) {
    if (value) ::setenv(key.c_str(), value->c_str(), 1);
    else ::unsetenv(key.c_str());
  }
  result.out = out.str();
  result.err = err.str();
  return result;
}

}  // namespace pevis::test
