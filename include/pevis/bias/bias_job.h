#pragma once
// `pevis bias`: a request in, the table, products and a summary out. No
// LibTorch: the front executable parses into the request.

#include <string>
#include <vector>

#include "pevis/output/job.h"

namespace pevis {

struct BiasRequest {
  std::vector<std::string> models;  ///< one, or two or more compared in order
  std::string match;                ///< a regex of the vectors' names instead of "...bias"; empty: biases
  std::string layer;                ///< a regex the names must match too; empty: all
  bool fail_on_nonfinite = false;   ///< a failed check (exit 5) when any value is NaN or Inf
  bool verbose = false;             ///< each file's format, files, config.json and tensors
  int per_page = 12;
  Wanted wanted;
};

/// Reads every file's selected vectors and makes their views; the statistics
/// (or the changes) in `text`. Throws `pevis::Error` (exit 3) for a file
/// without such vectors.
JobResult bias_job(const BiasRequest& request, const Progress& progress = {});

}  // namespace pevis
