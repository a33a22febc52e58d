#include "pevis/plot/gnuplot.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <sstream>

#include "pevis/base/error.h"
#include "pevis/base/utf8.h"
#include "pevis/base/text.h"

namespace pevis::plot {

// ---------------------------------------------------------------- quoting

std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : visible_text(text, "\xEF\xBF\xBD")) {  // U+FFFD for each invalid byte
    out += c;
    if (c == '\'') out += '\'';
  }
  out += "'";
  return out;
}

// ---------------------------------------------------------------- rendering

namespace {

// The characters of a text-terminal heatmap, from the lowest value to the highest.
constexpr const char* kShadeRamp = " .:-=+*#%@";

std::string num(double value) { return number_text("%.9g", value); }

std::string palette_commands(Palette palette) {
  if (palette == Palette::kGray) return "set palette gray\n";
  std::string text = "set palette defined (";
  int i = 0;
  for (const std::string& colour : palette_stops(palette)) {
    text += (i ? ", " : "") + std::to_string(i) + " '" + colour + "'";
    ++i;
  }
  return text + ")\n";
}

std::string terminal_commands(const Figure& figure, const Target& target) {
  const int w = std::max(figure.size.width, 1), h = std::max(figure.size.height, 1);
  std::string text;
  switch (target.format) {
    case Format::kPng:
      text = "set terminal pngcairo noenhanced size " + std::to_string(w) + "," + std::to_string(h) + " font 'Sans,11'\n";
      break;
    case Format::kSvg:
      text = "set terminal svg noenhanced size " + std::to_string(w) + "," + std::to_string(h) +
             " font 'Sans,11' background '#ffffff'\n";
      break;
    case Format::kPdf:
      text = "set terminal pdfcairo noenhanced size " + num(w / 72.0) + "in," + num(h / 72.0) + "in font 'Sans,11'\n";
      break;
    case Format::kText:
      text = "set terminal dumb noenhanced size " + std::to_string(std::max(w / 10, 40)) + "," +
             std::to_string(std::max(h / 20, 12)) + "\n";
      break;
  }
  text += target.output.empty() ? "set output\n" : "set output " + quote(target.output) + "\n";
  return text;
}

// A tic label of more than kMaxLabelChars keeps its end ("...layers.0.self_attn").
std::string shortened(const std::string& label) {
  if (display_width(label) <= kMaxLabelChars) return label;
  std::size_t start = label.size(), kept = 0;
  while (start > 0 && kept < kMaxLabelChars - 1) {
    --start;
    if (!is_utf8_continuation(static_cast<unsigned char>(label[start]))) ++kept;
  }
  return "\xE2\x80\xA6" + label.substr(start);  // U+2026
}

// The words of `text` (split at spaces, which stay with the word before).
std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> words;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t end = text.find(' ', i);
    end = end == std::string::npos ? text.size() : end + 1;
    words.push_back(text.substr(i, end - i));
    i = end;
  }
  return words;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& w : words) text += w;
  return text;
}

// A word that is a file path keeps its last part; a dotted module path its
// first and last two parts. Numbers and other words are left whole.
std::string shorter_word(const std::string& word) {
  const bool space = !word.empty() && word.back() == ' ';
  std::string core = space ? word.substr(0, word.size() - 1) : word;
  std::string tail;
  while (!core.empty() && (core.back() == ')' || core.back() == ',' || core.back() == ':')) tail.insert(0, 1, core.back()), core.pop_back();
  std::string head;
  while (!core.empty() && core.front() == '(') head += core.front(), core.erase(0, 1);
  std::string out = core;
  const auto slash = core.rfind('/');
  if (slash != std::string::npos && slash + 1 < core.size()) {
    out = core.substr(slash + 1);
  } else {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i <= core.size();) {
      const std::size_t dot = std::min(core.find('.', i), core.size());
      parts.push_back(core.substr(i, dot - i));
      i = dot + 1;
    }
    bool letters = false;
    for (char c : core) letters = letters || std::isalpha(static_cast<unsigned char>(c));
    if (parts.size() > 3 && letters) out = parts.front() + ".\xE2\x80\xA6." + parts[parts.size() - 2] + "." + parts.back();
  }
  return head + out + tail + (space ? " " : "");
}

