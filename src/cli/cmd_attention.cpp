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

#include "commands.h"
#include "model_input.h"
#include "output_options.h"
#include "pevis/attention.h"
#include "pevis/capture.h"
#include "pevis/encoding.h"
#include "pevis/error.h"
#include "pevis/memory.h"
#include "pevis/model.h"
#include "pevis/parallel.h"
#include "pevis/tokens.h"

namespace pevis::cli {
namespace {

struct AttentionOptions {
  std::string model;
  InputOptions input;
  bool list = false;
  std::string head;
  std::string layer;
  bool rollout = false;
  std::string fusion = "mean";
  bool timings = false;
  OutputOptions output;
};

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

// File names keep only characters every shell and file system take.
std::string file_name(const std::string& site) {
  std::string out;
  for (char c : site) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '-';
  return out;
}

std::string shape_text(const at::Tensor& t) {
  std::string text;
  for (std::int64_t d = 0; d < t.dim(); ++d) text += (d ? "x" : "") + std::to_string(t.size(d));
  return text;
}

// Labels for `count` positions: the tokens when they fit, else indices.
std::vector<std::string> position_labels(const std::vector<std::string>& tokens, std::int64_t count) {
  if (static_cast<std::int64_t>(tokens.size()) == count) return tokens;
  return index_labels(static_cast<std::size_t>(count));
}

LabeledMatrix attention_matrix(const at::Tensor& map, std::string name, const std::vector<std::string>& tokens) {
  return to_matrix(map, std::move(name), "query", position_labels(tokens, map.size(0)), position_labels(tokens, map.size(1)));
}

// `pixels`: the most pixels a panel can have along a side; figures need no
// more cells than that (this keeps long inputs small in memory).
plot::Heatmap attention_heatmap(const LabeledMatrix& m, double z_max, std::size_t pixels) {
  plot::Heatmap heat;
  heat.full_rows = m.rows;
  heat.full_cols = m.cols;
  heat.matrix = plot::box_average(m, plot::whole_factor_side(m.rows, pixels), plot::whole_factor_side(m.cols, pixels));
  heat.label_rows = heat.label_cols = true;
  heat.z_min = 0;
  heat.z_max = z_max;
  heat.value_title = "weight";
  return heat;
}

// The most pixels a panel of `figure` can have along a side, at `size` when
// the run sets every figure's size.
std::size_t panel_pixels(const plot::Figure& figure, std::size_t panels, const std::optional<plot::Size>& size) {
  const plot::Size drawn = size.value_or(figure.size);
  const std::size_t columns = static_cast<std::size_t>(std::max(figure.columns, 1));
  const std::size_t rows = (panels + columns - 1) / columns;
  return static_cast<std::size_t>(std::max(drawn.width / static_cast<int>(columns), drawn.height / static_cast<int>(std::max<std::size_t>(rows, 1))));
}

Product site_product(const AttentionSite& site, const std::vector<std::string>& tokens, const std::string& head,
                     bool with_data, const std::optional<plot::Size>& size) {
  const at::Tensor heads = site.weights[0];  // the one sequence fed
  const at::Tensor mean = heads.mean(/*dim=*/0);
  const std::string base = "attention/" + file_name(site.name);
  Product product;
  std::vector<std::int64_t> drawn;
  if (head.empty()) {
    for (std::int64_t k = 0; k < site.heads; ++k) drawn.push_back(k);
  } else if (head != "mean") {
    drawn.push_back(std::stoll(head));
  }
  // One head is its own mean: no second panel for it.
  const bool with_mean = head == "mean" || (head.empty() && site.heads > 1);
  double z_max = with_mean ? mean.max().item<double>() : 0;
  for (auto k : drawn) z_max = std::max(z_max, heads[k].max().item<double>());
  if (!(z_max > 0)) z_max = 1;

  plot::Figure& figure = product.figure;
  figure.name = base;
  figure.title = "Attention of " + site.name + " (" + std::to_string(site.heads) + " head" + (site.heads == 1 ? "" : "s") +
                 "): rows are queries, columns keys";
  const std::size_t panels = drawn.size() + (with_mean ? 1 : 0);
  figure.columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(panels))));
  const int rows = static_cast<int>((panels + figure.columns - 1) / figure.columns);
  figure.size = {std::clamp(figure.columns * 460, 700, 4000), std::clamp(rows * 420 + 60, 500, 4000)};
  // Each matrix is copied out of its tensor once, for the figure and the data.
  std::vector<LabeledMatrix> matrices;
  for (std::int64_t k = 0; k < site.heads; ++k) {
    const bool needed = with_data || std::find(drawn.begin(), drawn.end(), k) != drawn.end();
    matrices.push_back(needed ? attention_matrix(heads[k], base + ".head" + std::to_string(k), tokens) : LabeledMatrix{});
  }
  const LabeledMatrix mean_matrix =
      with_data || with_mean ? attention_matrix(mean, base + ".mean", tokens) : LabeledMatrix{};
  const std::size_t pixels = panel_pixels(figure, panels, size);
  for (auto k : drawn) {
    figure.panels.push_back({"head " + std::to_string(k), "key", "query", attention_heatmap(matrices[k], z_max, pixels)});
  }
  if (with_mean) {
    figure.panels.push_back({"mean of the heads", "key", "query", attention_heatmap(mean_matrix, z_max, pixels)});
  }
  if (with_data) {
    for (auto& m : matrices) product.data.push_back(std::move(m));
    product.data.push_back(mean_matrix);
  }
  return product;
}

