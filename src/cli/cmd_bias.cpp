#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "model_input.h"
#include "output_options.h"
#include "pevis/bias.h"
#include "pevis/error.h"
#include "pevis/memory.h"
#include "pevis/archive.h"
#include "pevis/model.h"

namespace pevis::cli {
namespace {

struct BiasOptions {
  std::vector<std::string> models;
  std::string compare;
  std::string match;
  std::string layer;
  bool fail_on_nonfinite = false;
  bool verbose = false;
  int per_page = 12;
  OutputOptions output;
};

std::string file_label(const std::string& path) { return std::filesystem::path(path).filename().string(); }

// "bias", "bias-2", ...: the file names of a figure's pages.
std::string page_name(const std::string& base, std::size_t page) {
  return page == 0 ? base : base + "-" + std::to_string(page + 1);
}

std::string page_note(std::size_t page, std::size_t pages) {
  return pages > 1 ? " (page " + std::to_string(page + 1) + " of " + std::to_string(pages) + ")" : "";
}

int grid_columns(std::size_t panels) {
  return panels <= 1 ? 1 : panels <= 4 ? 2 : panels <= 9 ? 3 : 4;
}

plot::Series indexed(std::string title, const std::vector<float>& values) {
  plot::Series s;
  s.title = std::move(title);
  for (std::size_t i = 0; i < values.size(); ++i) {
    s.x.push_back(static_cast<double>(i));
    s.y.push_back(values[i]);
  }
  return s;
}

// Splits `count` items into pages of at most `per_page`, calling make(first, end, page, pages).
template <typename Make>
void paginate(std::size_t count, std::size_t per_page, Make make) {
  const std::size_t pages = std::max<std::size_t>(1, (count + per_page - 1) / per_page);
  for (std::size_t page = 0; page < pages; ++page) make(page * per_page, std::min(count, (page + 1) * per_page), page, pages);
}

// ---- one file: scatter pages, distribution boxes, long data and stats

void add_scatter_pages(std::vector<Product>& products, const std::vector<BiasVector>& biases, const std::string& label,
                       std::size_t per_page) {
  paginate(biases.size(), per_page, [&](std::size_t first, std::size_t end, std::size_t page, std::size_t pages) {
    plot::Figure figure;
    figure.name = page_name("bias", page);
    std::vector<std::string> names;
    for (std::size_t i = first; i < end; ++i) names.push_back(biases[i].name);
    const auto titles = plot::distinct_parts(names);
    figure.title = "Bias vectors of " + label + (titles.pattern.empty() ? "" : ": " + titles.pattern) + page_note(page, pages);
    figure.columns = grid_columns(end - first);
    for (std::size_t i = first; i < end; ++i) {
      plot::XYPlot dots;
      dots.style = plot::XYPlot::Style::kPoints;
      dots.series.push_back(indexed("", biases[i].values));
      figure.panels.push_back(
          {titles.names[i - first] + " (" + std::to_string(biases[i].values.size()) + ")", "index", "value", dots});
    }
    products.push_back({std::move(figure), {}, {}});
  });
}

void add_distribution_pages(std::vector<Product>& products, const std::vector<BiasVector>& biases,
                            const std::string& label) {
  paginate(biases.size(), 40, [&](std::size_t first, std::size_t end, std::size_t page, std::size_t pages) {
    plot::BoxPlot boxes;
    for (std::size_t i = first; i < end; ++i) {
      const BiasStats s = bias_stats(biases[i].values);
      boxes.labels.push_back(biases[i].name);
      boxes.boxes.push_back({s.min, s.p25, s.p50, s.p75, s.max});
    }
    plot::Figure figure;
    figure.name = page_name("bias-hist", page);
    figure.title = "Distribution of each bias vector of " + label + page_note(page, pages);
    figure.panels.push_back({"box: quartiles and median; whiskers: min and max", "", "value", boxes});
    products.push_back({std::move(figure), {}, {}});
  });
}

Table values_table(const std::vector<std::string>& labels, const std::vector<std::vector<BiasVector>>& sets) {
  const bool several = sets.size() > 1;
  Table table{"bias", {}, {}};
  if (several) table.columns.push_back("file");
  for (const char* c : {"layer", "index", "value"}) table.columns.push_back(c);
  for (std::size_t f = 0; f < sets.size(); ++f) {
    for (const auto& b : sets[f]) {
      for (std::size_t i = 0; i < b.values.size(); ++i) {
        std::vector<Cell> row;
        if (several) row.push_back(labels[f]);
        row.insert(row.end(), {b.name, static_cast<std::int64_t>(i), b.values[i]});
        table.rows.push_back(std::move(row));
      }
    }
  }
  return table;
}

Table stats_table(const std::vector<std::string>& labels, const std::vector<std::vector<BiasVector>>& sets) {
  const bool several = sets.size() > 1;
  Table table{"bias-stats", {}, {}};
  if (several) table.columns.push_back("file");
  for (const char* c : {"layer", "size", "mean", "std", "min", "max", "l2", "nonfinite"}) table.columns.push_back(c);
  for (std::size_t f = 0; f < sets.size(); ++f) {
    for (const auto& b : sets[f]) {
      const BiasStats s = bias_stats(b.values);
      std::vector<Cell> row;
      if (several) row.push_back(labels[f]);
      row.insert(row.end(), {b.name, static_cast<std::int64_t>(s.size), s.mean, s.std, s.min, s.max, s.l2,
                             static_cast<std::int64_t>(s.nonfinite)});
      table.rows.push_back(std::move(row));
    }
  }
  return table;
}

// ---- two files: before/after overlays, deltas and the size of the change

struct Change {
  double l2_before, l2_after, l2_change, max_abs_delta;
};

Change change_of(const BiasComparison::Pair& p) {
  double change = 0, largest = 0;
  for (std::size_t i = 0; i < p.before.size(); ++i) {
    const double d = static_cast<double>(p.after[i]) - p.before[i];
    change += d * d;
    largest = std::max(largest, std::fabs(d));
    if (std::isnan(d)) largest = d;
  }
  return {bias_stats(p.before).l2, bias_stats(p.after).l2, std::sqrt(change), largest};
}

void add_compare(std::vector<Product>& products, const BiasComparison& cmp, const std::string& before_label,
                 const std::string& after_label, std::size_t per_page) {
  const std::size_t layers_per_page = std::max<std::size_t>(1, per_page / 2);
  paginate(cmp.common.size(), layers_per_page, [&](std::size_t first, std::size_t end, std::size_t page, std::size_t pages) {
    plot::Figure figure;
    figure.name = page_name("bias-compare", page);
    std::vector<std::string> names;
    for (std::size_t i = first; i < end; ++i) names.push_back(cmp.common[i].name);
    const auto titles = plot::distinct_parts(names);
    figure.title = "Bias before (" + before_label + ") and after (" + after_label + ")" +
                   (titles.pattern.empty() ? "" : ": " + titles.pattern) + page_note(page, pages);
    figure.columns = 2;
    for (std::size_t i = first; i < end; ++i) {
      const auto& p = cmp.common[i];
      const std::string& name = titles.names[i - first];
      plot::XYPlot overlay;
      overlay.style = plot::XYPlot::Style::kPoints;
      overlay.series.push_back(indexed("before", p.before));
      overlay.series.push_back(indexed("after", p.after));
      std::vector<float> delta(p.before.size());
      for (std::size_t k = 0; k < delta.size(); ++k) delta[k] = p.after[k] - p.before[k];
      plot::XYPlot change;
      change.style = plot::XYPlot::Style::kPoints;
      change.series.push_back(indexed("", delta));
      figure.panels.push_back({name, "index", "value", overlay});
      figure.panels.push_back({name + ": after - before", "index", "delta", change});
    }
    products.push_back({std::move(figure), {}, {}});
  });

  Table delta{"bias-delta", {"layer", "index", "before", "after", "delta"}, {}};
  Table changes{"bias-changes", {"layer", "size", "l2_before", "l2_after", "l2_change", "max_abs_delta"}, {}};
  for (const auto& p : cmp.common) {
    for (std::size_t i = 0; i < p.before.size(); ++i) {
      delta.rows.push_back({p.name, static_cast<std::int64_t>(i), p.before[i], p.after[i], p.after[i] - p.before[i]});
    }
    const Change c = change_of(p);
    changes.rows.push_back({p.name, static_cast<std::int64_t>(p.before.size()), c.l2_before, c.l2_after, c.l2_change,
                            c.max_abs_delta});
  }
  products.push_back({plot::Figure{}, {}, {std::move(delta), std::move(changes)}});
}

// ---- three or more files: how each layer drifts over checkpoints

void add_drift(std::vector<Product>& products, const std::vector<std::string>& labels,
               const std::vector<std::vector<BiasVector>>& sets, std::size_t per_page) {
  // Layers of the first file, followed through the others by canonical name.
  struct Track {
    std::string name;
    std::vector<BiasStats> stats;  // one per file; size 0 where the layer is missing
  };
  std::vector<Track> tracks;
  for (const auto& b : sets[0]) {
    Track t{b.name, {}};
    for (const auto& set : sets) {
      const auto found = std::find_if(set.begin(), set.end(),
                                      [&](const BiasVector& v) { return canonical_name(v.name) == canonical_name(b.name); });
      t.stats.push_back(found == set.end() ? BiasStats{} : bias_stats(found->values));
    }
    tracks.push_back(std::move(t));
  }
  Table table{"bias-drift", {"layer", "checkpoint", "file", "size", "mean", "std", "min", "p25", "median", "p75", "max", "l2"}, {}};
  for (const auto& t : tracks) {
    for (std::size_t f = 0; f < labels.size(); ++f) {
      const BiasStats& s = t.stats[f];
      if (s.size == 0) continue;
      table.rows.push_back({t.name, static_cast<std::int64_t>(f), labels[f], static_cast<std::int64_t>(s.size), s.mean, s.std,
                            s.min, s.p25, s.p50, s.p75, s.max, s.l2});
    }
  }
  paginate(tracks.size(), per_page, [&](std::size_t first, std::size_t end, std::size_t page, std::size_t pages) {
    plot::Figure figure;
    figure.name = page_name("bias-drift", page);
    std::vector<std::string> names;
    for (std::size_t i = first; i < end; ++i) names.push_back(tracks[i].name);
    const auto titles = plot::distinct_parts(names);
    figure.title = "Bias over " + std::to_string(labels.size()) + " checkpoints" +
                   (titles.pattern.empty() ? "" : ": " + titles.pattern) + page_note(page, pages);
    figure.columns = grid_columns(end - first);
    for (std::size_t i = first; i < end; ++i) {
      plot::XYPlot lines;
      lines.x_labels = labels;
      const std::pair<const char*, double BiasStats::*> series[] = {{"max", &BiasStats::max},
                                                                    {"p75", &BiasStats::p75},
                                                                    {"median", &BiasStats::p50},
                                                                    {"p25", &BiasStats::p25},
                                                                    {"min", &BiasStats::min}};
      for (const auto& [title, member] : series) {
        plot::Series s;
        s.title = title;
        for (std::size_t f = 0; f < labels.size(); ++f) {
          s.x.push_back(static_cast<double>(f));
          s.y.push_back(tracks[i].stats[f].size ? tracks[i].stats[f].*member : std::nan(""));
        }
        lines.series.push_back(std::move(s));
      }
      // The norm has its own scale: it goes in the title, and in bias-drift.csv.
      const auto& first_stats = tracks[i].stats.front();
      const auto& last_stats = tracks[i].stats.back();
      char norms[96];
      std::snprintf(norms, sizeof norms, " (L2 %.4g -> %.4g)", first_stats.l2, last_stats.size ? last_stats.l2 : std::nan(""));
      figure.panels.push_back({titles.names[i - first] + norms, "", "value", lines});
    }
    products.push_back({std::move(figure), {}, {}});
  });
  products.back().tables.push_back(std::move(table));
}

// ---- the table people read on the terminal

void print_table(std::ostream& out, const Table& table) {
  const auto text = [](const Cell& c) -> std::string {
    if (const auto* s = std::get_if<std::string>(&c)) return *s;
    if (const auto* i = std::get_if<std::int64_t>(&c)) return std::to_string(*i);
    const double v = std::holds_alternative<float>(c) ? std::get<float>(c) : std::get<double>(c);
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.4g", v);
    return buffer;
  };
  std::vector<std::size_t> widths(table.columns.size());
  for (std::size_t c = 0; c < widths.size(); ++c) widths[c] = table.columns[c].size();
  for (const auto& row : table.rows)
    for (std::size_t c = 0; c < row.size() && c < widths.size(); ++c) widths[c] = std::max(widths[c], text(row[c]).size());
  const auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const bool left = c == 0 || (c == 1 && table.columns[0] == "file");
      const std::size_t pad = widths[c] - std::min(widths[c], cells[c].size());
      out << (c ? "  " : "") << (left ? cells[c] + std::string(pad, ' ') : std::string(pad, ' ') + cells[c]);
    }
    out << "\n";
  };
  line(table.columns);
  for (const auto& row : table.rows) {
    std::vector<std::string> cells;
    for (const auto& c : row) cells.push_back(text(c));
    line(cells);
  }
}