// `text` made to fit `most` characters (UTF-8 aware) where a title is drawn:
// paths shortened first (the longest first), never numbers; only then cut
// in its middle at word boundaries.
std::string fitted(const std::string& text, double most_chars) {
  const auto most = static_cast<std::size_t>(std::max(9.0, most_chars));
  if (display_width(text) <= most) return text;
  std::vector<std::string> words = words_of(text);
  for (;;) {
    std::size_t longest = words.size();
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (shorter_word(words[i]) != words[i] && (longest == words.size() || words[i].size() > words[longest].size())) {
        longest = i;
      }
    }
    if (longest == words.size()) break;
    words[longest] = shorter_word(words[longest]);
    if (display_width(joined(words)) <= most) return joined(words);
  }
  // Still too long: whole words out, a number with the word before it
  // ("base 500000"), words without digits first, nearest the middle first;
  // "…" where words went.
  // A number: "500000,", "(8192)", "x8" once brackets and commas are off.
  const auto numeric = [](const std::string& word) {
    std::size_t i = 0;
    while (i < word.size() && (word[i] == '(' || word[i] == '[')) ++i;
    if (i < word.size() && word[i] == 'x') ++i;
    return i < word.size() && std::isdigit(static_cast<unsigned char>(word[i]));
  };
  std::vector<std::string> units;
  for (const auto& w : words) {
    if (!units.empty() && numeric(w)) {
      units.back() += w;
    } else {
      units.push_back(w);
    }
  }
  std::vector<bool> kept(units.size(), true);
  const auto shown = [&] {
    std::string text;
    for (std::size_t i = 0; i < units.size(); ++i) {
      if (kept[i]) text += units[i];
      else if (i == 0 || kept[i - 1]) text += "\xE2\x80\xA6 ";
    }
    return text;
  };
  const auto has_digit = [&](const std::string& unit) {
    for (const auto& w : words_of(unit)) {
      if (numeric(w)) return true;
    }
    return false;
  };
  for (int pass = 0; pass < 2 && display_width(shown()) > most; ++pass) {
    for (;;) {
      const double middle = static_cast<double>(units.size() - 1) / 2;
      std::size_t pick = units.size();
      for (std::size_t i = 1; i + 1 < units.size(); ++i) {  // the first and last words stay
        if (!kept[i] || (pass == 0 && has_digit(units[i]))) continue;
        // Ties go to the later word (a file's name after the tensor's).
        if (pick == units.size() || std::fabs(static_cast<double>(i) - middle) <= std::fabs(static_cast<double>(pick) - middle)) pick = i;
      }
      if (pick == units.size()) break;
      kept[pick] = false;
      if (display_width(shown()) <= most) break;
    }
  }
  std::string out = shown();
  if (display_width(out) <= most) return out;
  // One word longer than the room: cut it in its middle.
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!is_utf8_continuation(static_cast<unsigned char>(out[i]))) starts.push_back(i);
  }
  const std::size_t head = (most - 1) / 2, tail = most - 1 - head;
  return out.substr(0, starts[head]) + "\xE2\x80\xA6" + out.substr(starts[starts.size() - tail]);
}

// A label's width in average characters of the figure font: capitals,
// digits and signs such as < > are wider than the lowercase text the
// average is taken from (a token label "<0xE2><0x98>" is a third wider than
// its count of characters).
double label_width(const std::string& label) {
  double width = 0;
  for (const unsigned char c : label) {
    if (is_utf8_continuation(c)) continue;
    width += (std::isupper(c) || std::isdigit(c) || std::strchr("<>=+~#%&@_mwMW", c)) && c != 0 ? 1.3 : 1.0;
  }
  return width;
}

// Longest label as drawn (shortened to kMaxLabelChars), in average
// characters (in cells on the text terminal, where every character is one).
double longest_label(const std::vector<std::string>& labels, bool text) {
  double longest = 0;
  for (const auto& label : labels) {
    const std::string shown = shortened(label);
    longest = std::max(longest, text ? static_cast<double>(display_width(shown)) : label_width(shown));
  }
  return longest;
}

// How much wider than its count of characters the longest label is: gnuplot
// places an axis title by the count, so the title moves out by the rest.
double label_excess(const std::vector<std::string>& labels) {
  double excess = 0;
  for (const auto& label : labels) {
    const std::string shown = shortened(label);
    excess = std::max(excess, label_width(shown) - static_cast<double>(display_width(shown)));
  }
  return excess;
}

// Where a panel is drawn: its plot area in screen fractions and in pixels (or
// character cells on the text terminal).
struct Layout {
  double left, right, bottom, top;
  double plot_w, plot_h;
};

bool has_key(const Panel& panel) {
  const auto* xy = std::get_if<XYPlot>(&panel.content);
  return xy && (xy->series.size() > 1 || (!xy->series.empty() && !xy->series[0].title.empty()));
}

// Digits of the integer part of the widest of `a` and `b` (at least 1).
double digits_of(double a, double b) {
  const double widest = std::max(std::fabs(a), std::fabs(b));
  return widest < 10 ? 1 : std::floor(std::log10(widest)) + 1;
}

