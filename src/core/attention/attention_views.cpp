#include "pevis/attention/attention_views.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/nan_to_num.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "pevis/io/model.h"
#include "pevis/base/error.h"
#include "pevis/base/shape_text.h"
#include "pevis/base/text.h"
#include "pevis/base/memory.h"
#include "pevis/base/parallel.h"

namespace pevis {
namespace {

// Labels for `count` positions: the tokens when they fit, else indices.
std::vector<std::string> position_labels(const std::vector<std::string>& tokens, std::int64_t count) {
  if (static_cast<std::int64_t>(tokens.size()) == count) return tokens;
  return index_labels(static_cast<std::size_t>(count));
}

LabeledMatrix attention_matrix(const at::Tensor& map, std::string name, const std::vector<std::string>& tokens) {
  return to_matrix(map, std::move(name), "query", position_labels(tokens, map.size(0)), position_labels(tokens, map.size(1)));
}

// One row per window and query ("window:query"), a column per key.
LabeledMatrix window_matrix(const at::Tensor& windows, std::string name) {
  const std::int64_t count = windows.size(0), t = windows.size(1);
  std::vector<std::string> rows;
  rows.reserve(static_cast<std::size_t>(count * t));
  for (std::int64_t w = 0; w < count; ++w) {
    for (std::int64_t q = 0; q < t; ++q) rows.push_back(std::to_string(w) + ":" + std::to_string(q));
  }
  return to_matrix(windows.reshape({count * t, windows.size(2)}), std::move(name), "window:query", std::move(rows),
                   index_labels(static_cast<std::size_t>(windows.size(2))));
}

// Up to a million finite weights of `maps`, evenly taken, for percentiles.
at::Tensor sample_of(const std::vector<at::Tensor>& maps) {
  std::vector<at::Tensor> parts;
  std::int64_t total = 0;
  for (const auto& m : maps) total += m.numel();
  const std::int64_t step = std::max<std::int64_t>(1, total / 1000000);
  for (const auto& m : maps) parts.push_back(m.reshape({-1}).slice(0, 0, m.numel(), step));
  at::Tensor all = at::cat(parts);
  return all.masked_select(all.isfinite());
}

std::string weight_text(double v) { return number_text("%.3g", v); }

}  // namespace

WeightScale choose_scale(const std::vector<at::Tensor>& maps, ColourScale wanted) {
  const at::Tensor values = sample_of(maps);
  WeightScale scale;
  if (values.numel() == 0) return scale;
  const double top = values.max().item<double>(), bottom = values.min().item<double>();
  if (!(top > 0)) return scale;
  scale.hi = top;
  // Order statistics without sorting (kthvalue counts from 1): the 99th
  // percentile, and the typical weight a key gets, masked keys (exactly 0) aside.
  const auto kth = [](const at::Tensor& t, std::int64_t index) { return std::get<0>(t.kthvalue(index + 1)).item<double>(); };
  const double p99 = kth(values, static_cast<std::int64_t>(0.99 * static_cast<double>(values.numel() - 1)));
  const at::Tensor positive = values.masked_select(values.gt(0));
  const double median = positive.numel() ? kth(positive, (positive.numel() - 1) / 2) : 0;
  ColourScale use = wanted;
  if (use == ColourScale::kAuto) {
    use = bottom >= 0.5 * top && bottom < top ? ColourScale::kRange
          : p99 < top / 3 && p99 > 0          ? ColourScale::kRobust
          : median > 0 && median < top / 20   ? ColourScale::kLog
                                              : ColourScale::kMax;
  }
  const std::string chosen = wanted == ColourScale::kAuto ? " (--scale max for 0 to the largest)" : "";
  switch (use) {
    case ColourScale::kRange:
      if (bottom < top) {
        scale.lo = bottom;
        scale.note = "colours span the weights' range, " + weight_text(bottom) + " to " + weight_text(top) + chosen;
      }
      break;
    case ColourScale::kRobust:
      if (p99 > 0 && p99 < top) {
        scale.hi = p99;
        scale.note = "colours from 0 to the 99th percentile, " + weight_text(p99) + "; the " +
                     "largest weights (up to " + weight_text(top) + ") at the top colour" + chosen;
      }
      break;
    case ColourScale::kLog:
      scale.lo = top / 1e4, scale.log = true;
      scale.note = "colours on a log scale from " + weight_text(scale.lo) + " to " + weight_text(top) +
                   " (smaller weights at the bottom colour)";
      break;
    default: break;
  }
  return scale;
}

namespace {

// Draws `heat` on `scale`: its colour range, and on a log scale the values
// below its floor raised to it (a log scale has no place for 0), so they
// take the bottom colour.
void apply_scale(plot::Heatmap& heat, const WeightScale& scale) {
  heat.z_min = scale.lo;
  heat.z_max = scale.hi;
  heat.log_z = scale.log;
  if (scale.log) {
    for (auto& v : heat.matrix.values) v = std::isfinite(v) ? std::max(v, static_cast<float>(scale.lo)) : v;
  }
}

// `pixels`: the most pixels a panel can have along a side; figures need no
// more cells than that (this keeps long inputs small in memory).
plot::Heatmap attention_heatmap(const LabeledMatrix& m, const WeightScale& scale, std::size_t pixels, bool labels) {
  plot::Heatmap heat;
  heat.full_rows = m.rows;
  heat.full_cols = m.cols;
  heat.matrix = plot::box_average(m, plot::whole_factor_side(m.rows, pixels), plot::whole_factor_side(m.cols, pixels));
  heat.label_rows = heat.label_cols = labels;
  apply_scale(heat, scale);
  heat.value_title = "weight";
  heat.square_cells = true;
  return heat;
}

plot::Heatmap attention_heatmap(const LabeledMatrix& m, double z_max, std::size_t pixels, bool labels) {
  WeightScale scale;
  scale.hi = z_max;
  return attention_heatmap(m, scale, pixels, labels);
}

// The most pixels a panel of `figure` can have along a side, at `size` when
// the run sets every figure's size.
std::size_t panel_pixels(const plot::Figure& figure, std::size_t panels, const std::optional<plot::Size>& size) {
  const plot::Size drawn = size.value_or(figure.size);
  const std::size_t columns = static_cast<std::size_t>(std::max(figure.columns, 1));
  const std::size_t rows = (panels + columns - 1) / columns;
  return static_cast<std::size_t>(
      std::max(drawn.width / static_cast<int>(columns), drawn.height / static_cast<int>(std::max<std::size_t>(rows, 1))));
}


// The heads a site's figure draws: --head, none (--head mean), or all.
std::vector<std::int64_t> drawn_heads(const AttentionSite& site, const AttentionViewOptions& options) {
  std::vector<std::int64_t> drawn;
  if (options.head) {
    drawn.push_back(*options.head);
  } else if (!options.mean_only) {
    for (std::int64_t k = 0; k < site.heads; ++k) drawn.push_back(k);
  }
  return drawn;
}

// Square maps in cells of 460 x 340 pixels: a plot area of about 225 x 245
// beside its colour bar, and room for the longest token label on both axes.
void size_site_figure(plot::Figure& figure, std::size_t panels, bool labelled, const std::vector<std::string>& tokens) {
  figure.columns = plot::square_grid_columns(panels);
  const int rows = static_cast<int>((panels + figure.columns - 1) / figure.columns);
  std::size_t longest = 0;
  if (labelled) {
    for (const auto& t : tokens) longest = std::max(longest, std::min(plot::display_width(t), plot::kMaxLabelChars));
  }
  const int label_px = static_cast<int>(7.5 * static_cast<double>(longest));
  figure.size = {std::clamp(figure.columns * (460 + label_px), 700, 4000), std::clamp(rows * (340 + label_px) + 70, 420, 4000)};
}

// At a size the run sets, the columns whose cells come nearest the 460 x 340
// of a map beside its colour bar (a tall figure stacks its panels).
int columns_for(std::size_t panels, const plot::Size& size) {
  int best = 1;
  double best_miss = INFINITY;
  for (int c = 1; c <= static_cast<int>(panels); ++c) {
    const auto rows = static_cast<double>((panels + static_cast<std::size_t>(c) - 1) / static_cast<std::size_t>(c));
    const double cell = (size.width / static_cast<double>(c)) / (size.height / rows);
    const double miss = std::fabs(std::log(cell / (460.0 / 340.0)));
    if (miss < best_miss - 1e-9) best = c, best_miss = miss;
  }
  return best;
}

// A site's data: every head and their mean; a windowed site's windows one
// after another (the mosaic is for the eye).
void add_site_data(Product& product, const AttentionSite& site, const at::Tensor& heads, const at::Tensor& mean,
                   const std::string& base, const AttentionViewOptions& options) {
  const bool windowed = site.windows > 1;
  const at::Tensor windows =
      windowed ? site.weights.slice(0, options.batch_index * site.windows, (options.batch_index + 1) * site.windows)
               : at::Tensor();
  for (std::int64_t k = 0; k < site.heads; ++k) {
    const std::string name = base + ".head" + std::to_string(k);
    product.data.push_back(windowed ? window_matrix(windows.select(1, k), name) : attention_matrix(heads[k], name, options.tokens));
  }
  product.data.push_back(windowed ? window_matrix(windows.mean(/*dim=*/1), base + ".mean")
                                  : attention_matrix(mean, base + ".mean", options.tokens));
}

Product site_product(const AttentionSite& site, const AttentionViewOptions& options) {
  if (!options.figures && !options.data) return {};  // nothing asked for: no copy, no colour scale
  const at::Tensor heads = drawn_weights(site, options.batch_index);  // [heads, rows, cols]
  const at::Tensor mean = heads.mean(/*dim=*/0);
  const bool windowed = site.windows > 1;
  const std::string base = "attention/" + site_file_name(site.name);
  const std::vector<std::int64_t> drawn = drawn_heads(site, options);
  // One head is its own mean: no second panel for it.
  const bool with_mean = options.mean_only || (!options.head && site.heads > 1);
  Product product;
  if (options.figures) {
    // One colour scale for the panels of a figure; data alone needs none.
    std::vector<at::Tensor> shown;
    for (auto k : drawn) shown.push_back(heads[k]);
    if (with_mean) shown.push_back(mean);
    const WeightScale z = choose_scale(shown, options.scale);
    plot::Figure& figure = product.figure;
    figure.name = base;
    const std::string element = element_text(site, options.batch_index);
    figure.title = "Attention of " + site.name + " (" + std::to_string(site.heads) + " head" + (site.heads == 1 ? "" : "s") + ")";
    if (!element.empty()) figure.notes.push_back("shown: " + element);
    if (!z.note.empty()) figure.notes.push_back(z.note);
    const std::size_t panels = drawn.size() + (with_mean ? 1 : 0);
    size_site_figure(figure, panels, !windowed && static_cast<std::int64_t>(options.tokens.size()) == heads.size(1),
                     options.tokens);
    if (options.size) figure.columns = columns_for(panels, *options.size);
    // The reading hint where the title has room for it beside the whole site name.
    const std::string hint = ": rows are queries, columns keys";
    if (static_cast<double>(plot::display_width(figure.title + hint)) <= figure.size.width / 11.5) figure.title += hint;
    const std::size_t pixels = panel_pixels(figure, panels, options.size);
    const std::string by = site.neighbours ? " (by window)" : " (by group)";
    const std::string key = windowed ? "key" + by : "key";
    const std::string query = windowed ? "query" + by : "query";
    const auto map_of = [&](const at::Tensor& w) {
      return windowed ? to_matrix(w, "", "query", index_labels(w.size(0)), index_labels(w.size(1)))
                      : attention_matrix(w, "", options.tokens);
    };
    for (auto k : drawn) {
      figure.panels.push_back({"head " + std::to_string(k), key, query, attention_heatmap(map_of(heads[k]), z, pixels, !windowed)});
    }
    if (with_mean) figure.panels.push_back({"mean of the heads", key, query, attention_heatmap(map_of(mean), z, pixels, !windowed)});
  }
  if (options.data) add_site_data(product, site, heads, mean, base, options);
  return product;
}

Product overview_product(const std::vector<AttentionSite>& sites, std::int64_t batch_index, ColourScale wanted) {
  std::int64_t max_heads = 1;
  for (const auto& s : sites) max_heads = std::max(max_heads, s.heads);
  plot::Figure figure;
  figure.name = "attention/overview";
  // Rows labelled by what tells the sites apart; the shared rest in the title.
  std::vector<std::string> names;
  for (const auto& s : sites) names.push_back(s.name);
  const plot::DistinctNames rows = plot::distinct_parts(names);
  figure.title = rows.pattern.empty() ? "Attention overview: sites by heads"
                                      : "Attention overview of " + rows.pattern + ": sites by heads";
  if (sites.front().batch > 1) figure.notes.push_back("input " + std::to_string(batch_index) + " of " + std::to_string(sites.front().batch));
  figure.columns = static_cast<int>(max_heads);
  const int cell = std::clamp(static_cast<int>(7800 / std::max<std::size_t>(sites.size(), max_heads)), 60, 140);
  figure.size = {std::max(600, cell * figure.columns + 20), std::max(300, cell * static_cast<int>(sites.size()) + 60)};
  // Wide enough for the title with its pattern (about 12 pixels a character).
  figure.size.width = std::min(4000, std::max(figure.size.width, static_cast<int>(plot::display_width(figure.title)) * 12 + 40));
  // Each site's maps once (a windowed site's mosaic is laid out for all its heads at a time).
  std::vector<at::Tensor> maps(sites.size());
  rethrow_first(for_each_index(sites.size(), [&](std::size_t i) { maps[i] = drawn_weights(sites[i], batch_index); }));
  figure.panels.resize(sites.size() * static_cast<std::size_t>(max_heads));
  rethrow_first(for_each_index(figure.panels.size(), [&](std::size_t p) {
    const std::size_t i = p / static_cast<std::size_t>(max_heads);
    const auto k = static_cast<std::int64_t>(p % static_cast<std::size_t>(max_heads));
    plot::Heatmap heat;
    heat.compact = true;
    heat.z_min = 0;
    if (k >= sites[i].heads) {  // a site with fewer heads: nothing drawn there
      figure.panels[p] = {"", "", "", heat};
      return;
    }
    const at::Tensor map = maps[i][k];
    // Each thumbnail on its own scale, chosen as a site's figure chooses.
    const WeightScale z = choose_scale({map}, wanted);
    heat.matrix = plot::box_average(to_matrix(map, "", "query", index_labels(map.size(0)), index_labels(map.size(1))), 256, 256);
    apply_scale(heat, z);
    if (z.note.empty()) heat.z_max.reset();  // 0 to its own largest, as drawn
    figure.panels[p] = {k == 0 ? rows.names[i] : "H" + std::to_string(k), "", "", heat};
  }));
  return {std::move(figure), {}, {}};
}

Product rollout_product(const std::vector<AttentionSite>& sites, const AttentionViewOptions& options) {
  std::vector<at::Tensor> fused;
  for (const auto& s : sites) fused.push_back(fuse_heads(drawn_weights(s, options.batch_index), options.fusion));
  const at::Tensor rollout = attention_rollout(fused);
  LabeledMatrix m = attention_matrix(rollout, "attention/rollout", options.tokens);
  static const char* fusions[] = {"mean", "max", "min"};
  plot::Figure figure;
  if (options.figures) {
    figure.name = "attention/rollout";
    figure.title = "Attention rollout over " + std::to_string(sites.size()) + " layers (heads fused by " +
                   fusions[static_cast<int>(options.fusion)] + ")";
    const std::string element = element_text(sites.front(), options.batch_index);
    if (!element.empty()) figure.notes.push_back("shown: " + element);
    figure.size = {1000, 900};
    figure.panels.push_back({"", "key", "query",
                             attention_heatmap(m, std::max(1e-6, rollout.max().item<double>()),
                                               panel_pixels(figure, 1, options.size), true)});
  }
  return {std::move(figure), {std::move(m)}, {}};
}

}  // namespace

std::pair<std::int64_t, std::int64_t> grid_of(const AttentionSite& site) {
  if (site.grid_rows > 0) return {site.grid_rows, site.grid_cols};
  const auto cols = static_cast<std::int64_t>(std::ceil(std::sqrt(static_cast<double>(site.windows))));
  return {(site.windows + cols - 1) / cols, cols};
}

std::string site_file_name(const std::string& site) {
  std::string out;
  for (char c : site) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '-';
  // A file name has at most 255 bytes, and pevis adds up to 21
  // (".head1234.labels.json"): a longer name keeps its two ends, with a
  // hash of the whole name between them, so that names stay apart.
  constexpr std::size_t kMost = 200, kHead = 100, kTail = 80;
  if (out.size() <= kMost) return out;
  std::uint64_t hash = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : site) hash = (hash ^ c) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return out.substr(0, kHead) + "~" + hex + "~" + out.substr(out.size() - kTail);
}