Product overview_product(const std::vector<AttentionSite>& sites) {
  std::int64_t max_heads = 1;
  for (const auto& s : sites) max_heads = std::max(max_heads, s.heads);
  plot::Figure figure;
  figure.name = "attention/overview";
  figure.title = "Attention overview: one row per site, one column per head";
  figure.columns = static_cast<int>(max_heads);
  const int cell = std::clamp(static_cast<int>(7800 / std::max<std::size_t>(sites.size(), max_heads)), 60, 140);
  figure.size = {std::max(600, cell * figure.columns + 20), std::max(300, cell * static_cast<int>(sites.size()) + 60)};
  figure.panels.resize(sites.size() * static_cast<std::size_t>(max_heads));
  rethrow_first(for_each_index(figure.panels.size(), [&](std::size_t p) {
    const std::size_t i = p / static_cast<std::size_t>(max_heads);
    const auto k = static_cast<std::int64_t>(p % static_cast<std::size_t>(max_heads));
    const at::Tensor heads = sites[i].weights[0];
    plot::Heatmap heat;
    heat.compact = true;
    heat.z_min = 0;
    if (k < sites[i].heads) {
      heat.matrix = plot::box_average(
          to_matrix(heads[k], "", "query", index_labels(heads.size(1)), index_labels(heads.size(2))), 256, 256);
    } else {  // a site with fewer heads: an empty cell
      heat.matrix = to_matrix(at::full({1, 1}, NAN), "", "query", {"0"}, {"0"});
    }
    figure.panels[p] = {"L" + std::to_string(i) + " H" + std::to_string(k), "", "", heat};
  }));
  return {std::move(figure), {}, {}};
}

void print_sites(std::ostream& out, const std::vector<AttentionSite>& sites) {
  std::size_t width = 4;
  for (const auto& s : sites) width = std::max(width, s.name.size());
  out << "site" << std::string(width - 4, ' ') << "  heads  shape (batch x heads x query x key)\n";
  for (const auto& s : sites) {
    out << s.name << std::string(width - s.name.size(), ' ') << "  " << std::string(5 - std::min<std::size_t>(5, std::to_string(s.heads).size()), ' ')
        << s.heads << "  " << shape_text(s.weights) << "\n";
  }
}

