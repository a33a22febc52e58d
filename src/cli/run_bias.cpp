#include "box.h"
#include "output_options.h"
#include "runners.h"
#include "pevis/base/pattern.h"
#include "pevis/bias/bias_job.h"

namespace pevis::cli {

void run_bias(const BiasOptions& options) {
  const BiasRequest& request = options.request;
  pattern_option("--match", request.match);
  pattern_option("--layer", request.layer);
  enter_box({request.models, {}, &options.output, ""}, options.safety, request.verbose);
  std::ostream& out = human(options.output);
  Progress progress;
  progress.text = [&out](const std::string& text) { out << text; };
  publish(bias_job(request, progress), options.output);
}

}  // namespace pevis::cli