// The room a panel leaves around its plot area, in pixels (character cells
// count 10 wide on the text terminal): axis titles, tic labels, colour bar, key.
struct Margins {
  double left, right, top, bottom;
};

Margins panel_margins(const Panel& panel, bool text) {
  const auto* heat = std::get_if<Heatmap>(&panel.content);
  const double char_w = text ? 10 : 7.5;
  Margins m{text ? 80.0 : (panel.y_title.empty() ? 60.0 : 95.0), 20, panel.title.empty() ? 12.0 : 30.0,
            text ? (panel.x_title.empty() ? 60.0 : 80.0) : (panel.x_title.empty() ? 40.0 : 64.0)};
  if (heat) {
    m.right = text ? 20 : 140;
    if (heat->label_rows) {
      m.left = std::max(m.left, (panel.y_title.empty() || text ? 30 : 75) + char_w * longest_label(heat->matrix.row_labels, text));
    } else if (!text) {
      // Numeric tics: room for the widest number, then the axis title.
      const double digits = digits_of(heat->row_first, heat->row_first + heat->matrix.rows);
      m.left = std::max(m.left, (panel.y_title.empty() ? 30 : 55) + char_w * (digits + 1));
    }
    if (heat->label_cols) {
      m.bottom = std::max(m.bottom, (panel.x_title.empty() ? 30 : 60) + char_w * longest_label(heat->matrix.col_labels, text));
    }
  }
  if (has_key(panel)) {
    // Room for the key's longest title (whole: keys are not shortened)
    // beside its sample line; key text runs wider than tic digits.
    std::size_t longest = 0;
    for (const auto& series : std::get<XYPlot>(panel.content).series) longest = std::max(longest, display_width(series.title));
    m.right = std::max(text ? 120.0 : 150.0, (text ? 100 : 80) + (text ? char_w : 8.5) * static_cast<double>(longest));
  }
  const auto* box = std::get_if<BoxPlot>(&panel.content);
  const auto* xy = std::get_if<XYPlot>(&panel.content);
  const std::vector<std::string>* x_labels = box ? &box->labels : xy && !xy->x_labels.empty() ? &xy->x_labels : nullptr;
  if (x_labels) m.bottom = std::max(m.bottom, (panel.x_title.empty() ? 30 : 50) + 0.75 * char_w * longest_label(*x_labels, text));
  if (heat && heat->compact) {
    m.left = m.right = m.bottom = text ? 1 : 3;
    m.top = panel.title.empty() ? 3 : (text ? 20 : 18);
  }
  if (text) m.top += 10;
  return m;
}

Layout layout_panel(const Figure& figure, std::size_t index, bool text, int note_lines) {
  const double w = std::max(figure.size.width, 1), h = std::max(figure.size.height, 1);
  const int columns = std::max(1, std::min<int>(figure.columns, static_cast<int>(figure.panels.size())));
  const int rows = static_cast<int>((figure.panels.size() + columns - 1) / columns);
  const double title_band = figure.title.empty() ? 10 : (text ? 30 : 44);
  const double note_band = note_lines * (text ? 20 : 18) + (note_lines ? 8 : 0);
  const double cell_w = w / columns, cell_h = (h - title_band - note_band) / rows;
  const double x0 = (index % columns) * cell_w, y0 = title_band + (index / columns) * cell_h;
  const Panel& panel = figure.panels[index];
  const auto* heat = std::get_if<Heatmap>(&panel.content);
  const Margins m = panel_margins(panel, text);

  Layout layout;
  layout.left = (x0 + m.left) / w;
  layout.right = (x0 + cell_w - m.right) / w;
  layout.top = 1 - (y0 + m.top) / h;
  layout.bottom = 1 - (y0 + cell_h - m.bottom) / h;
  if (layout.right <= layout.left) layout.right = std::min(1.0, layout.left + 0.01);
  if (layout.top <= layout.bottom) layout.top = std::min(1.0, layout.bottom + 0.01);
  if (heat && heat->square_cells && !text && heat->matrix.rows > 0 && heat->matrix.cols > 0) {
    const double rows_n = static_cast<double>(heat->full_rows ? heat->full_rows : heat->matrix.rows);
    const double cols_n = static_cast<double>(heat->full_cols ? heat->full_cols : heat->matrix.cols);
    const double px_w = (layout.right - layout.left) * w, px_h = (layout.top - layout.bottom) * h;
    const double cell = std::min(px_w / cols_n, px_h / rows_n);
    layout.right = layout.left + cell * cols_n / w;   // the colour bar follows the plot's right edge
    layout.bottom = layout.top - cell * rows_n / h;   // the title stays; the x axis comes up
  }
  layout.plot_w = std::max(1.0, (layout.right - layout.left) * w / (text ? 10 : 1));
  layout.plot_h = std::max(1.0, (layout.top - layout.bottom) * h / (text ? 20 : 1));
  return layout;
}