at::Tensor drawn_weights(const AttentionSite& site, std::int64_t batch_index) {
  const std::int64_t windows = std::max<std::int64_t>(site.windows, 1);
  at::Tensor block = site.weights.slice(/*dim=*/0, batch_index * windows, (batch_index + 1) * windows);
  if (windows == 1) return block[0];
  const auto [rows, cols] = grid_of(site);
  const std::int64_t t = block.size(2), s = block.size(3);
  if (rows * cols > windows) {
    block = at::cat({block, at::full({rows * cols - windows, site.heads, t, s}, NAN, block.options())});
  }
  return block.view({rows, cols, site.heads, t, s}).permute({2, 0, 3, 1, 4}).reshape({site.heads, rows * t, cols * s});
}

std::string element_text(const AttentionSite& site, std::int64_t batch_index) {
  std::string text;
  if (site.batch > 1) text = "input " + std::to_string(batch_index) + " of " + std::to_string(site.batch);
  if (site.windows > 1) {
    const auto [rows, cols] = grid_of(site);
    text += (text.empty() ? "" : ", ") + std::to_string(site.windows) + (site.neighbours ? " windows of " : " groups of ") +
            std::to_string(site.weights.size(2)) + " tokens";
    if (site.grid_rows > 0) {
      text += " on their " + std::to_string(rows) + "x" + std::to_string(cols) + " grid";
    } else if (site.neighbours) {
      text += " in order, " + std::to_string(cols) + " to a row (not a square grid)";
    } else {
      // Only the split is known (a grid attention gathers strided positions).
      text += " attended apart, drawn in their order, " + std::to_string(cols) +
              " to a row (where their tokens lie in the input is not known)";
    }
    if (site.neighbours && site.shift > 0) text += ", shifted by " + std::to_string(site.shift);
    if (site.neighbours && site.shift < 0) text += " (shift unknown)";
  }
  return text;
}

