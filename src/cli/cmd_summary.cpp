#include <map>
#include <set>
#include <cmath>
#include <iostream>
#include <memory>

#include "commands.h"
#include "model_input.h"
#include "output_options.h"
#include "pevis/error.h"
#include "pevis/model.h"
#include "pevis/module_path.h"
#include "pevis/summary.h"

namespace pevis::cli {
namespace {

struct SummaryOptions {
  std::string model;
  InputOptions input;
  int depth = 3;
  bool ascii = false;
  bool fold_repeats = false;
  bool verbose = false;
  OutputOptions output;
};

std::string grouped(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string shape_text(const std::vector<std::vector<std::int64_t>>& shapes) {
  std::string text;
  for (std::size_t s = 0; s < shapes.size(); ++s) {
    text += s ? ", [" : "[";
    for (std::size_t d = 0; d < shapes[s].size(); ++d) text += (d ? ", " : "") + std::to_string(shapes[s][d]);
    text += "]";
  }
  return text;
}

std::string megabytes(std::int64_t bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", static_cast<double>(bytes) / 1e6);
  return buffer;
}

// A row as shown: folded rows carry everything below them.
struct Shown {
  const SummaryRow* row;
  std::int64_t params, trainable, mult_adds;
  int repeats = 1;
  int parent = -1;
  bool last = true;  // the last shown child of its parent
};

std::vector<Shown> shown_rows(const Summary& s, int depth, bool fold_repeats) {
  std::vector<Shown> rows;
  std::map<std::string, std::int64_t> subtree_trainable;
  for (const auto& r : s.rows) {
    for (std::string p = r.path;; p = p.substr(0, p.rfind('.') == std::string::npos ? 0 : p.rfind('.'))) {
      subtree_trainable[p] += r.own_trainable;
      if (p.empty()) break;
    }
  }
  // For trees built from tensor names (no types): each subtree's layout, its
  // descendants' relative paths and sizes, so that only alike subtrees fold.
  std::map<std::string, std::string> layout;
  for (const auto& r : s.rows) {
    if (!fold_repeats || r.path.empty()) continue;
    const std::string entry = ":" + std::to_string(r.own_params) + "/" + std::to_string(r.own_bytes) + ";";
    for (std::string a = r.path; !a.empty(); a = parent_of(a)) layout[a] += r.path.substr(a.size()) + entry;
  }
  std::map<std::string, int> index;
  std::set<std::string> hidden;  // repeated subtrees folded into their first
  for (const auto& r : s.rows) {
    if (r.depth > depth) continue;
    const std::string parent = r.path.empty() ? "" : r.path.substr(0, r.path.rfind('.') == std::string::npos ? 0 : r.path.rfind('.'));
    bool skip = false;
    for (const auto& h : hidden) skip |= r.path == h || r.path.rfind(h + ".", 0) == 0;
    if (skip) continue;
    const bool leaf = r.depth == depth;
    Shown shown{&r, leaf ? r.subtree_params : r.own_params, leaf ? subtree_trainable[r.path] : r.own_trainable,
                leaf ? r.subtree_mult_adds : r.own_mult_adds};
    shown.parent = r.path.empty() ? -1 : index.count(parent) ? index[parent] : -1;
    if (fold_repeats && !rows.empty()) {
      // The previous shown sibling: same type, sizes and shapes make a repeat.
      for (int i = static_cast<int>(rows.size()) - 1; i >= 0; --i) {
        if (rows[i].parent == shown.parent && rows[i].row->depth == r.depth) {
          const SummaryRow& prev = *rows[i].row;
          // Repeats are numbered items of a list (layers.0, layers.1, ...) alike in every respect.
          const auto numbered = [](const std::string& path) {
            const std::string last = path.substr(path.rfind('.') + 1);
            return !last.empty() && last.find_first_not_of("0123456789") == std::string::npos;
          };
          const bool alike = !r.type.empty() || (layout[prev.path] == layout[r.path] && prev.dtypes == r.dtypes);
          if (numbered(prev.path) && numbered(r.path) && prev.type == r.type && alike &&
              prev.subtree_params == r.subtree_params &&
              prev.subtree_mult_adds == r.subtree_mult_adds && prev.outputs == r.outputs) {
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

std::string tree_prefix(const std::vector<Shown>& rows, std::size_t i, bool ascii) {
  if (rows[i].parent < 0) return "";
  std::string prefix = rows[i].last ? (ascii ? "`- " : "└─ ") : (ascii ? "|- " : "├─ ");
  for (int p = rows[i].parent; p >= 0 && rows[p].parent >= 0; p = rows[p].parent) {
    prefix = (rows[p].last ? "   " : (ascii ? "|  " : "│  ")) + prefix;
  }
  return prefix;
}

std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

void run_summary(const SummaryOptions& options) {
  if (options.depth < 0 || options.depth > 64) throw Error(ExitCode::kUsage, "--depth " + std::to_string(options.depth), "must be from 0 to 64");
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
  const auto rows = shown_rows(s, options.depth, options.fold_repeats);

  // The table on the terminal.
  std::vector<std::vector<std::string>> cells;
  // A file of weights only: what it holds per module, known from its index.
  const bool weights_only = !model.runnable();
  std::vector<std::string> header = {"Layer (type)"};
  if (weights_only) {
    for (const char* h : {"Params", "Dtype", "Size (MB)"}) header.push_back(h);
  } else {
    header.push_back("Output shape");
    if (options.verbose) header.push_back("Input shape");
    for (const char* h : {"Params", "Trainable", "Mult-adds"}) header.push_back(h);
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const SummaryRow& r = *rows[i].row;
    std::string name = r.path.empty() ? (r.type.empty() ? "model" : r.type)
                                      : tree_prefix(rows, i, options.ascii) + r.path.substr(r.path.rfind('.') + 1) +
                                            (r.type.empty() ? "" : ": " + r.type);
    if (rows[i].repeats > 1) name += " (x" + std::to_string(rows[i].repeats) + ", each)";
    if (weights_only) {
      const bool leaf = r.depth == options.depth;
      std::string dtypes;
      for (const auto& d : r.dtypes) dtypes += (dtypes.empty() ? "" : ",") + d;
      const std::int64_t bytes = leaf ? r.subtree_bytes : r.own_bytes;
      cells.push_back({name, rows[i].params ? grouped(rows[i].params) : "--", rows[i].params ? dtypes : "--",
                       bytes ? megabytes(bytes) : "--"});
      continue;
    }
    std::vector<std::string> line = {name, s.totals.forward ? (r.outputs.empty() ? (r.called || r.subtree_mult_adds > 0 ? "unknown" : "--") : shape_text(r.outputs)) : ""};
    if (options.verbose) line.push_back(s.totals.forward ? (r.inputs.empty() ? "--" : shape_text(r.inputs)) : "");
    line.push_back(rows[i].params ? grouped(rows[i].params) : "--");
    line.push_back(rows[i].params == 0 ? "--" : rows[i].trainable == rows[i].params ? "yes" : rows[i].trainable == 0 ? "no" : "partly");
    line.push_back(s.totals.forward && rows[i].mult_adds ? grouped(rows[i].mult_adds) : "--");
    cells.push_back(std::move(line));
  }
  std::vector<std::size_t> widths(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) widths[c] = display_width(header[c]);
  for (const auto& line : cells)
    for (std::size_t c = 0; c < line.size(); ++c) widths[c] = std::max(widths[c], display_width(line[c]));
  std::size_t total_width = 0;
  for (auto w : widths) total_width += w + 2;
  const std::string rule(total_width, '=');
  const auto print = [&](const std::vector<std::string>& line) {
    for (std::size_t c = 0; c < line.size(); ++c) {
      const std::size_t pad = widths[c] - display_width(line[c]);
      const std::size_t left = weights_only ? 1u : options.verbose ? 3u : 2u;
      out << (c < left ? line[c] + std::string(pad, ' ') : std::string(pad, ' ') + line[c]) << "  ";
    }
    out << "\n";
  };
  out << rule << "\n";
  print(header);
  out << rule << "\n";
  for (const auto& line : cells) print(line);
  out << rule << "\n";
  out << "Total params: " << grouped(s.totals.params) << "\n"
      << "Trainable params: " << grouped(s.totals.trainable) << "\n"
      << "Non-trainable params: " << grouped(s.totals.non_trainable) << "\n"
      << "Buffers: " << grouped(s.totals.buffers) << " elements";
  for (std::size_t i = 0; i < s.buffers.size() && i < 4; ++i) out << (i ? ", " : " (") << s.buffers[i].name << " " << shape_text({s.buffers[i].shape});
  out << (s.buffers.empty() ? "" : s.buffers.size() > 4 ? ", ...)" : ")") << "\n";
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
  if (!s.totals.forward) {
    out << (model.runnable() ? "Shapes and mult-adds need a forward pass: give --input or --input-shape.\n"
                         : "This model (" + model.format + ") holds weights only: modules are inferred from the tensor "
                           "names, every tensor counts as a parameter, and no tensor data was read. Shapes of "
                           "activations and mult-adds need a runnable model (TorchScript or torch.export).\n");
  }

  // The numbers, as data.
  Table table{"summary",
              {"path", "type", "depth", "output_shape", "input_shape", "own_params", "params", "trainable_params",
               "own_mult_adds", "mult_adds", "dtypes", "own_bytes", "bytes"},
              {}};
  for (const auto& r : s.rows) {
    std::string dtypes;
    for (const auto& d : r.dtypes) dtypes += (dtypes.empty() ? "" : " ") + d;
    table.rows.push_back({r.path, r.type, static_cast<std::int64_t>(r.depth), shape_text(r.outputs), shape_text(r.inputs),
                          r.own_params, r.subtree_params, r.own_trainable, r.own_mult_adds, r.subtree_mult_adds, dtypes,
                          r.own_bytes, r.subtree_bytes});
  }
  Table totals{"summary-totals", {"name", "value"}, {}};
  const std::pair<const char*, std::int64_t> values[] = {
      {"total_params", s.totals.params},          {"trainable_params", s.totals.trainable},
      {"non_trainable_params", s.totals.non_trainable}, {"buffer_elements", s.totals.buffers},
      {"total_mult_adds", s.totals.mult_adds},     {"param_bytes", s.totals.param_bytes},
      {"buffer_bytes", s.totals.buffer_bytes},     {"activation_bytes", s.totals.activation_bytes}};
  for (const auto& [name, value] : values) totals.rows.push_back({std::string(name), value});

  std::vector<Product> products;
  plot::XYPlot bars;
  bars.style = plot::XYPlot::Style::kBars;
  plot::Series series;
  for (const auto& shown : rows) {
    if (shown.params == 0) continue;
    series.x.push_back(static_cast<double>(series.x.size()));
    series.y.push_back(static_cast<double>(shown.params));
    bars.x_labels.push_back(shown.row->path.empty() ? "(root)" : shown.row->path);
  }
  if (!series.x.empty()) {
    bars.series.push_back(std::move(series));
    plot::Figure figure;
    figure.name = "summary";
    figure.title = "Parameters per module (" + grouped(s.totals.params) + " in all; depth " + std::to_string(options.depth) + ")";
    figure.panels.push_back({"", "", "parameters", bars});
    products.push_back({std::move(figure), {}, {std::move(table), std::move(totals)}});
  } else {
    products.push_back({plot::Figure{}, {}, {std::move(table), std::move(totals)}});
  }
  nlohmann::json summary = {{"command", "summary"},
                            {"model", options.model},
                            {"forward", s.totals.forward},
                            {"total_params", s.totals.params},
                            {"trainable_params", s.totals.trainable},
                            {"non_trainable_params", s.totals.non_trainable},
                            {"buffer_elements", s.totals.buffers},
                            {"total_mult_adds", s.totals.mult_adds},
                            {"param_bytes", s.totals.param_bytes},
                            {"activation_bytes", s.totals.activation_bytes}};
  publish(std::move(products), options.output, std::move(summary));
}

}  // namespace

void setup_summary(CLI::App& app) {
  auto options = std::make_shared<SummaryOptions>();
  CLI::App* command = app.add_subcommand("summary", "the model's structure: modules, shapes, parameters, mult-adds");
  command->add_option("MODEL", options->model,
                      "TorchScript, torch.export (.pt2), torch.save checkpoint, safetensors, a Hugging Face folder or "
                      "index of shards, or builtin:NAME")
      ->required();
  add_input_options(*command, options->input);
  command->add_option("--depth", options->depth, "fold modules deeper than this into their parent")->capture_default_str();
  command->add_flag("--ascii", options->ascii, "draw the tree with ASCII characters");
  command->add_flag("--fold-repeats", options->fold_repeats, "show repeated identical modules once, with (xN)");
  command->add_flag("-v,--verbose", options->verbose, "also show each module's input shapes, and the files and config.json read");
  add_output_options(*command, options->output);
  command->footer(
      "Writes summary.csv (every module: path, type, depth, shapes, parameters, mult-adds), summary-totals.csv,\n"
      "and summary.png (parameters per module). Shapes and mult-adds come from one forward pass on the input;\n"
      "without one (or for checkpoints and safetensors) the table has parameters only.\n\n"
      "Examples:\n"
      "  pevis summary model.pt --input seq.txt --vocab vocab.txt\n"
      "  pevis summary vit.pt --input-shape 1,3,224,224 --depth 2 --fold-repeats\n"
      "  pevis summary checkpoint.pt                        # parameters only\n"
      "  pevis summary Qwen2-7B/ -v                         # a Hugging Face folder: reads no weights\n"
      "  pevis summary model.pt --input-shape 1,3,224,224 --json --format none | jq .total_params");
  command->callback([options] { run_summary(*options); });
}

}  // namespace pevis::cli
