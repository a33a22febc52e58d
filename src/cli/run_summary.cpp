#include <map>
#include <set>
#include <cmath>
#include <iostream>
#include <memory>

#include "box.h"
#include "runners.h"
#include "model_input.h"
#include "output_options.h"
#include "pevis/io/load.h"
#include "pevis/capture/cpu_allocator.h"
#include "pevis/base/error.h"
#include "pevis/io/model.h"
#include "pevis/base/module_path.h"
#include "pevis/summary/summary.h"
#include "pevis/summary/summary_views.h"

namespace pevis::cli {

void run_summary(const SummaryOptions& options) {
  enter_box({{options.model}, {options.input.input, options.input.vocab}, &options.output, ""}, options.safety,
            options.verbose);
  const Model model = load_model(options.model);
  const bool with_input = !options.input.input.empty() || !options.input.input_shape.empty() || model.program;
  ModelInput input;
  if (with_input) input = make_input(options.input, &model);
  std::ostream& out = human(options.output);
  if (options.verbose) print_model_details(out, options.model, model, /*tensors=*/false);
  if (with_input && !model.runnable()) {
    out << "note: " << model.format << " files have no forward pass: parameters only\n";
  }
  const Summary s = summarize(model, with_input && model.runnable() ? &input.values : nullptr);
  stop_keeping_cpu_blocks();  // the forward pass is done
  SummaryViewOptions view;
  view.depth = options.depth;
  view.fold_repeats = options.fold_repeats;
  view.ascii = options.ascii;
  view.verbose = options.verbose;
  view.weights_only = !model.runnable();
  view.root_name = file_label(options.model);
  const auto rows = shown_rows(s, view);
  out << summary_text(s, rows, view, model.format);
  nlohmann::json summary = {{"command", "summary"}, {"model", options.model}, {"forward", s.totals.forward}};
  for (const auto& [name, value] : named_totals(s.totals)) summary[name] = value;
  publish(summary_products(s, rows, view, options.output.figures()), options.output, std::move(summary));
}


}  // namespace pevis::cli
