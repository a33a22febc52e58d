#include "box.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
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
#include "pevis/output/data_files.h"
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

// What the confined process may not do, a helper process forked before the
// confinement does, when told or when pevis-torch ends, even by _exit at its
// time limit or a kill: when the job fails it removes the temporaries of the
// files it was writing in the output folder and the folder itself when pevis
// made it and it is left empty (a removal is a write beside the folder); and
// it puts the single file a job writes (pevis export) in its place, from the
// temporary that is the only file the job may write, or removes that
// temporary when the job fails.
class Keeper {
 public:
  // Starts the helper for the output folder `folder` (`made` when pevis made
  // it) and/or the pair `temp` -> `file`; any may be empty. False when it
  // could not be started.
  bool start(const std::string& folder, bool made, const std::string& temp, const std::string& file) {
    // The names of this process's temporaries (output/data_files.cpp's and
    // products.cpp's), made before the fork: the helper may not allocate.
    const std::string pid = std::to_string(::getpid());
    const Markers markers{".tmp-" + pid + "-", ".part-" + pid, ".pevis-data-" + pid + "-"};
    int to_keeper[2], from_keeper[2];
    if (::pipe2(to_keeper, O_CLOEXEC) != 0) return false;
    if (::pipe2(from_keeper, O_CLOEXEC) != 0) {
      ::close(to_keeper[0]), ::close(to_keeper[1]);
      return false;
    }
    const int folder_fd = folder.empty() ? -1 : ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const pid_t pid_of_helper = ::fork();
    if (pid_of_helper == 0) {
      serve(to_keeper[0], from_keeper[1], folder_fd, made ? folder.c_str() : "", temp.c_str(), file.c_str(), markers);
    }
    if (folder_fd >= 0) ::close(folder_fd);
    ::close(to_keeper[0]);
    ::close(from_keeper[1]);
    if (pid_of_helper < 0) {
      ::close(to_keeper[1]), ::close(from_keeper[0]);
      return false;
    }
    to_keeper_ = to_keeper[1];
    from_keeper_ = from_keeper[0];
    return true;
  }