// The matrix a heatmap panel draws: box-averaged to the plot area's pixels.
LabeledMatrix drawn_matrix(const Heatmap& heat, const Layout& layout) {
  return box_average(heat.matrix, static_cast<std::size_t>(layout.plot_h), static_cast<std::size_t>(layout.plot_w));
}

std::pair<double, double> value_range(const Heatmap& heat, Palette palette) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (float v : heat.matrix.values) {
    if (std::isfinite(v)) {
      lo = std::min(lo, static_cast<double>(v));
      hi = std::max(hi, static_cast<double>(v));
    }
  }
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (palette == Palette::kDiverging) {
    const double m = std::max(std::fabs(lo), std::fabs(hi));
    lo = -m, hi = m;
  }
  if (heat.z_min) lo = *heat.z_min;
  if (heat.z_max) hi = *heat.z_max;
  if (hi <= lo) hi = lo + 1;
  return {lo, hi};
}

// The step of numeric tics over [lo, hi] on an axis `plot_px` pixels long,
// so that numbers never touch: each takes its digits and `gap_chars` more of
// `char_px` pixels. The smallest 1, 2 or 5 times a power of ten that puts at
// most as many steps as fit, less one (tics stand at both ends of each step).
double tic_step(double lo, double hi, double plot_px, double char_px, double gap_chars) {
  const double room = char_px * (digits_of(lo, hi) + gap_chars);
  const double steps = std::max(1.0, std::floor(plot_px / room) - 1);
  const double raw = (hi - lo) / steps;
  double step = std::pow(10.0, std::floor(std::log10(std::max(raw, 1e-300))));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * step >= raw) return std::max(1.0, m * step);
  }
  return std::max(1.0, 10 * step);
}

std::string tic_list(const std::vector<std::string>& labels, double first, double budget_px, double spacing_px) {
  const std::size_t max_tics = std::max<std::size_t>(1, static_cast<std::size_t>(budget_px / spacing_px));
  const std::size_t step = std::max<std::size_t>(1, (labels.size() + max_tics - 1) / max_tics);
  std::string text = "(";
  for (std::size_t i = 0; i < labels.size(); i += step) {
    text += (i ? ", " : "") + quote(shortened(labels[i])) + " " + num(first + static_cast<double>(i));
  }
  return text + ")";
}

std::string datablock_name(std::size_t panel, std::size_t series) {
  return "$pevis_" + std::to_string(panel) + "_" + std::to_string(series);
}

void write_matrix_block(std::ostringstream& out, const std::string& name, const LabeledMatrix& m) {
  out << name << " << EOD\n";
  for (std::size_t r = 0; r < m.rows; ++r) {
    for (std::size_t c = 0; c < m.cols; ++c) {
      const float v = m.at(r, c);
      if (c) out << ' ';
      if (std::isfinite(v)) {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%.6g", static_cast<double>(v));
        out << buffer;
      } else {
        out << "NaN";
      }
    }
    out << '\n';
  }
  out << "EOD\n";
}

// The values of `m`, row by row, as native float32 (non-finite values as NaN,
// which gnuplot leaves undrawn).
std::string binary_matrix(const LabeledMatrix& m) {
  std::string bytes(m.values.size() * sizeof(float), '\0');
  char* out = bytes.data();
  for (float v : m.values) {
    if (!std::isfinite(v)) v = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(out, &v, sizeof v);
    out += sizeof v;
  }
  return bytes;
}

