#pragma once
// `pevis summary`: a request in, the structure table, products and a summary
// out. No LibTorch: the front executable parses into the request.

#include <string>

#include "pevis/io/input_request.h"
#include "pevis/output/job.h"

namespace pevis {

struct SummaryRequest {
  std::string model;
  InputRequest input;  ///< none given: parameters only (a torch.export program runs on its example)
  int depth = 3;
  bool ascii = false;
  bool fold_repeats = false;
  bool verbose = false;  ///< the files and config.json read, and each module's input shapes
  Wanted wanted;
};

/// Loads the model, runs one forward pass when there is an input and the
/// model has one, and makes the table (`text`), its figure and its data.
JobResult summary_job(const SummaryRequest& request, const Progress& progress = {});

}  // namespace pevis
