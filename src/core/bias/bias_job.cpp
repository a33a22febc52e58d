#include "pevis/bias/bias_job.h"

#include "pevis/base/archive.h"
#include "pevis/base/error.h"
#include "pevis/base/memory.h"
#include "pevis/base/pattern.h"
#include "pevis/base/text.h"
#include "pevis/bias/bias.h"
#include "pevis/bias/bias_views.h"
#include "pevis/io/load.h"
#include "pevis/io/model_input.h"

namespace pevis {
namespace {

// The selected vectors of one file, telling (with --verbose) what was read.
std::vector<BiasVector> file_biases(const std::string& path, const BiasRequest& request, const BiasSelection& selection,
                                    const Progress& progress) {
  const Model model = load_model(path);
  if (request.verbose) progress.show(model_details(path, model, /*tensors=*/true));
  const std::uint64_t read_before = tensor_bytes_read();
  auto biases = find_biases(model, selection);
  if (request.verbose) {
    progress.show("  read " + human_bytes(static_cast<long double>(tensor_bytes_read() - read_before)) +
                  " of tensor data for " + std::to_string(biases.size()) + " vectors\n");
  }
  if (biases.empty()) {
    throw bad_input(path, "no " + std::string(request.match.empty() ? "bias vectors (1-D tensors named ...bias)" : "1-D tensors match --match") +
                              (request.layer.empty() ? "" : " within --layer"),
                    "choose other vectors with --match REGEX, or list the tensors with --verbose");
  }
  return biases;
}

// The files' labels: their names, or their paths where two names are alike
// (run1/model.pt, run2/model.pt).
std::vector<std::string> file_labels(const std::vector<std::string>& paths) {
  std::vector<std::string> labels;
  for (const auto& path : paths) labels.push_back(file_label(path));
  for (std::size_t i = 0; i < labels.size(); ++i)
    for (std::size_t j = 0; j < labels.size(); ++j)
      if (i != j && labels[i] == labels[j]) labels[i] = paths[i];
  return labels;
}

}  // namespace

JobResult bias_job(const BiasRequest& request, const Progress& progress) {
  const BiasSelection selection{pattern_option("--match", request.match), pattern_option("--layer", request.layer)};
  std::vector<std::vector<BiasVector>> sets;
  for (const auto& path : request.models) sets.push_back(file_biases(path, request, selection, progress));
  const std::vector<std::string> labels = file_labels(request.models);

  JobResult result;
  result.summary = {{"command", "bias"}, {"files", request.models}, {"layers", sets[0].size()}};
  BiasViews views = bias_views(labels, sets, static_cast<std::size_t>(request.per_page), request.wanted.figures);
  result.text = table_text(views.shown);
  if (sets.size() > 1) {
    const BiasComparison& cmp = views.comparison;
    for (const auto& name : cmp.only_before) result.text += "only in " + one_line(labels.front()) + ": " + one_line(name) + "\n";
    for (const auto& name : cmp.only_after) result.text += "only in " + one_line(labels.back()) + ": " + one_line(name) + "\n";
    for (const auto& text : cmp.resized) result.text += "different sizes: " + one_line(text) + "\n";
    result.summary["only_before"] = cmp.only_before;
    result.summary["only_after"] = cmp.only_after;
    result.summary["resized"] = cmp.resized;
  }
  const std::size_t nonfinite = views.nonfinite;
  result.summary["nonfinite"] = nonfinite;
  if (request.fail_on_nonfinite && nonfinite) {
    const std::vector<std::string>& bad_layers = views.nonfinite_layers;
    std::string layers;
    for (std::size_t i = 0; i < bad_layers.size() && i < 5; ++i) layers += (i ? ", " : "") + bad_layers[i];
    if (bad_layers.size() > 5) layers += ", ...";
    result.failed_check = {{"--fail-on-nonfinite", std::to_string(nonfinite) + " NaN or Inf values in " + layers}};
  }
  result.products = std::move(views.products);
  return result;
}

}  // namespace pevis
