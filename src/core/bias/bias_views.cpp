#include "pevis/bias/bias_views.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "pevis/base/error.h"
#include "pevis/base/text.h"

namespace pevis {
namespace {

// "bias", "bias-2", ...: the file names of a figure's pages.
std::string page_name(const std::string& base, std::size_t page) {
  return page == 0 ? base : base + "-" + std::to_string(page + 1);
}

std::string page_note(std::size_t page, std::size_t pages) {
  return pages > 1 ? " (page " + std::to_string(page + 1) + " of " + std::to_string(pages) + ")" : "";
}

// As square as can be, at most four panels across (pages hold up to 100).
int grid_columns(std::size_t panels) { return std::min(4, plot::square_grid_columns(panels)); }

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

// The panel titles of items [first, end) of a page, told apart by what
// their names do not share (`name_of(i)` gives item i's name).
template <typename NameOf>
plot::DistinctNames page_titles(std::size_t first, std::size_t end, NameOf name_of) {
  std::vector<std::string> names;
  for (std::size_t i = first; i < end; ++i) names.push_back(name_of(i));
  return plot::distinct_parts(names);
}

// ": model.layers.*.bias" for a figure title, or nothing.
std::string pattern_note(const plot::DistinctNames& titles) { return titles.pattern.empty() ? "" : ": " + titles.pattern; }

// ---- one file: scatter pages, distribution boxes, long data and stats

void add_scatter_pages(std::vector<Product>& products, const std::vector<BiasVector>& biases, const std::string& label,
                       std::size_t per_page) {
  paginate(biases.size(), per_page, [&](std::size_t first, std::size_t end, std::size_t page, std::size_t pages) {
    plot::Figure figure;
    figure.name = page_name("bias", page);
    const auto titles = page_titles(first, end, [&](std::size_t i) { return biases[i].name; });
    figure.title = "Bias vectors of " + label + pattern_note(titles) + page_note(page, pages);
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
                 const std::string& after_label, std::size_t per_page, bool figures) {
  const std::size_t layers_per_page = std::max<std::size_t>(1, per_page / 2);
  if (figures) paginate(cmp.common.size(), layers_per_page, [&](std::size_t first, std::size_t end, std::size_t page, std::size_t pages) {
    plot::Figure figure;
    figure.name = page_name("bias-compare", page);
    const auto titles = page_titles(first, end, [&](std::size_t i) { return cmp.common[i].name; });
    figure.title = "Bias before (" + before_label + ") and after (" + after_label + ")" +
                   pattern_note(titles) + page_note(page, pages);
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
      change.series.push_back(indexed("after - before", delta));
      change.series.back().colour = "#d95f02";  // not the colour of "before" beside it
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
               const std::vector<std::vector<BiasVector>>& sets, std::size_t per_page, bool figures) {
  const std::vector<BiasTrack> tracks = track_biases(sets);
  Table table{"bias-drift", {"layer", "checkpoint", "file", "size", "mean", "std", "min", "p25", "median", "p75", "max", "l2"}, {}};
  for (const auto& t : tracks) {
    for (std::size_t f = 0; f < labels.size(); ++f) {
      const BiasStats& s = t.stats[f];
      if (s.size == 0) continue;
      table.rows.push_back({t.name, static_cast<std::int64_t>(f), labels[f], static_cast<std::int64_t>(s.size), s.mean, s.std,
                            s.min, s.p25, s.p50, s.p75, s.max, s.l2});
    }
  }
  if (figures) paginate(tracks.size(), per_page, [&](std::size_t first, std::size_t end, std::size_t page, std::size_t pages) {
    plot::Figure figure;
    figure.name = page_name("bias-drift", page);
    const auto titles = page_titles(first, end, [&](std::size_t i) { return tracks[i].name; });
    figure.title = "Bias over " + std::to_string(labels.size()) + " checkpoints" +
                   pattern_note(titles) + page_note(page, pages);
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
  // With the last page, or alone when no page is drawn.
  if (!figures) products.emplace_back();
  products.back().tables.push_back(std::move(table));
}

}  // namespace

// ---- the table people read on the terminal

std::string table_text(const Table& table) {
  std::ostringstream out;
  const auto text = [](const Cell& c) -> std::string {
    if (const auto* s = std::get_if<std::string>(&c)) return one_line(*s);  // a model's name: one row, shown
    if (const auto* i = std::get_if<std::int64_t>(&c)) return std::to_string(*i);
    const double v = std::holds_alternative<float>(c) ? std::get<float>(c) : std::get<double>(c);
    return number_text("%.4g", v);
  };
  std::vector<std::size_t> widths(table.columns.size());
  for (std::size_t c = 0; c < widths.size(); ++c) widths[c] = plot::display_width(table.columns[c]);
  for (const auto& row : table.rows)
    for (std::size_t c = 0; c < row.size() && c < widths.size(); ++c) widths[c] = std::max(widths[c], plot::display_width(text(row[c])));
  const auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const bool left = c == 0 || (c == 1 && table.columns[0] == "file");
      const std::size_t pad = widths[c] - std::min(widths[c], plot::display_width(cells[c]));
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
  return out.str();
}


BiasViews bias_views(const std::vector<std::string>& labels, const std::vector<std::vector<BiasVector>>& sets,
                     std::size_t per_page, bool figures) {
  BiasViews views;
  Table stats = stats_table(labels, sets);
  if (sets.size() == 1) {
    if (figures) {
      add_scatter_pages(views.products, sets[0], labels[0], per_page);
      add_distribution_pages(views.products, sets[0], labels[0]);
    }
    views.shown = stats;
  } else {
    views.comparison = compare_biases(sets.front(), sets.back());
    if (sets.size() > 2) add_drift(views.products, labels, sets, per_page, figures);
    add_compare(views.products, views.comparison, labels.front(), labels.back(), per_page, figures);
    views.shown = views.products.back().tables[1];
  }
  for (std::size_t f = 0; f < sets.size(); ++f) {
    for (const auto& b : sets[f]) {
      const std::size_t n = bias_stats(b.values).nonfinite;
      views.nonfinite += n;
      if (n) views.nonfinite_layers.push_back((sets.size() > 1 ? labels[f] + ":" : "") + b.name);
    }
  }
  views.products.push_back({plot::Figure{}, {}, {values_table(labels, sets), std::move(stats)}});
  return views;
}

}  // namespace pevis
