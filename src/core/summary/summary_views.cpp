#include "pevis/summary/summary_views.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "pevis/base/error.h"
#include "pevis/base/text.h"
#include "pevis/base/module_path.h"
#include "pevis/base/shape_text.h"

namespace pevis {
namespace {

std::string grouped(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}


std::string megabytes(std::int64_t bytes) { return number_text("%.2f", static_cast<double>(bytes) / 1e6); }

bool numbered(const std::string& path) {
  const std::string last = last_part(path);
  return !last.empty() && last.find_first_not_of("0123456789") == std::string::npos;
}

std::string tree_prefix(const std::vector<ShownRow>& rows, std::size_t i, bool ascii) {
  if (rows[i].parent < 0) return "";
  std::string prefix = rows[i].last ? (ascii ? "`- " : "└─ ") : (ascii ? "|- " : "├─ ");
  for (int p = rows[i].parent; p >= 0 && rows[p].parent >= 0; p = rows[p].parent) {
    prefix = (rows[p].last ? "   " : (ascii ? "|  " : "│  ")) + prefix;
  }
  return prefix;
}

// The row's name in the tree: the root by its class or the file's name.
std::string row_name(const std::vector<ShownRow>& rows, std::size_t i, const SummaryViewOptions& options) {
  const SummaryRow& r = *rows[i].row;
  std::string name = r.path.empty() ? (r.type.empty() ? (options.root_name.empty() ? "model" : options.root_name) : r.type)
                                    : tree_prefix(rows, i, options.ascii) + last_part(r.path) +
                                          (r.type.empty() ? "" : ": " + r.type);
  if (rows[i].repeats > 1) name += " (x" + std::to_string(rows[i].repeats) + ", each)";
  return name;
}

std::vector<std::vector<std::string>> table_cells(const Summary& s, const std::vector<ShownRow>& rows,
                                                  const SummaryViewOptions& options) {
  std::vector<std::vector<std::string>> cells;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const SummaryRow& r = *rows[i].row;
    const std::string name = row_name(rows, i, options);
    if (options.weights_only) {
      const bool leaf = r.depth == options.depth;
      std::string dtypes;
      for (const auto& d : r.dtypes) dtypes += (dtypes.empty() ? "" : ",") + d;
      const std::int64_t bytes = leaf ? r.subtree_bytes : r.own_bytes;
      cells.push_back({name, rows[i].params ? grouped(rows[i].params) : "--", rows[i].params ? dtypes : "--",
                       bytes ? megabytes(bytes) : "--"});
      continue;
    }
    const bool forward = s.totals.forward;
    std::vector<std::string> line = {
        name, forward ? (r.outputs.empty() ? (r.called || r.subtree_mult_adds > 0 ? "unknown" : "--") : shape_text(r.outputs))
                      : ""};
    if (options.verbose) line.push_back(forward ? (r.inputs.empty() ? "--" : shape_text(r.inputs)) : "");
    line.push_back(rows[i].params ? grouped(rows[i].params) : "--");
    line.push_back(rows[i].params == 0                    ? "--"
                   : rows[i].trainable == rows[i].params ? "yes"
                   : rows[i].trainable == 0              ? "no"
                                                         : "partly");
    line.push_back(forward && rows[i].mult_adds ? grouped(rows[i].mult_adds) : "--");
    cells.push_back(std::move(line));
  }
  return cells;
}

void totals_text(std::ostream& out, const Summary& s, const std::string& rule) {
  out << "Total params: " << grouped(s.totals.params) << "\n"
      << "Trainable params: " << grouped(s.totals.trainable) << "\n"
      << "Non-trainable params: " << grouped(s.totals.non_trainable) << "\n"
      << "Buffers: " << grouped(s.totals.buffers) << " elements";
  for (std::size_t i = 0; i < s.buffers.size() && i < 4; ++i) {
    out << (i ? ", " : " (") << s.buffers[i].name << " " << shape_text({s.buffers[i].shape});
  }
  out << (s.buffers.empty() ? "" : s.buffers.size() > 4 ? ", ...)" : ")") << "\n";
  if (!s.shared.empty()) {
    out << "Shared (counted once):";
    for (std::size_t i = 0; i < s.shared.size() && i < 4; ++i) {
      out << (i ? "," : "") << " " << s.shared[i].first << " = " << s.shared[i].second;
    }
    out << (s.shared.size() > 4 ? ", ... (" + std::to_string(s.shared.size()) + " in all)" : "") << "\n";
  }
  if (s.totals.forward) {
    char ma[32];
    std::snprintf(ma, sizeof ma, "%.2f", static_cast<double>(s.totals.mult_adds) / 1e6);
    out << "Total mult-adds (M): " << ma << "\n";
  }
  out << rule << "\n"
      << "Params size (MB): " << megabytes(s.totals.param_bytes) << "\n"
      << "Buffers size (MB): " << megabytes(s.totals.buffer_bytes) << "\n";
  if (s.totals.forward) out << "Forward activations (MB, float32): " << megabytes(s.totals.activation_bytes) << "\n";
  out << rule << "\n";
}

// A bar chart of one count per shown row, on a log scale when the counts
// span more than two decades (small modules would vanish beside large ones).
plot::Panel bar_panel(const std::vector<std::pair<std::string, double>>& bars, const std::string& title,
                      const std::string& y_title) {
  plot::XYPlot xy;
  xy.style = plot::XYPlot::Style::kBars;
  plot::Series series;
  double lo = INFINITY, hi = 0;
  for (const auto& [label, value] : bars) {
    series.x.push_back(static_cast<double>(series.x.size()));
    series.y.push_back(value);
    xy.x_labels.push_back(label);
    lo = std::min(lo, value), hi = std::max(hi, value);
  }
  xy.log_y = hi > 100 * lo;
  if (xy.log_y) {
    // Whole decades around the bars, so no empty decades pad the chart.
    xy.y_min = std::pow(10.0, std::floor(std::log10(lo)));
    xy.y_max = std::pow(10.0, std::ceil(std::log10(hi)));
  }
  xy.series.push_back(std::move(series));
  return {title, "", y_title + (xy.log_y ? " (log scale)" : ""), std::move(xy)};
}

}  // namespace