  // Has the temporary renamed over the file: 0, or the rename's errno.
  int commit() {
    unsigned char answer = EIO;
    if (to_keeper_ < 0 || ::write(to_keeper_, "c", 1) != 1) return EIO;
    while (::read(from_keeper_, &answer, 1) < 0 && errno == EINTR) {
    }
    return answer;
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
  struct Markers {
    std::string staged, part, data;

    // A temporary of this process: NAME.tmp-PID-N, NAME.part-PID, .pevis-data-PID-...
    bool match(const char* name) const {
      const std::size_t length = std::strlen(name);
      return std::strstr(name, staged.c_str()) != nullptr || std::strncmp(name, data.c_str(), data.size()) == 0 ||
             (length >= part.size() && std::strcmp(name + length - part.size(), part.c_str()) == 0);
    }
  };

  // Removes this process's temporaries beneath the folder `dir` (a file
  // descriptor), following no link, to a depth of 16 folders. Only
  // async-signal-safe calls: getdents64, not readdir, which allocates.
  static void remove_temporaries(int dir, const Markers& markers, int depth) {
    struct Entry {
      std::uint64_t inode;
      std::int64_t offset;
      unsigned short length;
      unsigned char type;
      char name[1];
    };
    alignas(8) char buffer[4096];
    for (;;) {
      const long got = ::syscall(SYS_getdents64, dir, buffer, sizeof buffer);
      if (got <= 0) return;
      for (long at = 0; at < got;) {
        const auto* entry = reinterpret_cast<const Entry*>(buffer + at);
        at += entry->length;
        const char* name = entry->name;
        if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
        unsigned char type = entry->type;
        if (type == DT_UNKNOWN) {
          struct stat info {};
          if (::fstatat(dir, name, &info, AT_SYMLINK_NOFOLLOW) != 0) continue;
          type = S_ISDIR(info.st_mode) ? DT_DIR : S_ISREG(info.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        if (type == DT_REG && markers.match(name)) {
          ::unlinkat(dir, name, 0);
        } else if (type == DT_DIR && depth < 16) {
          const int sub = ::openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub < 0) continue;
          remove_temporaries(sub, markers, depth + 1);
          ::close(sub);
        }
      }
    }
  }

  // The helper's whole life. Only async-signal-safe calls: the parent has threads.
  [[noreturn]] static void serve(int in, int out, int folder_fd, const char* made, const char* temp, const char* file,
                                 const Markers& markers) {
    for (int fd = 0; fd < 1024; ++fd) {
      if (fd != in && fd != out && fd != folder_fd) ::close(fd);
    }
    const pid_t job = ::getppid();
    bool committed = false;
    for (;;) {
      char word = 0;
      const ssize_t got = ::read(in, &word, 1);
      if (got < 0 && errno == EINTR) continue;
      if (got == 1 && word == 'c' && *temp && !committed) {
        const int error = ::rename(temp, file) == 0 ? 0 : errno;
        committed = error == 0;
        const unsigned char answer = static_cast<unsigned char>(error > 0 && error < 256 ? error : error ? EIO : 0);
        if (::write(out, &answer, 1) < 0) {
        }
        continue;
      }
      const bool failed = got <= 0 || word == 'r';
      if (got <= 0) {
        // The job ended without a word (its time limit, a kill): its pipe
        // closes before its children are told, so wait until it is gone and
        // its gnuplot, killed with it, has stopped writing.
        // At most 200 ms: where the job's parent does not change as seen
        // here (as in a Debian 13 root), the gnuplot it killed is gone by then.
        const struct timespec tick {0, 1000000};
        for (int waited = 0; waited < 200 && ::getppid() == job; ++waited) ::nanosleep(&tick, nullptr);
        const struct timespec settle {0, 50000000};
        ::nanosleep(&settle, nullptr);
      }
      if (failed && folder_fd >= 0) remove_temporaries(folder_fd, markers, 0);
      if (failed && *made) ::rmdir(made);  // fails, as it should, unless empty
      if (*temp && !committed) ::unlink(temp);
      if (::write(out, "d", 1) < 0) {
      }
      ::_exit(0);
    }
  }

  int to_keeper_ = -1, from_keeper_ = -1;
};

Keeper& keeper() {
  static Keeper k;
  return k;
}

// The single file a confined job writes, and the temporary it writes it as.
struct StagedFile {
  std::string file, temp;
};

StagedFile& staged_file() {
  static StagedFile staged;
  return staged;
}

}  // namespace

void leave_box(bool success) { keeper().release(success); }

std::vector<std::string> model_reads(const std::vector<std::string>& models) {
  std::vector<std::string> reads;
  for (const auto& model : models) {
    if (model.rfind(kBuiltinPrefix, 0) == 0) continue;
    if (is_index(model)) {
      // An index of shards: itself, the shards it names and config.json,
      // not the folder they are in (links into a cache's blobs are followed
      // by the rules themselves).
      const std::vector<std::string> files = index_files(model);
      reads.insert(reads.end(), files.begin(), files.end());
      // And the tokenizer beside it, which text input is read with.
      const fs::path tokenizer = fs::path(model).parent_path() / "tokenizer.json";
      std::error_code error;
      if (fs::is_regular_file(tokenizer, error)) reads.push_back(tokenizer.string());
      continue;
    }
    // Anything else is read alone (a folder with all it holds).
    reads.push_back(model);
    // A snapshot of the Hugging Face cache links its files to the repo's blobs.
    const fs::path parent = fs::path(model).parent_path();
    for (const std::string& dir : {model, parent.empty() ? std::string(".") : parent.string()}) {
      if (const std::string repo = hub_cache_repo(dir); !repo.empty()) reads.push_back(repo + "/blobs");
    }
  }
  return reads;
}

void write_job_file(const std::string& file, const std::function<void(const std::string& path)>& write) {
  const StagedFile& staged = staged_file();
  if (staged.temp.empty() || staged.file != file) {
    write_via_temporary(file, write);
    return;
  }
  write_temporary(file, staged.temp, write);
  if (const int error = keeper().commit(); error != 0) {
    throw output_error(file, std::string("cannot replace file: ") + std::strerror(error),
                       "check that its folder is writable");
  }
}

namespace {

// Built-ins are trained once and kept in pevis's cache, which their jobs write.
void allow_cache(Confinement& box, const std::vector<std::string>& models) {
  const bool builtin = std::any_of(models.begin(), models.end(),
                                   [](const std::string& m) { return m.rfind(kBuiltinPrefix, 0) == 0; });
  const std::string cache = builtin ? cache_dir() : "";
  if (cache.empty()) return;
  std::error_code ignored;
  fs::create_directories(cache, ignored);
  if (fs::is_directory(cache)) box.write.push_back(cache);
}

// What the job writes: the output folder (made now: a confined process can
// only write beneath folders that exist when it is confined), or one file,
// through a temporary made now, the only file the job may write: the
// file's folder stays closed to it, and the helper puts the file in place.
void allow_outputs(Confinement& box, const JobFiles& files) {
  std::string folder;
  bool made = false;
  if (files.output && writes_files(*files.output)) {
    folder = files.output->out_dir;
    made = !fs::exists(folder);
    make_folder(folder);
    box.write.push_back(folder);
  }
  StagedFile& staged = staged_file();
  if (!files.write_file.empty()) {
    staged.file = files.write_file;
    staged.temp = write_staged(files.write_file, [](std::ostream&) {});
    box.write.push_back(staged.temp);
  }
  if ((folder.empty() && staged.temp.empty()) || keeper().start(folder, made, staged.temp, staged.file)) return;
  if (!staged.temp.empty()) {
    std::remove(staged.temp.c_str());
    staged = StagedFile{};
    throw output_error(files.write_file, "cannot start the helper that puts the file in place",
                       "the system is out of processes or file descriptors: try again");
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
  allow_cache(box, files.models);
  for (const auto& path : model_reads(files.models)) box.read.push_back(path);
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
