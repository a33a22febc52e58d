#pragma once
// Helpers shared by the tests: temporary folders, files, and running the real
// pevis binary.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace pevis::test {

namespace fs = std::filesystem;

/// A fresh folder under the system's temporary folder, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "pevis-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

/// True when the file starts as a PNG, SVG or PDF file does and is larger
/// than a trivial one.
inline bool looks_like(const fs::path& path, const std::string& format) {
  if (!fs::exists(path) || fs::file_size(path) < 1000) return false;
  const std::string head = read_file(path).substr(0, 512);
  if (format == "png") return head.rfind("\x89PNG\r\n\x1a\n", 0) == 0;
  if (format == "pdf") return head.rfind("%PDF-", 0) == 0;
  if (format == "svg") return head.find("<svg") != std::string::npos;
  return false;
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `program` with `args` in folder `cwd`, with `env` set on top of this
/// process's environment; captures both output streams.
inline RunResult run(const std::string& program, const std::vector<std::string>& args, const fs::path& cwd,
                     const std::map<std::string, std::string>& env = {}) {
  const fs::path out_path = cwd / ".stdout", err_path = cwd / ".stderr";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int nothing = ::open("/dev/null", O_RDONLY);
    ::dup2(nothing, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    for (const auto& [key, value] : env) ::setenv(key.c_str(), value.c_str(), 1);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return result;
}

/// Number of lines in `text` (a last line without newline counts).
inline int count_lines(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines + (!text.empty() && text.back() != '\n');
}

}  // namespace pevis::test