void check_attention_views(const std::vector<AttentionSite>& sites, const AttentionViewOptions& options) {
  for (const auto& s : sites) {
    if (options.head && *options.head >= s.heads) {
      throw bad_input("--head " + std::to_string(*options.head),
                      "site " + s.name + " has " + std::to_string(s.heads) + " heads", "heads count from 0");
    }
    if (options.batch_index < 0 || options.batch_index >= s.batch) {
      throw bad_input("--batch-index " + std::to_string(options.batch_index),
                      "site " + s.name + " has a batch of " + std::to_string(s.batch), "inputs count from 0");
    }
  }
  if (!options.rollout) return;
  for (const auto& s : sites) {
    if (s.windows > 1) {
      throw bad_input("--rollout", "site " + s.name + " attends within " + std::to_string(s.windows) +
                                       " windows: rollout needs every layer to attend over the same whole sequence",
                      "roll out layers of one sequence, chosen with --layer");
    }
  }
}

std::vector<Product> attention_views(std::vector<AttentionSite>& sites, const AttentionViewOptions& options) {
  check_attention_views(sites, options);
  if (options.data) {
    // The data copy of every head's map, and of the mean, while the captured weights are still held.
    long double copies = 0;
    for (const auto& s : sites) {
      const long double one = static_cast<long double>(s.weights.nbytes()) / static_cast<long double>(std::max<std::int64_t>(s.batch, 1));
      copies += one * (1.0L + 1.0L / static_cast<long double>(std::max<std::int64_t>(s.heads, 1)));
    }
    check_memory(copies, "the captured weights", "writing the weights of " + std::to_string(sites.size()) + " sites as data",
                 "choose sites with --layer REGEX, or write no data with --data none");
  }
  // The overview and the rollout first: then each site's captured weights
  // can go as soon as its own figure and data are made.
  std::vector<Product> products(sites.size());
  if (options.figures && (sites.size() > 1 || sites[0].heads > 1)) products.push_back(overview_product(sites, options.batch_index, options.scale));
  if (options.rollout) products.push_back(rollout_product(sites, options));
  rethrow_first(for_each_index(sites.size(), [&](std::size_t i) {
    products[i] = site_product(sites[i], options);
    sites[i].weights = at::Tensor();
  }));
  return products;
}

