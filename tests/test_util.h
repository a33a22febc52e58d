#pragma once
// Helpers shared by the tests: temporary folders, files, and running the real
// pevis binary.

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
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

/// True in builds with AddressSanitizer, which cannot run under an
/// address-space limit (it reserves terabytes of shadow memory).
constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__)
    true;
#else
    false;
#endif

/// Runs `program` with `args` in folder `cwd`, with `env` set on top of this
/// process's environment, and, when `address_limit` is not 0, that many
/// bytes of address space at most (`ulimit -v`); captures both output streams.
inline RunResult run(const std::string& program, const std::vector<std::string>& args, const fs::path& cwd,
                     const std::map<std::string, std::string>& env = {}, std::uint64_t address_limit = 0) {
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
#ifdef PEVIS_TEST_CACHE
    ::setenv("XDG_CACHE_HOME", PEVIS_TEST_CACHE, 1);  // the tests' built-ins, never the user's
#endif
    for (const auto& [key, value] : env) ::setenv(key.c_str(), value.c_str(), 1);
    if (address_limit) {
      const struct rlimit limit = {address_limit, address_limit};
      if (::setrlimit(RLIMIT_AS, &limit) != 0) ::_exit(125);
    }
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

/// One tensor of a safetensors file written by `write_safetensors`.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;                ///< "F32", "BF16", ...
  std::vector<std::int64_t> shape;
  std::string bytes;                ///< its data; empty: a hole of the right size (the file is sparse)
};

/// Writes a safetensors file, in the order given. Tensors without bytes are
/// left as holes: a file of many GB takes almost no disk.
inline void write_safetensors(const fs::path& path, const std::vector<SafetensorsEntry>& entries) {
  std::string header = "{";
  std::uint64_t offset = 0;
  std::vector<std::uint64_t> starts;
  for (const auto& e : entries) {
    std::uint64_t n = e.dtype == "F64" || e.dtype == "I64" ? 8 : e.dtype == "F32" || e.dtype == "I32" ? 4 : e.dtype == "F16" || e.dtype == "BF16" ? 2 : 1;
    std::string shape;
    for (auto d : e.shape) {
      n *= static_cast<std::uint64_t>(d);
      shape += (shape.empty() ? "" : ",") + std::to_string(d);
    }
    header += (header.size() > 1 ? "," : "") + std::string("\"") + e.name + "\":{\"dtype\":\"" + e.dtype + "\",\"shape\":[" +
              shape + "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + n) + "]}";
    starts.push_back(offset);
    offset += n;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::ofstream out(path, std::ios::binary);
  std::uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((length >> (8 * i)) & 0xff));
  out << header;
  const std::uint64_t data = 8 + header.size();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].bytes.empty()) continue;
    out.seekp(static_cast<std::streamoff>(data + starts[i]));
    out << entries[i].bytes;
  }
  out.close();
  fs::resize_file(path, data + offset);
}

/// Every operator the survey of PyTorch 2.6's TorchScript files calls
/// (tests/data/torch2/survey.json, made by survey.py).
inline std::set<std::string> survey_operators() {
  const auto survey = nlohmann::json::parse(read_file(fs::path(PEVIS_TEST_DATA) / "torch2" / "survey.json"));
  std::set<std::string> ops;
  for (const auto& [file, list] : survey["files"].items()) {
    for (const auto& op : list) ops.insert(op.get<std::string>());
  }
  return ops;
}

/// The bytes of float32 values, as a safetensors or zip record holds them.
inline std::string float_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

/// Number of lines in `text` (a last line without newline counts).
/// A tokenizer.json of a tiny byte-level BPE (pieces a, b, ab, Ġ, Ġab, Ġa; ids
/// 0 to 5; `<s>` id 6, added before each text), with `change` applied.
inline std::string tiny_tokenizer(const std::function<void(nlohmann::json&)>& change = nullptr) {
  nlohmann::json t = {
      {"version", "1.0"},
      {"added_tokens", {{{"id", 6}, {"content", "<s>"}, {"special", true}, {"normalized", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {6}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}, {"\xc4\xa0", 3}, {"\xc4\xa0" "ab", 4}, {"\xc4\xa0" "a", 5}}},
        {"merges", {"\xc4\xa0 a", "\xc4\xa0" "a b", "a b"}}}},
  };
  if (change) change(t);
  return t.dump();
}

inline int count_lines(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines + (!text.empty() && text.back() != '\n');
}

}  // namespace pevis::test
