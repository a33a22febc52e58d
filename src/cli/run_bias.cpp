#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>

#include "box.h"
#include "runners.h"
#include "model_input.h"
#include "output_options.h"
#include "pevis/io/load.h"
#include "pevis/bias/bias.h"
#include "pevis/bias/bias_views.h"
#include "pevis/base/error.h"
#include "pevis/base/memory.h"
#include "pevis/base/archive.h"
#include "pevis/io/model.h"

namespace pevis::cli {

void run_bias(const BiasOptions& options) {
  std::vector<std::string> paths = options.models;
  if (!options.compare.empty()) paths.push_back(options.compare);
  const BiasSelection selection{regex_option("--match", options.match), regex_option("--layer", options.layer)};
  enter_box({paths, {}, &options.output, ""}, options.safety, options.verbose);
  std::ostream& messages = human(options.output);

  std::vector<std::string> labels;
  std::vector<std::vector<BiasVector>> sets;
  for (const auto& path : paths) {
    const Model model = load_model(path);
    if (options.verbose) print_model_details(messages, path, model, /*tensors=*/true);
    const std::uint64_t read_before = tensor_bytes_read();
    auto biases = find_biases(model, selection);
    if (options.verbose) {
      messages << "  read " << human_bytes(static_cast<long double>(tensor_bytes_read() - read_before)) << " of tensor data for "
               << biases.size() << " vectors\n";
    }
    if (biases.empty()) {
      throw bad_input(path, "no " + std::string(options.match.empty() ? "bias vectors (1-D tensors named ...bias)" : "1-D tensors match --match") +
                                (options.layer.empty() ? "" : " within --layer"),
                      "choose other vectors with --match REGEX, or list the tensors with --verbose");
    }
    labels.push_back(file_label(path));
    sets.push_back(std::move(biases));
  }
  // Two files with the same name (run1/model.pt, run2/model.pt) are told apart by path.
  for (std::size_t i = 0; i < labels.size(); ++i)
    for (std::size_t j = 0; j < labels.size(); ++j)
      if (i != j && labels[i] == labels[j]) labels[i] = paths[i];

  nlohmann::json summary = {{"command", "bias"}, {"files", paths}, {"layers", sets[0].size()}};
  BiasViews views = bias_views(labels, sets, static_cast<std::size_t>(options.per_page), options.output.figures());
  messages << table_text(views.shown);
  if (sets.size() > 1) {
    const BiasComparison& cmp = views.comparison;
    for (const auto& name : cmp.only_before) messages << "only in " << labels.front() << ": " << name << "\n";
    for (const auto& name : cmp.only_after) messages << "only in " << labels.back() << ": " << name << "\n";
    for (const auto& text : cmp.resized) messages << "different sizes: " << text << "\n";
    summary["only_before"] = cmp.only_before;
    summary["only_after"] = cmp.only_after;
    summary["resized"] = cmp.resized;
  }
  const std::size_t nonfinite = views.nonfinite;
  const std::vector<std::string>& bad_layers = views.nonfinite_layers;
  summary["nonfinite"] = nonfinite;
  publish(std::move(views.products), options.output, std::move(summary));

  if (options.fail_on_nonfinite && nonfinite) {
    std::string layers;
    for (std::size_t i = 0; i < bad_layers.size() && i < 5; ++i) layers += (i ? ", " : "") + bad_layers[i];
    if (bad_layers.size() > 5) layers += ", ...";
    throw Error(ExitCode::kCheckFailed, "--fail-on-nonfinite",
                std::to_string(nonfinite) + " NaN or Inf values in " + layers);
  }
}


}  // namespace pevis::cli