Product head_product(const std::vector<std::string>& sites, const std::vector<std::vector<HeadStatistics>>& stats,
                     bool patches, bool figures) {
  Table table{"attention/heads", {"site", "head", "entropy", "distance", "sink", "self", "prev", "induction"}, {}};
  const auto cell = [](double v) -> Cell { return std::isfinite(v) ? Cell(v) : Cell(std::string()); };
  plot::XYPlot dots;
  dots.style = plot::XYPlot::Style::kPoints;
  const plot::DistinctNames names = plot::distinct_parts(sites);
  for (std::size_t i = 0; i < sites.size(); ++i) {
    plot::Series series;
    series.title = names.names[i];
    for (std::size_t h = 0; h < stats[i].size(); ++h) {
      const HeadStatistics& s = stats[i][h];
      table.rows.push_back({sites[i], static_cast<std::int64_t>(h), cell(s.entropy), cell(s.distance), cell(s.sink),
                            cell(s.self), cell(s.prev), cell(s.induction)});
      if (std::isfinite(s.entropy) && std::isfinite(s.distance)) {
        series.x.push_back(s.distance);
        series.y.push_back(s.entropy);
      }
    }
    dots.series.push_back(std::move(series));
  }
  Product product;
  product.tables.push_back(std::move(table));
  if (figures) {
    plot::Figure figure;
    figure.name = "attention/heads";
    figure.title = "Each head's entropy and mean attention distance (a point per head, a colour per site)";
    figure.size = {1000, 640};
    figure.panels.push_back({names.pattern.empty() ? "" : "sites: " + names.pattern,
                             patches ? "mean attention distance (patches of the grid)" : "mean attention distance (tokens)",
                             "entropy (nats)", dots});
    product.figure = std::move(figure);
  }
  return product;
}

std::string sites_text(const std::vector<AttentionSite>& sites) {
  std::size_t width = 4;
  std::vector<std::string> names;  // a model's names: one row each, shown
  for (const auto& s : sites) names.push_back(one_line(s.name));
  for (const auto& name : names) width = std::max(width, plot::display_width(name));
  const auto right = [](const std::string& text, std::size_t n) {
    return std::string(n - std::min(n, text.size()), ' ') + text;
  };
  std::string out = "site" + std::string(width - 4, ' ') + "  heads  batch  windows  shape (batch*windows x heads x query x key)\n";
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const AttentionSite& s = sites[i];
    const std::string& name = names[i];
    std::string windows = std::to_string(s.windows);
    if (s.grid_rows > 0 && s.windows > 1) windows += " (" + std::to_string(s.grid_rows) + "x" + std::to_string(s.grid_cols) + ")";
    out += name + std::string(width - plot::display_width(name), ' ') + "  " + right(std::to_string(s.heads), 5) + "  " +
           right(std::to_string(s.batch), 5) + "  " + right(windows, 7) + "  " + sizes_text(s.weights.sizes().vec()) + "\n";
  }
  return out;
}

}  // namespace pevis
