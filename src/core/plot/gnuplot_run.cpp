// Running gnuplot: found on PATH, started with a fixed command (never a
// shell), fed the script on stdin, its complaints kept in memory.
#include "pevis/plot/gnuplot.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <gnuplot-iostream.h>
#include <memory>
#include <sstream>

#include "pevis/base/error.h"

extern char** environ;

namespace pevis::plot {

std::string find_gnuplot() {
  const char* path = std::getenv("PATH");
  if (!path) return {};
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/gnuplot";
    struct stat info {};
    if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return {};
}

namespace {

// The first line of gnuplot's complaints that says what went wrong (it echoes
// the command and a caret line first, and may warn before it fails).
std::string first_error_line(const std::string& messages) {
  std::stringstream lines(messages);
  std::string line, fallback;
  while (std::getline(lines, line)) {
    const auto begin = line.find_first_not_of(" \t\r^");
    if (begin == std::string::npos) continue;
    line = line.substr(begin);
    if (line.rfind("gnuplot>", 0) == 0) continue;
    if (line.find("warning:") != std::string::npos) {
      if (fallback.empty()) fallback = line;
      continue;
    }
    return line.substr(0, 200);
  }
  return fallback.empty() ? "gnuplot exited with an error" : fallback.substr(0, 200);
}

std::string read_all(std::FILE* file) {
  std::string text;
  std::rewind(file);
  char buffer[4096];
  std::size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0 && text.size() < (1 << 20)) text.append(buffer, got);
  return text;
}

}  // namespace

void run_gnuplot(const std::string& script, const std::string& work_dir, int stdout_fd) {
  const std::string executable = find_gnuplot();
  if (executable.empty()) {
    throw output_error("gnuplot", "not found on PATH, so no figure was drawn",
                       "install it with 'apt-get install gnuplot-nox', or pass --format none");
  }
  // gnuplot's messages go to a file in memory: a confined pevis may write
  // nothing outside its output folder, not even a temporary file.
  const int messages_fd = ::memfd_create("gnuplot-messages", MFD_CLOEXEC);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> messages(messages_fd < 0 ? nullptr : ::fdopen(messages_fd, "w+"),
                                                           &std::fclose);
  if (messages_fd >= 0 && !messages) ::close(messages_fd);
  int pipe_fds[2];
  if (!messages || ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw output_error("gnuplot", std::string("cannot start it: ") + std::strerror(errno));
  }
  // Started by fork and exec rather than posix_spawn, so that gnuplot is
  // killed when the thread that started it ends: a job stopped at its time
  // limit (or killed) leaves no gnuplot drawing on into the output folder.
  const char* path = executable.c_str();
  const char* dir = work_dir.c_str();
  const int script_fd = pipe_fds[0], messages_out = fileno(messages.get());
  char name[] = "gnuplot";
  char* argv[] = {name, nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls here: the parent has threads.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
    if (::dup2(script_fd, 0) < 0 || ::dup2(stdout_fd, 1) < 0 || ::dup2(messages_out, 2) < 0 || ::chdir(dir) != 0) {
      ::_exit(127);
    }
    ::execve(path, argv, environ);
    ::_exit(127);
  }
  const int spawned = pid < 0 ? errno : 0;
  ::close(pipe_fds[0]);
  if (spawned != 0) {
    ::close(pipe_fds[1]);
    throw output_error("gnuplot", std::string("cannot start ") + executable + ": " + std::strerror(spawned));
  }

  bool write_failed = false;
  {  // a gnuplot that dies early must give an error, not end pevis
    const IgnoreSigpipe quiet;
    if (std::FILE* stream = ::fdopen(pipe_fds[1], "w")) {
      try {
        Gnuplot gp(stream);  // closes the stream when it goes
        gp << script << "\nexit\n";
        gp.flush();
        write_failed = !gp;
      } catch (const std::exception&) {
        write_failed = true;
      }
    } else {
      ::close(pipe_fds[1]);
      write_failed = true;
    }
  }

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || write_failed) {
    throw output_error("gnuplot", "drawing failed: " + one_line(first_error_line(read_all(messages.get()))),
                       "keep the script with --script and run it with gnuplot to see more");
  }
}

IgnoreSigpipe::IgnoreSigpipe() {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous_);
}

IgnoreSigpipe::~IgnoreSigpipe() { ::sigaction(SIGPIPE, &previous_, nullptr); }

}  // namespace pevis::plot
