#pragma once

// The second wall around a model's code: the process that runs it confines
// itself with Linux Landlock before it reads the model, so that whatever an
// operator might do, the kernel lets it read only the job's inputs and the
// system's libraries, write only the output folder, execute only gnuplot,
// and open no TCP connection. No LibTorch here.

#include <string>
#include <vector>

namespace pevis {

/// What a confined job may touch. Paths that do not exist are left out.
struct Confinement {
  std::vector<std::string> read;     ///< files, or folders with all beneath them, to read
  std::vector<std::string> write;    ///< folders with all beneath them, or files, to read and write (must exist)
  std::vector<std::string> execute;  ///< programs that may be started (read and executed)
};

/// The folders and files every job needs to read: the system's libraries,
/// fonts and gnuplot's files, this process's /proc entries, the cgroup's
/// memory limits, /dev/null and /dev/urandom.
Confinement system_confinement();

/// Confines this process and all it starts, for good: nothing can lift it.
/// Returns one line saying what is in force ("Landlock ABI 6: ..."), or why
/// nothing is (a kernel without Landlock, or Landlock disabled). Throws
/// `pevis::Error` (exit 1) when the kernel offers Landlock but refuses the
/// rules: a job never runs half-confined.
std::string confine(const Confinement& box);

}  // namespace pevis