void run_bias(const BiasOptions& options) {
  std::vector<std::string> paths = options.models;
  if (!options.compare.empty()) paths.push_back(options.compare);
  if (options.per_page < 1 || options.per_page > 100) {
    throw Error(ExitCode::kUsage, "--per-page " + std::to_string(options.per_page), "must be from 1 to 100");
  }
  const BiasSelection selection{regex_option("--match", options.match), regex_option("--layer", options.layer)};
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

  const std::size_t per_page = static_cast<std::size_t>(options.per_page);
  std::vector<Product> products;
  Table stats = stats_table(labels, sets);
  nlohmann::json summary = {{"command", "bias"}, {"files", paths}, {"layers", sets[0].size()}};
  if (sets.size() == 1) {
    add_scatter_pages(products, sets[0], labels[0], per_page);
    add_distribution_pages(products, sets[0], labels[0]);
    print_table(messages, stats);
  } else {
    const BiasComparison cmp = compare_biases(sets.front(), sets.back());
    if (sets.size() > 2) add_drift(products, labels, sets, per_page);
    add_compare(products, cmp, labels.front(), labels.back(), per_page);
    print_table(messages, products.back().tables[1]);
    for (const auto& name : cmp.only_before) messages << "only in " << labels.front() << ": " << name << "\n";
    for (const auto& name : cmp.only_after) messages << "only in " << labels.back() << ": " << name << "\n";
    for (const auto& text : cmp.resized) messages << "different sizes: " << text << "\n";
    summary["only_before"] = cmp.only_before;
    summary["only_after"] = cmp.only_after;
    summary["resized"] = cmp.resized;
  }
  std::size_t nonfinite = 0;
  std::vector<std::string> bad_layers;
  for (std::size_t f = 0; f < sets.size(); ++f) {
    for (const auto& b : sets[f]) {
      const std::size_t n = bias_stats(b.values).nonfinite;
      nonfinite += n;
      if (n) bad_layers.push_back((sets.size() > 1 ? labels[f] + ":" : "") + b.name);
    }
  }
  summary["nonfinite"] = nonfinite;
  products.push_back({plot::Figure{}, {}, {values_table(labels, sets), std::move(stats)}});
  publish(std::move(products), options.output, std::move(summary));

  if (options.fail_on_nonfinite && nonfinite) {
    std::string layers;
    for (std::size_t i = 0; i < bad_layers.size() && i < 5; ++i) layers += (i ? ", " : "") + bad_layers[i];
    if (bad_layers.size() > 5) layers += ", ...";
    throw Error(ExitCode::kCheckFailed, "--fail-on-nonfinite",
                std::to_string(nonfinite) + " NaN or Inf values in " + layers);
  }
}

}  // namespace

