#include "pevis/architectures/architectures.h"
#include "pevis/summary/summary_job.h"

#include <algorithm>

#include "pevis/base/error.h"
#include "pevis/base/text.h"
#include "pevis/capture/cpu_allocator.h"
#include "pevis/io/load.h"
#include "pevis/io/model_input.h"
#include "pevis/summary/summary.h"
#include "pevis/summary/summary_views.h"

namespace pevis {
namespace {

// A folder of a family pevis builds shows its built module tree (transformers'
// class names) even without an input; one it cannot build shows the tree its
// tensor names imply, and says why.
Model built_if_known(Model model, at::ScalarType compute, const Progress& progress) {
  if (model.runnable() || model.config_file.empty()) return with_forward(model, true, compute);
  std::string type;
  for (const auto& [key, value] : model.config) type = key == "model_type" ? value : type;
  const auto known = built_model_types();
  if (std::find(known.begin(), known.end(), type) == known.end()) return model;
  try {
    return with_forward(model, true, compute);
  } catch (const Error& e) {
    progress.show("note: not built (" + one_line(e.what()) + "): the tree below is inferred from the tensor names\n");
    return model;
  }
}

}  // namespace

JobResult summary_job(const SummaryRequest& request, const Progress& progress) {
  // A weights-only folder is built from its config.json: it must be when an input asks for a forward pass.
  const at::ScalarType compute = request.input.bfloat16 ? at::kBFloat16 : at::kFloat;
  const Model model = request.input.given() ? with_forward(load_model(request.model), true, compute)
                                            : built_if_known(load_model(request.model), compute, progress);
  const bool with_input = request.input.given() || model.program;
  ModelInput input;
  if (with_input) input = make_input(request.input, &model);
  if (request.verbose) progress.show(model_details(request.model, model, /*tensors=*/false));
  if (with_input && !model.runnable()) {
    progress.show("note: " + model.described() + " has no forward pass: parameters only\n");
  }
  const Summary s = summarize(model, with_input && model.runnable() ? &input.values : nullptr);
  stop_keeping_cpu_blocks();  // the forward pass is done
  SummaryViewOptions view;
  view.depth = request.depth;
  view.fold_repeats = request.fold_repeats;
  view.ascii = request.ascii;
  view.verbose = request.verbose;
  view.weights_only = !model.runnable();
  view.root_name = file_label(request.model);
  const auto rows = shown_rows(s, view);
  JobResult result;
  result.text = summary_text(s, rows, view, model.described());
  result.summary = {{"command", "summary"}, {"model", request.model}, {"forward", s.totals.forward}};
  for (const auto& [name, value] : named_totals(s.totals)) result.summary[name] = value;
  for (const auto& [name, counted] : s.shared) result.summary["shared"].push_back({{"name", name}, {"counted_as", counted}});
  result.products = summary_products(s, rows, view, request.wanted.figures);
  if (request.wanted.page) {
    result.products.push_back({});
    result.products.back().documents.push_back(summary_page(s, view, request.model));
  }
  return result;
}

}  // namespace pevis