std::string shape_text(const std::vector<std::vector<std::int64_t>>& shapes) {
  std::string text;
  for (std::size_t s = 0; s < shapes.size(); ++s) {
    text += (s ? ", " : "") + shape_list_text(shapes[s]);
  }
  return text;
}

std::vector<std::pair<std::string, std::int64_t>> named_totals(const SummaryTotals& t) {
  return {{"total_params", t.params},       {"trainable_params", t.trainable},
          {"non_trainable_params", t.non_trainable}, {"buffer_elements", t.buffers},
          {"total_mult_adds", t.mult_adds}, {"param_bytes", t.param_bytes},
          {"buffer_bytes", t.buffer_bytes}, {"activation_bytes", t.activation_bytes}};
}

std::vector<std::int64_t> subtree_trainable(const Summary& s) {
  std::map<std::string, std::int64_t> by_path;
  for (const auto& r : s.rows) {
    for (std::string p = r.path;; p = parent_of(p)) {
      by_path[p] += r.own_trainable;
      if (p.empty()) break;
    }
  }
  std::vector<std::int64_t> out;
  for (const auto& r : s.rows) out.push_back(by_path[r.path]);
  return out;
}

std::vector<ShownRow> shown_rows(const Summary& s, const SummaryViewOptions& options) {
  const std::vector<std::int64_t> trainable = subtree_trainable(s);
  // For trees built from tensor names (no types): each subtree's layout, its
  // descendants' relative paths and sizes, so that only alike subtrees fold.
  std::map<std::string, std::string> layout;
  for (const auto& r : s.rows) {
    if (!options.fold_repeats || r.path.empty()) continue;
    const std::string entry = ":" + std::to_string(r.own_params) + "/" + std::to_string(r.own_bytes) + ";";
    for (std::string a = r.path; !a.empty(); a = parent_of(a)) layout[a] += r.path.substr(a.size()) + entry;
  }
  std::vector<ShownRow> rows;
  std::map<std::string, int> index;
  std::set<std::string> hidden;  // repeated subtrees folded into their first
  for (std::size_t k = 0; k < s.rows.size(); ++k) {
    const SummaryRow& r = s.rows[k];
    if (r.depth > options.depth) continue;
    bool skip = false;
    for (const auto& h : hidden) skip |= r.path == h || r.path.rfind(h + ".", 0) == 0;
    if (skip) continue;
    const bool leaf = r.depth == options.depth;
    ShownRow shown{&r, leaf ? r.subtree_params : r.own_params, leaf ? trainable[k] : r.own_trainable,
                   leaf ? r.subtree_mult_adds : r.own_mult_adds};
    const std::string parent = parent_of(r.path);
    shown.parent = r.path.empty() ? -1 : index.count(parent) ? index[parent] : -1;
    if (options.fold_repeats && !rows.empty()) {
      // The previous shown sibling: numbered, of the same type, sizes and shapes, makes a repeat.
      for (int i = static_cast<int>(rows.size()) - 1; i >= 0; --i) {
        if (rows[i].parent == shown.parent && rows[i].row->depth == r.depth) {
          const SummaryRow& prev = *rows[i].row;
          const bool alike = !r.type.empty() || (layout[prev.path] == layout[r.path] && prev.dtypes == r.dtypes);
          if (numbered(prev.path) && numbered(r.path) && prev.type == r.type && alike &&
              prev.subtree_params == r.subtree_params && prev.subtree_mult_adds == r.subtree_mult_adds &&
              prev.outputs == r.outputs) {
            rows[i].repeats++;
            hidden.insert(r.path);
            skip = true;
          }
          break;
        }
        if (rows[i].row->depth < r.depth) break;
      }
      if (skip) continue;
    }
    index[r.path] = static_cast<int>(rows.size());
    rows.push_back(shown);
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (std::size_t j = i + 1; j < rows.size(); ++j) {
      if (rows[j].parent == rows[i].parent) {
        rows[i].last = false;
        break;
      }
    }
  }
  return rows;
}

