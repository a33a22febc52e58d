#include "box.h"
#include "output_options.h"
#include "runners.h"
#include "pevis/summary/summary_job.h"

namespace pevis::cli {

void run_summary(const SummaryOptions& options) {
  const SummaryRequest& request = options.request;
  enter_box({{request.model}, {request.input.input, request.input.vocab, request.input.tokenizer}, &options.output, ""}, options.safety,
            request.verbose);
  publish(summary_job(request, human_progress(options.output)), options.output);
}

}  // namespace pevis::cli