// `binary_file`: the float32 file holding `drawn`, or "" for the datablock.
void write_heatmap_panel(std::ostringstream& out, const Figure& figure, std::size_t index, const Heatmap& heat,
                         const LabeledMatrix& drawn, const Layout& layout, bool text, const std::string& binary_file) {
  const auto [lo, hi] = value_range(heat, figure.palette);
  const double rows = static_cast<double>(heat.matrix.rows), cols = static_cast<double>(heat.matrix.cols);
  const double sy = rows / drawn.rows, sx = cols / drawn.cols;
  const double row0 = heat.label_rows ? 0 : heat.row_first, col0 = heat.label_cols ? 0 : heat.col_first;

  out << "set xrange [" << num(col0 - 0.5) << ":" << num(col0 + cols - 0.5) << "]\n";
  out << "set yrange [" << num(row0 + rows - 0.5) << ":" << num(row0 - 0.5) << "]\n";
  out << "set cbrange [" << num(lo) << ":" << num(hi) << "]\n";
  if (heat.log_z && lo > 0 && !text) out << "set logscale cb\nset format cb '%g'\n";
  out << "set tics out nomirror\n";
  // Numeric tics spaced so that their numbers never touch at this panel's width.
  if (!heat.label_cols && !heat.compact) {
    out << "set xtics " << num(tic_step(col0, col0 + cols, layout.plot_w, text ? 1 : 7.5, /*gap_chars=*/2)) << "\n";
  }
  if (heat.compact) {
    out << "unset xtics\nunset ytics\nunset colorbox\nunset xlabel\nunset ylabel\n";
  } else if (heat.label_cols) {
    out << "set xtics rotate by 90 right " << tic_list(heat.matrix.col_labels, 0, layout.plot_w, text ? 2 : 14) << "\n";
  }
  if (heat.label_rows && !heat.compact) {
    out << "set ytics " << tic_list(heat.matrix.row_labels, 0, layout.plot_h, text ? 1 : 14) << "\n";
  }
  // Each drawn cell sits at the centre of the block of data cells it averages.
  const std::string x = "(" + num(col0 - 0.5) + " + ($1 + 0.5) * " + num(sx) + ")";
  const std::string y = "(" + num(row0 - 0.5) + " + ($2 + 0.5) * " + num(sy) + ")";
  const std::string source =
      binary_file.empty()
          ? datablock_name(index, 0) + " matrix using " + x + ":" + y + ":3"
          : quote(binary_file) + " binary array=(" + std::to_string(drawn.cols) + "," + std::to_string(drawn.rows) +
                ") format='%float32' origin=(" + num(col0 - 0.5 + 0.5 * sx) + "," + num(row0 - 0.5 + 0.5 * sy) +
                ") dx=" + num(sx) + " dy=" + num(sy);
  if (text) {
    out << "pevis_ramp = " << quote(kShadeRamp) << "\n";
    out << "pevis_shade(v) = (v != v) ? ' ' : substr(pevis_ramp, pevis_k(v), pevis_k(v))\n";
    out << "pevis_k(v) = 1 + int(9.999 * ((v < " << num(lo) << ") ? 0 : (v > " << num(hi) << ") ? 1 : (v - " << num(lo)
        << ") / " << num(hi - lo) << "))\n";
    out << "plot " << datablock_name(index, 0) << " matrix using " << x << ":" << y
        << ":(pevis_shade($3)) with labels notitle\n";
  } else if (heat.compact) {
    out << "plot " << source << " with image notitle\n";
  } else {
    const double w = std::max(figure.size.width, 1);
    out << "set colorbox user origin screen " << num(layout.right + 14 / w) << ", screen " << num(layout.bottom)
        << " size screen " << num(18 / w) << ", screen " << num(layout.top - layout.bottom) << "\n";
    if (!heat.value_title.empty()) out << "set cblabel " << quote(heat.value_title) << " offset 1,0\n";
    out << "plot " << source << " with image notitle\n";
  }
}

void write_xy_panel(std::ostringstream& out, const Figure& figure, std::size_t index, const XYPlot& xy,
                    const Layout& layout, bool text) {
  out << "set grid lc rgb '#dddddd'\nset autoscale xfix\nset xzeroaxis lt -1 lc rgb '#999999'\n";
  if (xy.style == XYPlot::Style::kPoints) out << "set offsets graph 0.02, graph 0.02, graph 0.04, graph 0.04\n";
  if (xy.style == XYPlot::Style::kBars) out << "set boxwidth 0.7\nset yrange [0:*]\n";
  if (!xy.x_labels.empty()) {
    out << "set xrange [-0.5:" << num(static_cast<double>(xy.x_labels.size()) - 0.5) << "]\n";
    out << "set xtics rotate by 45 right " << tic_list(xy.x_labels, 0, layout.plot_w, text ? 2 : 14) << "\n";
  }
  if (xy.y_min && xy.y_max) out << "set yrange [" << num(*xy.y_min) << ":" << num(*xy.y_max) << "]\n";
  if (!xy.log_x && xy.x_labels.empty()) {
    // Numeric tics spaced so that their numbers never touch at this panel's width.
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& series : xy.series) {
      for (double x : series.x) {
        if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
      }
    }
    if (hi - lo >= 1) {
      out << "set xtics " << num(tic_step(lo, hi, layout.plot_w, text ? 1 : 7.5, /*gap_chars=*/1.5)) << "\n";
    }
  }
  if (xy.log_x) out << "set logscale x 10\n";
  if (xy.log_y) out << "set logscale y 10\n";
  // The key sits in the panel's own right margin (an "outside" key would go
  // to the edge of the whole figure).
  const double w = std::max(figure.size.width, 1);
  out << "set key at screen " << num(layout.right + (text ? 20 : 10) / w) << ", screen " << num(layout.top)
      << " left top vertical Left reverse noautotitle\n";
  out << "plot ";
  for (std::size_t s = 0; s < xy.series.size(); ++s) {
    const Series::Look look = xy.series[s].look;
    out << (s ? ", \\\n     " : "") << datablock_name(index, s) << " using 1:2 "
        << (look == Series::Look::kLines    ? "with lines lw 2"
            : look == Series::Look::kPoints ? "with points pt 7 ps 0.9"
            : look == Series::Look::kDashed ? "with lines lw 1.5 dt 2"
            : xy.style == XYPlot::Style::kLines  ? "with lines lw 2"
            : xy.style == XYPlot::Style::kPoints ? "with points pt 7 ps 0.8"
                                                 : "with boxes fs solid 0.6 lc rgb '#2c718e'")
        << (xy.series[s].colour.empty() || xy.style == XYPlot::Style::kBars ? "" : " lc rgb " + quote(xy.series[s].colour))
        << " title "
        << quote(xy.series[s].title);
  }
  if (xy.series.empty()) out << "NaN notitle";
  out << "\n";
}

