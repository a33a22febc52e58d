#pragma once
// `pevis attention`: a request in, products and a summary out. The front
// executable parses into the request, so this header needs no LibTorch.

#include <cstdint>
#include <optional>
#include <string>

#include "pevis/attention/fusion.h"
#include "pevis/io/input_request.h"
#include "pevis/output/job.h"

namespace pevis {

/// --head: one head, their mean, or (neither) every head and their mean.
struct HeadChoice {
  std::optional<std::int64_t> index;
  bool mean = false;
};

struct AttentionRequest {
  std::string model;
  std::string layer;  ///< a regex of site names; empty: every site
  HeadChoice head;
  InputRequest input;
  bool list = false;     ///< the sites only: `text` and the summary, no products
  bool rollout = false;
  bool timings = false;  ///< also time three plain forward passes: summary["seconds"]
  Fusion fusion = Fusion::kMean;
  ColourScale scale = ColourScale::kAuto;
  std::int64_t batch_index = 0;
  double page_budget_mb = 64;  ///< the interactive page's largest size (wanted.page), in MB
  Wanted wanted;
};

/// Loads the model, builds its input, captures its attention in one forward
/// pass, keeps the sites asked for, and makes their views. Throws
/// `pevis::Error`: exit 3 when no site is found or none matches `layer`.
JobResult attention_job(const AttentionRequest& request, const Progress& progress = {});

}  // namespace pevis