void run_attention(const AttentionOptions& options) {
  const std::optional<std::regex> layer = regex_option("--layer", options.layer);
  if (!options.head.empty() && options.head != "mean" &&
      (options.head.find_first_not_of("0123456789") != std::string::npos || options.head.size() > 6)) {
    throw Error(ExitCode::kUsage, "--head " + options.head, "expected a head number or 'mean'");
  }
  Stopwatch clock;
  nlohmann::json seconds = nlohmann::json::object();
  const Model model = load_model(options.model);
  const ModelInput input = make_input(options.input, &model);
  seconds["load"] = clock.lap();
  std::ostream& messages = human(options.output);
  const bool progress = ::isatty(STDERR_FILENO);
  if (progress) std::cerr << "pevis: running " << options.model << " and capturing attention..." << std::endl;

  // Sites --layer cannot match are not kept: they cost no memory.
  std::size_t skipped = 0;
  auto sites = capture_attention(model, input.values, nullptr, layer ? site_filter(*layer, options.layer) : SiteFilter{},
                                 &skipped);
  seconds["capture"] = clock.lap();
  if (options.timings) {
    // The same forward pass without capturing, three times, after the
    // capture (so that the capture is timed as in any run; the model's code
    // is compiled by then, which only makes the plain runs faster): the first
    // run is what running the model once costs (TorchScript profiles and
    // optimises its graph over the first two), the third what it costs warm.
    plain_forward(model, input.values);
    seconds["plain_forward"] = clock.lap();
    plain_forward(model, input.values);
    clock.lap();
    plain_forward(model, input.values);
    seconds["plain_forward_warm"] = clock.lap();
  }
  if (sites.empty() && skipped > 0) {
    throw bad_input("--layer " + options.layer, "no attention site matches", "see the sites with --list");
  }
  if (sites.empty()) {
    throw bad_input(options.model,
                    "no attention was found: in the forward pass that ran, no softmax over the last dimension of a "
                    "tensor of 3 or more dimensions, and no scaled_dot_product_attention, "
                    "_native_multi_head_attention or _transformer_encoder_layer_fwd",
                    "if the model has attention, it is computed some other way; see the sites pevis looks for in the README");
  }
  if (layer) {
    sites.erase(std::remove_if(sites.begin(), sites.end(), [&](const AttentionSite& s) { return !std::regex_search(s.name, *layer); }),
                sites.end());
    if (sites.empty()) throw bad_input("--layer " + options.layer, "no attention site matches", "see the sites with --list");
  }
  nlohmann::json listed = nlohmann::json::array();
  for (const auto& s : sites) {
    std::vector<std::int64_t> shape(s.weights.sizes().begin(), s.weights.sizes().end());
    listed.push_back({{"name", s.name}, {"path", s.path}, {"heads", s.heads}, {"shape", shape}});
  }
  nlohmann::json summary = {{"command", "attention"}, {"model", options.model}, {"sites", listed}};
  if (options.list) {
    print_sites(messages, sites);
    if (options.output.json) std::cout << summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  if (!options.head.empty() && options.head != "mean") {
    const auto k = std::stoll(options.head);
    for (const auto& s : sites) {
      if (k >= s.heads) {
        throw bad_input("--head " + options.head, "site " + s.name + " has " + std::to_string(s.heads) + " heads",
                        "heads count from 0");
      }
    }
  }

  // The overview and the rollout first: then each site's captured weights
  // can go as soon as its own figure and data are made.
  std::vector<Product> products(sites.size());
  const bool with_data = options.output.data != "none";
  if (with_data) {
    // The data copy of every head's map, and of the mean, while the captured weights are still held.
    long double copies = 0;
    for (const auto& s : sites) {
      copies += static_cast<long double>(s.weights[0].nbytes()) * (1.0L + 1.0L / static_cast<long double>(std::max<std::int64_t>(s.heads, 1)));
    }
    check_memory(copies, options.model, "writing the weights of " + std::to_string(sites.size()) + " sites as data",
                 "choose sites with --layer REGEX, or write no data with --data none");
  }
  const std::optional<plot::Size> size = to_spec(options.output).size;
  if (sites.size() > 1 || sites[0].heads > 1) products.push_back(overview_product(sites));
  if (options.rollout) {
    const Fusion fusion = options.fusion == "max" ? Fusion::kMax : options.fusion == "min" ? Fusion::kMin : Fusion::kMean;
    std::vector<at::Tensor> fused;
    for (const auto& s : sites) fused.push_back(fuse_heads(s.weights[0], fusion));
    const at::Tensor rollout = attention_rollout(fused);
    LabeledMatrix m = attention_matrix(rollout, "attention/rollout", input.labels);
    plot::Figure figure;
    figure.name = "attention/rollout";
    figure.title = "Attention rollout over " + std::to_string(sites.size()) + " layers (heads fused by " + options.fusion + ")";
    figure.size = {1000, 900};
    figure.panels.push_back({"", "key", "query",
                             attention_heatmap(m, std::max(1e-6, rollout.max().item<double>()), panel_pixels(figure, 1, size))});
    products.push_back({std::move(figure), {std::move(m)}, {}});
  }
  rethrow_first(for_each_index(sites.size(), [&](std::size_t i) {
    products[i] = site_product(sites[i], input.labels, options.head, with_data, size);
    sites[i].weights = at::Tensor();
  }));
  summary["tokens"] = input.labels.size();
  if (!options.timings) {
    publish(std::move(products), options.output, std::move(summary));
    return;
  }
  seconds["prepare"] = clock.lap();
  summary["seconds"] = seconds;
  publish(std::move(products), options.output, summary);
  seconds["write"] = clock.lap();
  const double plain = seconds["plain_forward"].get<double>(), captured = seconds["capture"].get<double>();
  const double warm = seconds["plain_forward_warm"].get<double>();
  std::cerr << "pevis: load " << seconds_text(seconds["load"].get<double>()) << ", plain forward " << seconds_text(plain)
            << " (warm: " << seconds_text(warm) << "), capturing forward " << seconds_text(captured) << " ("
            << (plain > 0 ? captured / plain : 0) << "x the first plain run, " << (warm > 0 ? captured / warm : 0)
            << "x a warm one), preparing figures " << seconds_text(seconds["prepare"].get<double>()) << ", writing and drawing "
            << seconds_text(seconds["write"].get<double>()) << std::endl;
}

}  // namespace

