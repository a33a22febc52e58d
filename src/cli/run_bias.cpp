#include "box.h"
#include "output_options.h"
#include "runners.h"
#include "pevis/bias/bias_job.h"

namespace pevis::cli {

void run_bias(const BiasOptions& options) {
  const BiasRequest& request = options.request;
  enter_box({request.models, {}, &options.output, ""}, options.safety, request.verbose);
  publish(bias_job(request, human_progress(options.output)), options.output);
}

}  // namespace pevis::cli