std::string summary_text(const Summary& s, const std::vector<ShownRow>& rows, const SummaryViewOptions& options,
                         const std::string& format) {
  std::vector<std::string> header = {"Layer (type)"};
  if (options.weights_only) {
    for (const char* h : {"Params", "Dtype", "Size (MB)"}) header.push_back(h);
  } else {
    header.push_back("Output shape");
    if (options.verbose) header.push_back("Input shape");
    for (const char* h : {"Params", "Trainable", "Mult-adds"}) header.push_back(h);
  }
  auto cells = table_cells(s, rows, options);
  for (auto& line : cells) {
    for (auto& cell : line) cell = one_line(cell);  // a model's name: one row, shown
  }
  std::vector<std::size_t> widths(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) widths[c] = plot::display_width(header[c]);
  for (const auto& line : cells) {
    for (std::size_t c = 0; c < line.size(); ++c) widths[c] = std::max(widths[c], plot::display_width(line[c]));
  }
  std::size_t total_width = 0;
  for (auto w : widths) total_width += w + 2;
  const std::string rule(total_width, '=');
  std::ostringstream out;
  // Text columns (name, shapes, dtype) to the left, numbers to the right.
  const std::size_t left = options.weights_only ? 1u : options.verbose ? 3u : 2u;
  const auto print = [&](const std::vector<std::string>& line) {
    for (std::size_t c = 0; c < line.size(); ++c) {
      const std::size_t pad = widths[c] - plot::display_width(line[c]);
      out << (c < left ? line[c] + std::string(pad, ' ') : std::string(pad, ' ') + line[c]) << "  ";
    }
    out << "\n";
  };
  out << rule << "\n";
  print(header);
  out << rule << "\n";
  for (const auto& line : cells) print(line);
  out << rule << "\n";
  totals_text(out, s, rule);
  if (!s.totals.forward) {
    out << (!options.weights_only ? "Shapes and mult-adds need a forward pass: give --input or --input-shape.\n"
                                  : "This model (" + format +
                                        ") holds weights only: modules are inferred from the tensor names, and "
                                        "parameters told from buffers by names and dtypes (floating-point tensors "
                                        "count as parameters, except buffers by their names such as masked_bias, "
                                        "inv_freq and running_mean; bool and integer ones as buffers). No tensor "
                                        "data was read. Shapes of activations and "
                                        "mult-adds need a runnable model (TorchScript or torch.export).\n");
  }
  return out.str();
}

std::vector<Product> summary_products(const Summary& s, const std::vector<ShownRow>& rows,
                                      const SummaryViewOptions& options, bool figures) {
  const std::vector<std::int64_t> trainable = subtree_trainable(s);
  Table table{"summary",
              {"path", "type", "depth", "output_shape", "input_shape", "own_params", "params", "own_trainable_params",
               "trainable_params", "own_mult_adds", "mult_adds", "dtypes", "own_bytes", "bytes"},
              {}};
  for (std::size_t k = 0; k < s.rows.size(); ++k) {
    const SummaryRow& r = s.rows[k];
    std::string dtypes;
    for (const auto& d : r.dtypes) dtypes += (dtypes.empty() ? "" : " ") + d;
    table.rows.push_back({r.path, r.type, static_cast<std::int64_t>(r.depth), shape_text(r.outputs), shape_text(r.inputs),
                          r.own_params, r.subtree_params, r.own_trainable, trainable[k], r.own_mult_adds,
                          r.subtree_mult_adds, dtypes, r.own_bytes, r.subtree_bytes});
  }
  Table totals{"summary-totals", {"name", "value"}, {}};
  for (const auto& [name, value] : named_totals(s.totals)) totals.rows.push_back({name, value});

  Product product{plot::Figure{}, {}, {std::move(table), std::move(totals)}};
  std::vector<std::pair<std::string, double>> params, mult_adds;
  for (const auto& shown : rows) {
    const std::string label = shown.row->path.empty() ? "(root)" : shown.row->path;
    if (shown.params > 0) params.emplace_back(label, static_cast<double>(shown.params));
    if (shown.mult_adds > 0) mult_adds.emplace_back(label, static_cast<double>(shown.mult_adds));
  }
  if (figures && !params.empty()) {
    plot::Figure& figure = product.figure;
    figure.name = "summary";
    figure.title = "Parameters per module (" + grouped(s.totals.params) + " in all; depth " + std::to_string(options.depth) + ")";
    figure.panels.push_back(bar_panel(params, "parameters", "parameters"));
    if (s.totals.forward && !mult_adds.empty()) {
      char ma[48];
      std::snprintf(ma, sizeof ma, "%.4g", static_cast<double>(s.totals.mult_adds) / 1e6);
      figure.title = "Parameters and mult-adds per module (depth " + std::to_string(options.depth) + ")";
      figure.panels[0].title = grouped(s.totals.params) + " parameters in all";
      figure.panels.push_back(bar_panel(mult_adds, std::string(ma) + " M mult-adds in all, one forward pass", "mult-adds"));
      figure.columns = 2;
      figure.size = {1600, 800};
    }
  }
  return {std::move(product)};
}

}  // namespace pevis
