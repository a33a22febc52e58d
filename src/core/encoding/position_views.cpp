#include "pevis/encoding/position_views.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "pevis/base/text.h"
#include "pevis/positional/alibi.h"

namespace pevis {
namespace {

std::string compact(double v) { return number_text("%.6g", v); }

plot::Panel heat_panel(LabeledMatrix matrix, std::string title, std::string x_title, std::string y_title,
                       std::string value_title, double row_first = 0, double col_first = 0) {
  plot::Heatmap heat;
  heat.matrix = std::move(matrix);
  heat.row_first = row_first;
  heat.col_first = col_first;
  heat.value_title = std::move(value_title);
  return {std::move(title), std::move(x_title), std::move(y_title), std::move(heat)};
}

plot::Series level(std::string title, double x0, double x1, double y0, double y1) {
  plot::Series s;
  s.title = std::move(title);
  s.x = {x0, x1};
  s.y = {y0, y1};
  s.look = plot::Series::Look::kDashed;
  return s;
}

}  // namespace

plot::Panel map_panel(LabeledMatrix matrix, std::string title, std::string x_title, std::string y_title,
                      std::string value_title, double row_first, double col_first) {
  plot::Panel panel = heat_panel(std::move(matrix), std::move(title), std::move(x_title), std::move(y_title),
                                 std::move(value_title), row_first, col_first);
  std::get<plot::Heatmap>(panel.content).square_cells = true;
  return panel;
}

std::vector<Product> table_products(const float* table, std::int64_t rows, std::int64_t width, const TableView& view,
                                    bool figures) {
  const std::int64_t window = std::min(view.window, rows);
  const auto positions = index_labels(static_cast<std::size_t>(rows), view.first);
  const auto window_positions = index_labels(static_cast<std::size_t>(window), view.first);
  std::vector<Product> products;
  {
    Product product;
    LabeledMatrix m = labeled(std::vector<float>(table, table + rows * width), static_cast<std::size_t>(rows),
                              static_cast<std::size_t>(width), "encoding", "position", positions,
                              index_labels(static_cast<std::size_t>(width)));
    if (figures) {
      product.figure.name = "encoding";
      product.figure.title = view.about;
      auto panel = heat_panel(m, "", "dimension", "position", "value", static_cast<double>(view.first));
      if (view.sinusoid) {
        auto& heat = std::get<plot::Heatmap>(panel.content);
        heat.z_min = -1;  // sin and cos: the full range, whatever part is shown
        heat.z_max = 1;
        product.figure.notes.push_back("even dimensions hold sin, odd ones cos: neighbouring columns alternate");
      }
      product.figure.panels.push_back(std::move(panel));
    }
    product.data.push_back(std::move(m));
    products.push_back(std::move(product));
  }
  {
    Product product;
    const auto count = static_cast<std::int64_t>(view.dims.size());
    std::vector<float> selected(static_cast<std::size_t>(window * count));
    std::vector<std::string> dim_labels;
    plot::Figure& figure = product.figure;
    figure.name = "encoding-dims";
    figure.title = "Dimensions over position: " + view.about;
    figure.columns = view.dims.size() <= 3 ? 1 : view.dims.size() <= 8 ? 2 : plot::square_grid_columns(view.dims.size());
    for (std::int64_t i = 0; i < count; ++i) {
      const std::int64_t d = view.dims[static_cast<std::size_t>(i)];
      dim_labels.push_back(std::to_string(d));
      for (std::int64_t p = 0; p < window; ++p) selected[static_cast<std::size_t>(p * count + i)] = table[p * width + d];
      if (!figures) continue;
      // Dimension pair (2i, 2i+1) has wavelength 2*pi*base^(2i/D) positions.
      const double wavelength = 2 * M_PI * std::pow(view.base, static_cast<double>(d - d % 2) / static_cast<double>(width));
      // A fast wave over hundreds of positions reads as noise: its panel
      // shows eight wavelengths (at least 32 positions).
      const std::int64_t shown =
          view.sinusoid ? std::min<std::int64_t>(window, std::max<std::int64_t>(32, std::llround(8 * wavelength))) : window;
      plot::Series series;
      for (std::int64_t p = 0; p < shown; ++p) {
        series.x.push_back(static_cast<double>(view.first + p));
        series.y.push_back(table[p * width + d]);
      }
      plot::XYPlot line;
      line.series.push_back(std::move(series));
      std::ostringstream title;
      title.precision(wavelength < 100 ? 1 : 0);
      title << "dim " << d;
      if (view.sinusoid) {
        title << (d % 2 == 0 ? ": sin" : ": cos") << ", wavelength " << std::fixed << wavelength << " positions";
        if (shown < window) title << " (first " << shown << ")";
        line.y_min = -1.1, line.y_max = 1.1;
      }
      figure.panels.push_back({title.str(), "position", "value", std::move(line)});
    }
    if (!figures) figure = {};
    product.data.push_back(labeled(std::move(selected), static_cast<std::size_t>(window), view.dims.size(), "encoding-dims",
                                   "position", window_positions, dim_labels));
    products.push_back(std::move(product));
  }
  {
    Product product;
    LabeledMatrix m = labeled(row_similarity(table, window, width, view.similarity), static_cast<std::size_t>(window),
                              static_cast<std::size_t>(window), "encoding-similarity", "position", window_positions,
                              window_positions);
    if (figures) {
      const std::string kind = view.similarity == Similarity::kCosine ? "cosine similarity" : "dot product";
      product.figure.name = "encoding-similarity";
      product.figure.title = "Position similarity, " + kind + ": " + view.about;
      product.figure.panels.push_back(
          map_panel(m, "", "position", "position", kind, static_cast<double>(view.first), static_cast<double>(view.first)));
    }
    product.data.push_back(std::move(m));
    products.push_back(std::move(product));
  }
  return products;
}

std::vector<std::int64_t> decay_distances(std::int64_t max_len) {
  constexpr std::int64_t kAll = 65536, kSampled = 4096;
  std::vector<std::int64_t> out;
  for (std::int64_t d = 0; d < std::min(max_len, kAll); ++d) out.push_back(d);
  if (max_len > kAll) {
    const double step = std::log(static_cast<double>(max_len - 1) / kAll) / kSampled;
    for (std::int64_t k = 1; k <= kSampled; ++k) {
      const auto d = static_cast<std::int64_t>(std::llround(kAll * std::exp(step * static_cast<double>(k))));
      if (d > out.back() && d < max_len) out.push_back(d);
    }
    if (out.back() != max_len - 1) out.push_back(max_len - 1);
  }
  return out;
}

RopeView rope_view_of(const RopeSpec& spec, std::string about, std::int64_t first, std::int64_t end) {
  RopeView view;
  view.about = std::move(about);
  view.inv_freq = rope_inv_freq(spec);
  view.attention_factor = rope_attention_factor(spec);
  view.max_len = spec.max_len;
  if (spec.scaling != RopeScaling::kNone) {
    view.label = scaling_name(spec.scaling) + " x" + compact(spec.factor);
    view.reference = rope_inv_freq(unscaled(spec));
    view.reference_label = "unscaled";
    view.original_context = rope_original_context(spec);
  }
  view.first = first;
  view.end = end;
  return view;
}

RopeView stored_rope_view(const std::vector<double>& stored, const RopeFit& fit, std::string about,
                          std::optional<std::int64_t> context, bool* context_assumed) {
  RopeView view;
  view.about = std::move(about);
  view.inv_freq = stored;
  view.label = "stored";
  if (fit.scaling != RopeScaling::kNone) {
    view.reference = fit.ideal;
    view.reference_label = "unscaled, base " + compact(fit.base);
  }
  const bool llama = fit.scaling == RopeScaling::kLlama3 && fit.band_known;
  if (!context && llama) context = std::llround(fit.smooth_to * fit.factor);
  if (context_assumed) *context_assumed = !context;
  view.max_len = context.value_or(4096);
  if (llama) view.original_context = static_cast<std::int64_t>(std::llround(fit.smooth_to));
  return view;
}

std::int64_t pairs_without_full_turn(const std::vector<double>& inv_freq, std::int64_t context) {
  std::int64_t count = 0;
  for (double w : wavelengths(inv_freq)) count += w > static_cast<double>(context);
  return count;
}

namespace {

// Position x pair angle table.
Product rope_angles(const RopeView& view, bool figures) {
  const auto pairs = static_cast<std::int64_t>(view.inv_freq.size());
  const std::int64_t rows = view.end - view.first;
  LabeledMatrix cos, sin;
  for (auto* m : {&cos, &sin}) {
    m->row_title = "position";
    m->rows = static_cast<std::size_t>(rows);
    m->cols = static_cast<std::size_t>(pairs);
    m->row_labels = index_labels(m->rows, view.first);
    m->col_labels = index_labels(m->cols);
    m->values.resize(m->rows * m->cols);
  }
  cos.name = "rope-cos";
  sin.name = "rope-sin";
  for (std::int64_t r = 0; r < rows; ++r) {
    const double p = static_cast<double>(view.first + r);
    for (std::int64_t i = 0; i < pairs; ++i) {
      const double angle = p * view.inv_freq[static_cast<std::size_t>(i)];
      cos.values[r * pairs + i] = static_cast<float>(view.attention_factor * std::cos(angle));
      sin.values[r * pairs + i] = static_cast<float>(view.attention_factor * std::sin(angle));
    }
  }
  Product product;
  if (figures) {
    product.figure.name = "rope-angles";
    product.figure.title = "Rotary angles, position x pair: " + view.about;
    product.figure.columns = 2;
    product.figure.size = {1200, 700};
    for (const auto* m : {&cos, &sin}) {
      auto panel = heat_panel(*m, m == &cos ? "cos(position x theta_i)" : "sin(position x theta_i)",
                              "pair i (dimensions 2i, 2i+1)", "position", "value", static_cast<double>(view.first));
      auto& heat = std::get<plot::Heatmap>(panel.content);
      heat.z_min = -view.attention_factor;
      heat.z_max = view.attention_factor;
      product.figure.panels.push_back(std::move(panel));
    }
    product.figure.palette = plot::Palette::kDiverging;
  }
  product.data.push_back(std::move(cos));
  product.data.push_back(std::move(sin));
  return product;
}

// Wavelengths against the context.
Product rope_wavelengths(const RopeView& view, bool figures) {
  const auto pairs = static_cast<std::int64_t>(view.inv_freq.size());
  const std::string n_text = std::to_string(view.max_len);
  const std::vector<double> lengths = wavelengths(view.inv_freq);
  const std::vector<double> reference = wavelengths(view.reference);
  Table table;
  table.name = "rope-wavelengths";
  table.columns = {"pair", "inv_freq", "wavelength", "turns_in_context", "full_turn"};
  if (!view.reference.empty()) table.columns.insert(table.columns.end(), {"reference_inv_freq", "reference_wavelength"});
  plot::Series used, marked, overlay;
  used.title = view.label;
  used.look = plot::Series::Look::kLines;
  marked.title = "< 1 turn in " + n_text;
  marked.look = plot::Series::Look::kPoints;
  overlay.title = view.reference_label;
  overlay.look = plot::Series::Look::kDashed;
  for (std::int64_t i = 0; i < pairs; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const double turns = static_cast<double>(view.max_len) / lengths[k];
    std::vector<Cell> row = {i, view.inv_freq[k], lengths[k], turns, std::int64_t{turns >= 1}};
    if (!view.reference.empty()) row.insert(row.end(), {view.reference[k], reference[k]});
    table.rows.push_back(std::move(row));
    used.x.push_back(static_cast<double>(i));
    used.y.push_back(lengths[k]);
    if (turns < 1) marked.x.push_back(static_cast<double>(i)), marked.y.push_back(lengths[k]);
    if (!view.reference.empty()) overlay.x.push_back(static_cast<double>(i)), overlay.y.push_back(reference[k]);
  }
  Product product;
  if (figures) {
    plot::XYPlot xy;
    xy.log_y = true;
    if (!view.reference.empty()) xy.series.push_back(std::move(overlay));
    xy.series.push_back(std::move(used));
    if (!marked.x.empty()) xy.series.push_back(std::move(marked));
    const double right = static_cast<double>(std::max<std::int64_t>(pairs - 1, 1));
    xy.series.push_back(level("context " + n_text, 0, right, static_cast<double>(view.max_len),
                              static_cast<double>(view.max_len)));
    if (view.original_context && *view.original_context != view.max_len) {
      const auto o = static_cast<double>(*view.original_context);
      xy.series.push_back(level("original context " + std::to_string(*view.original_context), 0, right, o, o));
    }
    product.figure.name = "rope-wavelengths";
    product.figure.title = "Rotary wavelengths: " + view.about;
    const std::int64_t short_of = pairs_without_full_turn(view.inv_freq, view.max_len);
    product.figure.panels.push_back({std::to_string(short_of) + " of " + std::to_string(pairs) +
                                         " pairs turn less than once within " + n_text + " positions",
                                     "pair i (dimensions 2i, 2i+1)", "wavelength (positions, log scale)",
                                     std::move(xy)});
  }
  product.tables.push_back(std::move(table));
  return product;
}

// Long-term decay.
Product rope_decay_product(const RopeView& view, bool figures) {
  const std::vector<std::int64_t> distances = decay_distances(view.max_len);
  const std::vector<double> score = rope_decay(view.inv_freq, view.attention_factor, distances);
  std::vector<double> before;
  // The reference (unscaled, or a stored vector's ideal) has no attention factor.
  if (!view.reference.empty()) before = rope_decay(view.reference, /*attention_factor=*/1.0, distances);
  Table table;
  table.name = "rope-decay";
  table.columns = {"distance", "score"};
  if (!before.empty()) table.columns.push_back("reference_score");
  for (std::size_t k = 0; k < distances.size(); ++k) {
    std::vector<Cell> row = {distances[k], score[k]};
    if (!before.empty()) row.push_back(before[k]);
    table.rows.push_back(std::move(row));
  }
  Product product;
  if (figures) {
    plot::XYPlot xy;
    const bool log_x = view.max_len > 512;
    xy.log_x = log_x;
    plot::Series now, then;
    now.title = view.label;
    then.title = view.reference_label;
    then.look = plot::Series::Look::kDashed;
    for (std::size_t k = 0; k < distances.size(); ++k) {
      if (log_x && distances[k] == 0) continue;
      now.x.push_back(static_cast<double>(distances[k]));
      now.y.push_back(score[k]);
      if (!before.empty()) then.x.push_back(static_cast<double>(distances[k])), then.y.push_back(before[k]);
    }
    if (!before.empty()) xy.series.push_back(std::move(then));
    if (!before.empty() || !now.title.empty()) now.look = plot::Series::Look::kLines;
    xy.series.push_back(std::move(now));
    product.figure.name = "rope-decay";
    product.figure.title = "Rotary long-term decay: " + view.about;
    product.figure.panels.push_back({"score of constant query and key vectors, per dimension (1 at distance 0)",
                                     log_x ? "distance (positions, log scale)" : "distance (positions)",
                                     "mean score", std::move(xy)});
  }
  product.tables.push_back(std::move(table));
  return product;
}

}  // namespace

std::vector<Product> rope_products(const RopeView& view, bool figures) {
  std::vector<Product> products;
  products.push_back(rope_angles(view, figures));
  products.push_back(rope_wavelengths(view, figures));
  products.push_back(rope_decay_product(view, figures));
  return products;
}

std::vector<std::int64_t> heads_to_draw(std::int64_t heads, std::int64_t most) {
  std::vector<std::int64_t> out;
  if (heads <= most) {
    for (std::int64_t h = 0; h < heads; ++h) out.push_back(h);
    return out;
  }
  for (std::int64_t k = 0; k < most; ++k) {
    const std::int64_t h = static_cast<std::int64_t>(std::llround(static_cast<double>(k) * (heads - 1) / (most - 1)));
    if (out.empty() || out.back() != h) out.push_back(h);
  }
  return out;
}

std::vector<Product> alibi_products(std::int64_t heads, std::int64_t positions, bool figures) {
  const std::vector<double> slopes = alibi_slopes(heads);
  std::vector<Product> products;
  {
    Table table;
    table.name = "alibi-slopes";
    table.columns = {"head", "slope"};
    plot::Series series;
    for (std::int64_t h = 0; h < heads; ++h) {
      table.rows.push_back({h, slopes[static_cast<std::size_t>(h)]});
      series.x.push_back(static_cast<double>(h));
      series.y.push_back(slopes[static_cast<std::size_t>(h)]);
    }
    Product product;
    if (figures) {
      plot::XYPlot xy;
      xy.style = plot::XYPlot::Style::kPoints;
      xy.log_y = true;
      xy.series.push_back(std::move(series));
      product.figure.name = "alibi-slopes";
      product.figure.title = "ALiBi slopes of " + std::to_string(heads) + " heads (Press et al. 2022)";
      product.figure.size = {1000, 600};
      product.figure.panels.push_back({"the bias of a key d positions back is -slope x d", "head",
                                       "slope (log scale)", std::move(xy)});
    }
    product.tables.push_back(std::move(table));
    products.push_back(std::move(product));
  }
  {
    Product product;
    product.figure.name = "alibi-bias";
    product.figure.title = "ALiBi bias, query x key, " + std::to_string(positions) + " positions (later keys masked)";
    const auto drawn = heads_to_draw(heads, 4);
    product.figure.columns = plot::square_grid_columns(drawn.size());
    product.figure.palette = plot::Palette::kMagma;
    for (std::int64_t h : drawn) {
      const std::string name = "alibi-bias-head" + std::to_string(h);
      LabeledMatrix m = labeled(alibi_bias(slopes[static_cast<std::size_t>(h)], positions),
                                static_cast<std::size_t>(positions), static_cast<std::size_t>(positions), name, "query",
                                index_labels(static_cast<std::size_t>(positions)),
                                index_labels(static_cast<std::size_t>(positions)));
      if (figures) {
        auto panel = map_panel(m, "head " + std::to_string(h) + ", slope " + compact(slopes[static_cast<std::size_t>(h)]),
                                "key position", "query position", "bias");
        // One colour scale for every head, so that the slopes compare.
        std::get<plot::Heatmap>(panel.content).z_min = -slopes.front() * static_cast<double>(positions - 1);
        std::get<plot::Heatmap>(panel.content).z_max = 0;
        product.figure.panels.push_back(std::move(panel));
      }
      product.data.push_back(std::move(m));
    }
    if (!figures) product.figure = {};
    products.push_back(std::move(product));
  }
  return products;
}

}  // namespace pevis
