#include <ATen/core/Tensor.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>
#include <unistd.h>

#include "box.h"
#include "runners.h"
#include "model_input.h"
#include "output_options.h"
#include "pevis/io/load.h"
#include "pevis/attention/attention.h"
#include "pevis/attention/attention_views.h"
#include "pevis/capture/forward.h"
#include "pevis/capture/cpu_allocator.h"
#include "pevis/encoding/encoding.h"
#include "pevis/base/error.h"
#include "pevis/operators/attention_ops.h"
#include "pevis/base/shape_text.h"
#include "pevis/base/memory.h"
#include "pevis/io/model.h"
#include "pevis/base/parallel.h"
#include "pevis/io/tokens.h"

namespace pevis::cli {
namespace {

// Seconds since the last call (or since construction).
class Stopwatch {
 public:
  double lap() {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return seconds;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

std::string seconds_text(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3f s", seconds);
  return buffer;
}

void print_sites(std::ostream& out, const std::vector<AttentionSite>& sites) {
  std::size_t width = 4;
  for (const auto& s : sites) width = std::max(width, s.name.size());
  const auto right = [](const std::string& text, std::size_t n) {
    return std::string(n - std::min(n, text.size()), ' ') + text;
  };
  out << "site" << std::string(width - 4, ' ') << "  heads  batch  windows  shape (batch*windows x heads x query x key)\n";
  for (const auto& s : sites) {
    std::string windows = std::to_string(s.windows);
    if (s.grid_rows > 0 && s.windows > 1) windows += " (" + std::to_string(s.grid_rows) + "x" + std::to_string(s.grid_cols) + ")";
    out << s.name << std::string(width - s.name.size(), ' ') << "  " << right(std::to_string(s.heads), 5) << "  "
        << right(std::to_string(s.batch), 5) << "  " << right(windows, 7) << "  " << sizes_text(s.weights.sizes().vec()) << "\n";
  }
}

// The plain forward pass, three times after the capture (so that the capture
// is timed as in any run; the model's code is compiled by then, which only
// makes the plain runs faster): the first run is what running the model once
// costs (TorchScript profiles and optimises its graph over the first two),
// the third what it costs warm.
void time_plain_runs(const Model& model, const ModelInput& input, Stopwatch& clock, nlohmann::json& seconds) {
  plain_forward(model, input.values);
  seconds["plain_forward"] = clock.lap();
  plain_forward(model, input.values);
  clock.lap();
  plain_forward(model, input.values);
  seconds["plain_forward_warm"] = clock.lap();
}

void print_timings(const nlohmann::json& seconds) {
  const double plain = seconds["plain_forward"].get<double>(), captured = seconds["capture"].get<double>();
  const double warm = seconds["plain_forward_warm"].get<double>();
  std::cerr << "pevis: load " << seconds_text(seconds["load"].get<double>()) << ", plain forward " << seconds_text(plain)
            << " (warm: " << seconds_text(warm) << "), capturing forward " << seconds_text(captured) << " ("
            << (plain > 0 ? captured / plain : 0) << "x the first plain run, " << (warm > 0 ? captured / warm : 0)
            << "x a warm one), preparing figures " << seconds_text(seconds["prepare"].get<double>()) << ", writing and drawing "
            << seconds_text(seconds["write"].get<double>()) << std::endl;
}

// The sites a run keeps: every site found, or those --layer names; refuses
// an empty result, telling no match from no attention at all.
void keep_wanted(std::vector<AttentionSite>& sites, std::size_t skipped, const std::optional<std::regex>& layer,
                 const AttentionOptions& options) {
  if (sites.empty() && skipped > 0) {
    throw bad_input("--layer " + options.layer, "no attention site matches", "see the sites with --list");
  }
  if (sites.empty()) {
    throw bad_input(options.model,
                    "no attention was found: in the forward pass that ran, no softmax over the last dimension of a "
                    "tensor of 3 or more dimensions, and no " + formed_ops_text(),
                    "if the model has attention, it is computed some other way; see the sites pevis looks for in the README");
  }
  if (!layer) return;
  sites.erase(std::remove_if(sites.begin(), sites.end(), [&](const AttentionSite& s) { return !std::regex_search(s.name, *layer); }),
              sites.end());
  if (sites.empty()) throw bad_input("--layer " + options.layer, "no attention site matches", "see the sites with --list");
}

nlohmann::json listed_sites(const std::vector<AttentionSite>& sites) {
  nlohmann::json listed = nlohmann::json::array();
  for (const auto& s : sites) {
    std::vector<std::int64_t> shape(s.weights.sizes().begin(), s.weights.sizes().end());
    listed.push_back({{"name", s.name}, {"path", s.path}, {"heads", s.heads}, {"batch", s.batch},
                      {"windows", s.windows}, {"shape", shape}});
  }
  return listed;
}

AttentionViewOptions view_options(const AttentionOptions& options, const ModelInput& input) {
  AttentionViewOptions view;
  if (options.head == "mean") view.mean_only = true;
  if (!options.head.empty() && options.head != "mean") view.head = std::stoll(options.head);
  view.batch_index = options.batch_index;
  view.data = options.output.writes_data();
  view.figures = options.output.figures();
  view.size = to_spec(options.output).size;
  view.tokens = input.labels;
  view.rollout = options.rollout;
  view.fusion = options.fusion;
  return view;
}

}  // namespace

void run_attention(const AttentionOptions& options) {
  const std::optional<std::regex> layer = regex_option("--layer", options.layer);
  enter_box({{options.model}, {options.input.input, options.input.vocab}, options.list ? nullptr : &options.output, ""},
            options.safety, options.safety.verbose);
  Stopwatch clock;
  nlohmann::json seconds = nlohmann::json::object();
  const Model model = load_model(options.model);
  const ModelInput input = make_input(options.input, &model);
  seconds["load"] = clock.lap();
  if (::isatty(STDERR_FILENO)) std::cerr << "pevis: running " << options.model << " and capturing attention..." << std::endl;
  // Sites --layer cannot match are not kept: they cost no memory.
  std::size_t skipped = 0;
  auto sites = capture_attention(model, input.values, nullptr, layer ? site_filter(*layer, options.layer) : SiteFilter{},
                                 &skipped);
  seconds["capture"] = clock.lap();
  if (options.timings) time_plain_runs(model, input, clock, seconds);
  stop_keeping_cpu_blocks();  // no more forward passes
  keep_wanted(sites, skipped, layer, options);
  split_batches(sites, model, input.batch, input.image);
  nlohmann::json summary = {{"command", "attention"}, {"model", options.model}, {"sites", listed_sites(sites)}};
  if (options.list) {
    print_sites(human(options.output), sites);
    if (options.output.json) std::cout << summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  std::vector<Product> products = attention_views(sites, view_options(options, input));
  summary["batch_index"] = options.batch_index;
  summary["tokens"] = input.labels.size();
  if (!options.timings) return publish(std::move(products), options.output, std::move(summary));
  seconds["prepare"] = clock.lap();
  summary["seconds"] = seconds;
  publish(std::move(products), options.output, summary);
  seconds["write"] = clock.lap();
  print_timings(seconds);
}


}  // namespace pevis::cli
