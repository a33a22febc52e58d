#include "box.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "pevis/operators/allowed_ops.h"
#include "pevis/base/archive.h"
#include "pevis/io/builtin_info.h"
#include "pevis/io/builtins.h"
#include "pevis/base/confine.h"
#include "pevis/capture/cpu_allocator.h"
#include "pevis/base/memory.h"
#include "pevis/base/error.h"
#include "pevis/io/folder.h"
#include "pevis/io/model.h"
#include "pevis/output/products.h"
#include "pevis/plot/gnuplot.h"

namespace pevis::cli {
namespace fs = std::filesystem;
namespace {

bool writes_files(const OutputOptions& output) {
  // Text figures too: gnuplot reads their numbers from files in the folder.
  return output.figures() || output.writes_data() || output.script || output.page;
}

// The dynamic loaders gnuplot may be started with (the kernel opens them
// for execution too).
const char* const kLoaders[] = {"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib/ld-linux-armhf.so.3",
                                "/lib/ld-linux.so.2", "/lib64/ld64.so.2", "/lib/ld-linux-riscv64-lp64d.so.1"};

// An index of shards, told by its content as load_model tells it.
bool is_index(const std::string& path) {
  if (fs::is_directory(path)) return false;
  try {
    const auto file = open_file(path);
    const std::uint64_t size = file->size();
    return is_index_head(file->read_string(0, std::min<std::uint64_t>(size, 16)), size);
  } catch (const Error&) {
    return false;  // the job's own reading says what is wrong
  }
}

// A folder pevis made for the job is removed again when the job fails and
// leaves it empty, as if the job had never started. The confined process
// may not remove it (that is a write beside it), so a helper process forked
// before the confinement does, when told or when pevis-torch dies.
class FolderKeeper {
 public:
  void watch(const std::string& folder) {
    int to_keeper[2], from_keeper[2];
    if (::pipe2(to_keeper, O_CLOEXEC) != 0) return;
    if (::pipe2(from_keeper, O_CLOEXEC) != 0) {
      ::close(to_keeper[0]), ::close(to_keeper[1]);
      return;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
      // Only async-signal-safe calls here: the parent has threads.
      for (int fd = 0; fd < 1024; ++fd) {
        if (fd != to_keeper[0] && fd != from_keeper[1]) ::close(fd);
      }
      char word = 0;
      const ssize_t got = ::read(to_keeper[0], &word, 1);
      if (got <= 0 || word == 'r') ::rmdir(folder.c_str());  // fails, as it should, unless empty
      if (::write(from_keeper[1], "d", 1) < 0) {
      }
      ::_exit(0);
    }
    ::close(to_keeper[0]);
    ::close(from_keeper[1]);
    if (pid < 0) {
      ::close(to_keeper[1]), ::close(from_keeper[0]);
      return;
    }
    to_keeper_ = to_keeper[1];
    from_keeper_ = from_keeper[0];
  }

  void release(bool success) {
    if (to_keeper_ < 0) return;
    char done = 0;
    if (::write(to_keeper_, success ? "k" : "r", 1) == 1) {
      while (::read(from_keeper_, &done, 1) < 0 && errno == EINTR) {
      }
    }
    ::close(to_keeper_), ::close(from_keeper_);
    to_keeper_ = from_keeper_ = -1;
  }

 private:
  int to_keeper_ = -1, from_keeper_ = -1;
};

FolderKeeper& keeper() {
  static FolderKeeper k;
  return k;
}

}  // namespace

void leave_box(bool success) { keeper().release(success); }

namespace {

// What the job's model files let it read (and, for built-ins, write: the cache).
void allow_models(Confinement& box, const std::vector<std::string>& models) {
  for (const auto& model : models) {
    if (model.rfind(kBuiltinPrefix, 0) == 0) {
      // Built-ins are trained once and kept in pevis's cache.
      const std::string cache = cache_dir();
      if (!cache.empty()) {
        std::error_code ignored;
        fs::create_directories(cache, ignored);
        if (fs::is_directory(cache)) box.write.push_back(cache);
      }
      continue;
    }
    // An index of shards names files beside it; anything else is read alone
    // (a folder with all it holds).
    const fs::path parent = fs::path(model).parent_path();
    const std::string folder = parent.empty() ? "." : parent.string();
    box.read.push_back(!is_index(model) ? model : folder);
    // A snapshot of the Hugging Face cache links its files to the repo's blobs.
    for (const std::string& dir : {model, folder}) {
      if (const std::string repo = hub_cache_repo(dir); !repo.empty()) box.read.push_back(repo + "/blobs");
    }
  }
}

// What the job writes: the output folder (made now: a confined process can
// only write beneath folders that exist when it is confined), or one file.
void allow_outputs(Confinement& box, const JobFiles& files) {
  if (files.output && writes_files(*files.output)) {
    const bool made = !fs::exists(files.output->out_dir);
    make_folder(files.output->out_dir);
    if (made) keeper().watch(files.output->out_dir);
    box.write.push_back(files.output->out_dir);
  }
  if (!files.write_file.empty()) {
    const fs::path parent = fs::path(files.write_file).parent_path();
    box.write.push_back(parent.empty() ? "." : parent.string());
  }
}

}  // namespace

void enter_box(const JobFiles& files, const SafetyOptions& safety, bool verbose) {
  set_extra_allowed_operators(safety.allow_ops);
  if (!confinement_enabled()) return;
  // What the job may allocate, read while /proc and the cgroup's files can
  // be: nine tenths of it for tensors, the rest for everything else.
  const MemoryBudget budget = memory_budget();
  limit_cpu_allocations(static_cast<std::size_t>(budget.bytes / 10 * 9), budget.limited_by);
  Confinement box = system_confinement();
  allow_models(box, files.models);
  for (const auto& input : files.inputs) {
    if (!input.empty() && input != "-") box.read.push_back(input);
  }
  allow_outputs(box, files);
#if defined(__SANITIZE_ADDRESS__)
  // LeakSanitizer reads its suppressions when the process ends.
  if (const char* options = std::getenv("LSAN_OPTIONS")) {
    const std::string text = options;
    const std::string key = "suppressions=";
    if (const auto at = text.find(key); at != std::string::npos) {
      box.read.push_back(text.substr(at + key.size(), text.find(':', at) - at - key.size()));
    }
  }
#endif
  if (const std::string gnuplot = plot::find_gnuplot(); !gnuplot.empty()) {
    box.execute.push_back(gnuplot);
    for (const char* loader : kLoaders) box.execute.emplace_back(loader);
  }
  const std::string state = confine(box);
  if (verbose) std::cerr << "pevis: " << state << std::endl;
  arm_time_limit(safety.time_limit);
}

}  // namespace pevis::cli