void write_box_panel(std::ostringstream& out, std::size_t index, const BoxPlot& box, const Layout& layout, bool text) {
  out << "set grid ytics lc rgb '#dddddd'\n";
  out << "set xrange [-0.5:" << num(static_cast<double>(box.boxes.size()) - 0.5) << "]\n";
  out << "set xtics rotate by 45 right " << tic_list(box.labels, 0, layout.plot_w, text ? 2 : 14) << "\n";
  out << "set boxwidth 0.6\nset style fill solid 0.35 border\n";
  // candlesticks: x, box bottom, whisker bottom, whisker top, box top.
  out << "plot " << datablock_name(index, 0) << " using 1:3:2:6:5 with candlesticks whiskerbars lc rgb '#2c718e' notitle, \\\n"
      << "     " << datablock_name(index, 0) << " using 1:4:4:4:4 with candlesticks lc rgb '#000000' lw 2 notitle\n";
}

// A heatmap without cells: its place in the grid stays empty.
bool blank(const Panel& panel) {
  const auto* heat = std::get_if<Heatmap>(&panel.content);
  return heat && (heat->matrix.rows == 0 || heat->matrix.cols == 0);
}

}  // namespace

namespace {

// What a figure's panels draw: each panel's place, each heatmap's matrix as
// reduced to its pixels, and the notes at the bottom (the figure's own, when
// heatmaps were reduced and, on the text terminal, what the shades mean).
struct Plan {
  std::vector<Layout> layouts;
  std::vector<LabeledMatrix> drawn;
  std::vector<std::string> notes;
};

// How many characters of a note fit on one line of the figure: Sans 11
// averages under 8 pixels a character, the text terminal takes 10 pixels.
std::size_t note_chars(const Figure& figure, bool text) {
  const double width = std::max(figure.size.width, 1);
  return static_cast<std::size_t>(std::max(20.0, (width * 0.98 - 8) / (text ? 10.0 : 8.0)));
}

// A note broken at spaces into lines of at most `most` characters (a word
// longer than that stands alone on its line).
std::vector<std::string> wrapped(const std::string& note, std::size_t most) {
  std::vector<std::string> lines;
  std::string line;
  std::size_t start = 0;
  while (start <= note.size()) {
    std::size_t end = note.find(' ', start);
    if (end == std::string::npos) end = note.size();
    const std::string word = note.substr(start, end - start);
    if (!line.empty() && display_width(line) + 1 + display_width(word) > most) {
      lines.push_back(line);
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  if (!line.empty() || lines.empty()) lines.push_back(line);
  return lines;
}

// The longest note that reduction adds: its line count is reserved before
// the reduction is known.
const char* const kLongestReducedNote = "drawn box-averaged from 100000x100000 to 10000x10000 cells to fit; "
                                        "the data file has every value";

// The notes' band shrinks the plot areas, so the layout is made once without
// it, to learn whether reduction is needed.
int note_lines(const Figure& figure, bool text) {
  std::size_t heatmaps = 0;
  bool any_reduced = false;
  for (std::size_t i = 0; i < figure.panels.size(); ++i) {
    if (blank(figure.panels[i])) continue;
    if (const auto* heat = std::get_if<Heatmap>(&figure.panels[i].content)) {
      const Layout layout = layout_panel(figure, i, text, 0);
      ++heatmaps;
      any_reduced = any_reduced || heat->full_rows > heat->matrix.rows || heat->full_cols > heat->matrix.cols ||
                    heat->matrix.rows > static_cast<std::size_t>(layout.plot_h) ||
                    heat->matrix.cols > static_cast<std::size_t>(layout.plot_w);
    }
  }
  const std::size_t most = note_chars(figure, text);
  std::size_t lines = any_reduced ? wrapped(kLongestReducedNote, most).size() : 0;
  if (text && heatmaps > 0) {
    lines += wrapped("shades '" + std::string(kShadeRamp) + "' run from -0.000123456 to -0.000123456", most).size();
  }
  for (const auto& note : figure.notes) lines += wrapped(note, most).size();
  return static_cast<int>(lines);
}

Plan plan_figure(const Figure& figure, const Target& target) {
  const bool text = target.format == Format::kText;
  const std::size_t n = figure.panels.size();
  const int lines = note_lines(figure, text);
  Plan plan;
  plan.drawn.resize(n);
  std::vector<std::string> reduced;
  std::size_t heatmaps = 0;
  std::pair<double, double> shade_range{0, 1};
  for (std::size_t i = 0; i < n; ++i) {
    plan.layouts.push_back(layout_panel(figure, i, text, lines));
    if (blank(figure.panels[i])) continue;
    if (const auto* heat = std::get_if<Heatmap>(&figure.panels[i].content)) {
      ++heatmaps;
      LabeledMatrix& drawn = plan.drawn[i];
      drawn = drawn_matrix(*heat, plan.layouts[i]);
      const std::size_t full_rows = heat->full_rows ? heat->full_rows : heat->matrix.rows;
      const std::size_t full_cols = heat->full_cols ? heat->full_cols : heat->matrix.cols;
      if (drawn.rows != full_rows || drawn.cols != full_cols) {
        reduced.push_back(std::to_string(full_rows) + "x" + std::to_string(full_cols) + " to " +
                          std::to_string(drawn.rows) + "x" + std::to_string(drawn.cols));
      }
      shade_range = value_range(*heat, figure.palette);
    }
  }
  plan.notes = figure.notes;
  if (reduced.size() == 1) {
    plan.notes.push_back("drawn box-averaged from " + reduced[0] + " cells to fit" +
                         (target.data_written ? "; the data file has every value" : ""));
  } else if (!reduced.empty()) {
    plan.notes.push_back(std::string("heatmaps drawn box-averaged to fit") +
                         (target.data_written ? "; the data files have every value" : ""));
  }
  if (text && heatmaps > 0) {
    plan.notes.push_back("shades '" + std::string(kShadeRamp) + "' run from " +
                         (heatmaps > 1 ? "low to high in each panel"
                                       : num(shade_range.first) + " to " + num(shade_range.second)));
  }
  // Each note broken into the lines the figure's width holds.
  std::vector<std::string> broken;
  for (const auto& note : plan.notes) {
    for (auto& line : wrapped(note, note_chars(figure, text))) broken.push_back(std::move(line));
  }
  plan.notes = std::move(broken);
  return plan;
}

// The panels' data: datablocks in the script, or binary files beside it for
// heatmaps (`binary_files` gets their names).
std::string panel_data(const Figure& figure, const Plan& plan, const Target& target, Script& script,
                       std::vector<std::string>& binary_files) {
  const bool binary = target.format != Format::kText && !target.binary_prefix.empty();
  std::ostringstream out;
  for (std::size_t i = 0; i < figure.panels.size(); ++i) {
    const Panel& panel = figure.panels[i];
    if (blank(panel)) continue;
    if (std::holds_alternative<Heatmap>(panel.content) && binary) {
      binary_files[i] = target.binary_prefix + "-" + std::to_string(i) + ".bin";
      script.files.push_back({binary_files[i], binary_matrix(plan.drawn[i])});
    } else if (std::holds_alternative<Heatmap>(panel.content)) {
      write_matrix_block(out, datablock_name(i, 0), plan.drawn[i]);
    } else if (const auto* box = std::get_if<BoxPlot>(&panel.content)) {
      out << datablock_name(i, 0) << " << EOD\n";
      const auto value = [](double v) { return std::isfinite(v) ? num(v) : std::string("NaN"); };
      for (std::size_t k = 0; k < box->boxes.size(); ++k) {
        const auto& b = box->boxes[k];
        out << k << ' ' << value(b.min) << ' ' << value(b.q1) << ' ' << value(b.median) << ' ' << value(b.q3) << ' '
            << value(b.max) << '\n';
      }
      out << "EOD\n";
    } else {
      const auto& xy = std::get<XYPlot>(panel.content);
      for (std::size_t s = 0; s < xy.series.size(); ++s) {
        const Series& series = xy.series[s];
        out << datablock_name(i, s) << " << EOD\n";
        for (std::size_t k = 0; k < std::min(series.x.size(), series.y.size()); ++k) {
          out << (std::isfinite(series.x[k]) ? num(series.x[k]) : "NaN") << ' '
              << (std::isfinite(series.y[k]) ? num(series.y[k]) : "NaN") << '\n';
        }
        out << "EOD\n";
      }
    }
  }
  return out.str();
}

// One panel's commands: its margins, titles, the figure's notes (with the
// first panel drawn), and what it draws.
void write_panel(std::ostringstream& out, const Figure& figure, const Plan& plan, std::size_t i, bool first, bool text,
                 const std::string& binary_file) {
  const Panel& panel = figure.panels[i];
  const Layout& layout = plan.layouts[i];
  const double width = std::max(figure.size.width, 1);
  out << "# panel " << i << "\nreset\n";
  out << palette_commands(figure.palette);
  out << "set lmargin at screen " << num(layout.left) << "\nset rmargin at screen " << num(layout.right)
      << "\nset tmargin at screen " << num(layout.top) << "\nset bmargin at screen " << num(layout.bottom) << "\n";
  if (!panel.title.empty()) {
    const auto* heat = std::get_if<Heatmap>(&panel.content);
    const double panel_px = (layout.right - layout.left) * width + (heat && !heat->compact ? 140 : 0);
    const double char_px = text ? 10 : heat && heat->compact ? 6.5 : 7.5;
    out << "set title " << quote(fitted(panel.title, panel_px / char_px))
        << (heat && heat->compact && !text ? " font ',9' offset 0,-0.6" : "") << "\n";
  }
  double x_excess = 0, y_excess = 0;
  if (const auto* heat = std::get_if<Heatmap>(&panel.content); heat && !text) {
    if (heat->label_cols) x_excess = label_excess(heat->matrix.col_labels);
    if (heat->label_rows) y_excess = label_excess(heat->matrix.row_labels);
  }
  if (!panel.x_title.empty()) {
    // (Offsets count character heights down the page: about twice a width.)
    out << "set xlabel " << quote(panel.x_title) << (x_excess > 0 ? " offset 0," + num(-0.45 * x_excess) : "") << "\n";
  }
  if (!panel.y_title.empty()) {
    out << "set ylabel " << quote(panel.y_title) << (y_excess > 0 ? " offset " + num(-y_excess) + ",0" : "") << "\n";
  }
  if (first) {
    const auto& notes = plan.notes;
    const double h = std::max(figure.size.height, 1), line = text ? 20 : 18;
    for (std::size_t k = 0; k < notes.size(); ++k) {
      out << "set label " << 1000 + k << " " << quote(notes[k]) << " at screen 0.01, screen "
          << num((8 + line * (notes.size() - k - 0.5)) / h) << " left\n";
    }
  }
  if (const auto* heat = std::get_if<Heatmap>(&panel.content)) {
    write_heatmap_panel(out, figure, i, *heat, plan.drawn[i], layout, text, binary_file);
  } else if (const auto* box = std::get_if<BoxPlot>(&panel.content)) {
    write_box_panel(out, i, *box, layout, text);
  } else {
    write_xy_panel(out, figure, i, std::get<XYPlot>(panel.content), layout, text);
  }
}

}  // namespace

Script render(const Figure& figure, const Target& target) {
  const bool text = target.format == Format::kText;
  const std::size_t n = figure.panels.size();
  const Plan plan = plan_figure(figure, target);
  // Without nofpe_trap gnuplot re-arms a signal handler (two system calls)
  // for every value it reads through a `using` expression.
  Script script;
  script.preamble = "# A pevis figure: run it with gnuplot in the folder that holds it.\n"
                    "reset session\nset encoding utf8\nset datafile nofpe_trap\n" +
                    terminal_commands(figure, target);
  std::vector<std::string> binary_files(n);
  script.data = panel_data(figure, plan, target, script, binary_files);
  std::ostringstream out;
  out << "set multiplot";
  // A title's characters are up to 11 pixels wide at 15 points, 7 at 11.
  const double width = std::max(figure.size.width, 1);
  if (!figure.title.empty()) {
    out << " title " << quote(fitted(figure.title, text ? width / 10 - 2 : width / 11.5)) << (text ? "" : " font ',15'");
  }
  out << "\n";
  std::size_t first_drawn = 0;  // the notes are set with the first panel drawn
  while (first_drawn + 1 < n && blank(figure.panels[first_drawn])) ++first_drawn;
  for (std::size_t i = 0; i < n; ++i) {
    if (blank(figure.panels[i])) {
      out << "# panel " << i << ": empty\n";
      continue;
    }
    write_panel(out, figure, plan, i, i == first_drawn, text, binary_files[i]);
  }
  out << "unset multiplot\nunset output\n";
  script.body = out.str();
  return script;
}

std::string render_script(const Figure& figure, const Target& target) { return render(figure, target).text(); }

}  // namespace pevis::plot
