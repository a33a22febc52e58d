#pragma once

// The box a model job runs in (pevis-torch only): the operators the user
// allowed, the confinement, and the time limit, set before the model is read.

#include <functional>
#include <string>
#include <vector>

#include "options.h"

namespace pevis::cli {

/// What a job reads and writes, as its options name them.
struct JobFiles {
  std::vector<std::string> models;  ///< model paths (files, folders, indexes, builtin:NAME)
  std::vector<std::string> inputs;  ///< other files read: tokens, vocabularies, configs
  const OutputOptions* output = nullptr;  ///< the output folder, when the job writes files
  std::string write_file;                 ///< a single file written (pevis export)
};

/// Allows the --allow-op operators, and in pevis-torch confines the process
/// (Landlock) to `files` and starts the --time-limit clock. With `verbose`,
/// says on stderr which confinement is in force. Creates the output folder
/// first when the job will write into it.
void enter_box(const JobFiles& files, const SafetyOptions& safety, bool verbose);

/// What a job's models let it read: each file or folder given, except that
/// an index of shards gives only itself, the shards it names and the
/// config.json beside it (io/folder.h's `index_files`), and a snapshot of
/// the Hugging Face cache also its repo's blobs. Built-ins read nothing.
std::vector<std::string> model_reads(const std::vector<std::string>& models);

/// Writes the job's single file (`JobFiles::write_file`) with `write`,
/// given the path to write the whole file to. Confined, that is the
/// temporary `enter_box` made, the only file the job may write, which the
/// helper outside the box then renames over `file`; otherwise a temporary
/// beside `file` (`write_via_temporary`). Throws `pevis::Error` (exit 4)
/// when the file cannot be written or put in place.
void write_job_file(const std::string& file, const std::function<void(const std::string& path)>& write);

/// Ends the job's stay in the box: a failed job's output folder, when pevis
/// made it and it is still empty, is removed. Called once, as the process ends.
void leave_box(bool success);

}  // namespace pevis::cli