void setup_bias(CLI::App& app) {
  auto options = std::make_shared<BiasOptions>();
  CLI::App* command = app.add_subcommand("bias", "draw every bias vector of a model, or how training moved them");
  command->add_option("MODEL", options->models,
                      "model files: TorchScript, torch.export (.pt2), torch.save checkpoint, or safetensors; two or more are compared in order")
      ->required();
  command->add_option("--compare", options->compare, "a later checkpoint to compare the model with");
  command->add_option("--match", options->match, "choose the vectors by regex instead of names ending in 'bias'");
  command->add_option("--layer", options->layer, "keep only vectors whose name matches this regex");
  command->add_option("--per-page", options->per_page, "panels per figure page")->capture_default_str();
  command->add_flag("--fail-on-nonfinite", options->fail_on_nonfinite, "exit 5 when any value is NaN or Inf");
  command->add_flag("-v,--verbose", options->verbose,
                    "list each file's format, shards, config.json, tensors (name, dtype, shape) and other entries (e.g. epoch)");
  add_output_options(*command, options->output);
  command->footer(
      "One file: bias.png (a scatter panel per vector; more pages as bias-2.png, ...), bias-hist.png (the\n"
      "distribution of each vector), bias.csv (layer,index,value) and bias-stats.csv; a stats table on stdout.\n"
      "Two files: bias-compare.png (before/after and delta per vector), bias-delta.csv, bias-changes.csv.\n"
      "Three or more: bias-drift.png and bias-drift.csv (each vector over the checkpoints), then first vs last.\n\n"
      "Examples:\n"
      "  pevis bias model.pt\n"
      "  pevis bias before.pt after.pt                    # what training changed\n"
      "  pevis bias ckpt-1.pt ckpt-2.pt ckpt-3.pt        # drift over checkpoints\n"
      "  pevis bias model.safetensors --match 'norm.*weight$'\n"
      "  pevis bias model.pt --fail-on-nonfinite --format none   # a CI gate");
  command->callback([options] { run_bias(*options); });
}

}  // namespace pevis::cli
