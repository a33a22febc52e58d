#include "box.h"
#include "output_options.h"
#include "runners.h"
#include "pevis/encoding/model_encoding_job.h"

namespace pevis::cli {

void run_encoding_model(const EncodingOptions& options) {
  const EncodingRequest& request = options.request;
  enter_box({{request.model}, {request.config}, request.list ? nullptr : &options.output, ""}, options.safety,
            options.safety.verbose);
  JobResult result = model_encoding_job(request, human_progress(options.output));
  if (!request.list) publish(std::move(result), options.output);
}

}  // namespace pevis::cli