void setup_attention(CLI::App& app) {
  auto options = std::make_shared<AttentionOptions>();
  CLI::App* command =
      app.add_subcommand("attention", "capture the attention weights of a TorchScript model or torch.export program in a forward pass, and draw them");
  command->add_option("MODEL", options->model, "a TorchScript model (torch.jit.script(model).save(path)) or a torch.export program (.pt2)")->required();
  add_input_options(*command, options->input);
  command->add_flag("--list", options->list, "print the attention sites found (path, heads, shape) and draw nothing");
  command->add_option("--head", options->head, "draw one head (a number from 0) or 'mean' instead of all");
  command->add_option("--layer", options->layer, "keep the sites whose name matches this regex");
  command->add_flag("--rollout", options->rollout, "also compute attention rollout through the layers");
  command->add_flag("--timings", options->timings,
                    "also run the model three times without capturing, and print on stderr how long each step took");
  command->add_option("--fusion", options->fusion, "how rollout fuses heads: mean, max or min")
      ->check(CLI::IsMember({"mean", "max", "min"}))
      ->capture_default_str();
  add_output_options(*command, options->output);
  command->footer(
      "Writes, in OUT/attention/: SITE.png (one heatmap per head and their mean; queries down, keys across),\n"
      "SITE.headK.csv and SITE.mean.csv (the weights), overview.png (every site by every head), and with\n"
      "--rollout rollout.png and rollout.csv. SITE is the module path, e.g. encoder.layers.0.self_attn.\n\n"
      "Examples:\n"
      "  pevis attention model.pt --input seq.txt --vocab vocab.txt\n"
      "  pevis attention model.pt --input ids.txt --list\n"
      "  pevis attention model.pt --input seq.txt --vocab vocab.txt --layer 'layers\\.0\\.' --head mean\n"
      "  pevis attention vit.pt --input-shape 1,3,224,224 --rollout\n"
      "  pevis attention model.pt2                  # a torch.export program, on the example it was exported with");
  command->callback([options] { run_attention(*options); });
}

}  // namespace pevis::cli
