#pragma once

// The box a model job runs in (pevis-torch only): the operators the user
// allowed, the confinement, and the time limit, set before the model is read.

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

/// Ends the job's stay in the box: a failed job's output folder, when pevis
/// made it and it is still empty, is removed. Called once, as the process ends.
void leave_box(bool success);

}  // namespace pevis::cli
