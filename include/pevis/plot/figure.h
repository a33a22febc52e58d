#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "pevis/base/matrix.h"

namespace pevis::plot {

/// Colour maps. Viridis, magma and gray are sequential; diverging (blue, white,
/// red) is for signed data and is centred on zero.
enum class Palette { kViridis, kMagma, kGray, kDiverging };

/// The figure file formats; kText draws with gnuplot's dumb terminal.
enum class Format { kPng, kSvg, kPdf, kText };

/// Figure size in pixels (for PDF, at 72 pixels per inch; for text, one
/// character cell is 10 x 20 pixels).
struct Size {
  int width = 1200;
  int height = 800;
};

/// A matrix drawn as coloured cells, row 0 at the top, with a colour bar.
/// When it has more rows or columns than its panel has pixels it is
/// box-averaged to the pixel grid before drawing, and the figure says so.
struct Heatmap {
  LabeledMatrix matrix;
  bool label_rows = false;  ///< tics from row labels (else numeric, from row_first)
  bool label_cols = false;  ///< tics from column labels (else numeric, from col_first)
  double row_first = 0;     ///< axis value of row 0 on a numeric axis
  double col_first = 0;     ///< axis value of column 0 on a numeric axis
  std::optional<double> z_min;  ///< colour range; from the data when unset
  std::optional<double> z_max;
  std::string value_title;  ///< colour bar title
  bool log_z = false;       ///< a log colour scale (z_min must then be positive)
  bool compact = false;     ///< a thumbnail: no tics, axis titles or colour bar (for overviews)
  /// Square cells: the plot area shrinks along its longer side so that a
  /// cell is as wide as it is tall (attention maps, bias maps); not on text.
  bool square_cells = false;
  /// When `matrix` was already box-averaged from a larger one (to save
  /// memory), that one's size: the figure's note and axes speak of it.
  std::size_t full_rows = 0;
  std::size_t full_cols = 0;
};

/// One named sequence of points.
struct Series {
  /// How one series is drawn when it differs from its plot's style: a
  /// reference level or an overlaid curve (dashed), marked points.
  enum class Look { kDefault, kLines, kPoints, kDashed };
  std::string title;
  std::vector<double> x;
  std::vector<double> y;
  Look look = Look::kDefault;
  std::string colour;  ///< "#rrggbb"; "" for the series' place in gnuplot's cycle
};

/// Series drawn as lines (a line plot), as dots (a scatter plot) or as bars
/// from zero (a bar chart).
struct XYPlot {
  enum class Style { kLines, kPoints, kBars };
  Style style = Style::kLines;
  std::vector<Series> series;
  std::optional<double> y_min;  ///< vertical range; from the data when unset
  std::optional<double> y_max;
  std::vector<std::string> x_labels;  ///< when given, tics at x = 0, 1, ... with these labels
  bool log_x = false;  ///< logarithmic axes; values <= 0 are not drawn on them
  bool log_y = false;
};

/// Distributions side by side: for each label a box from the first to the
/// third quartile with a line at the median, and whiskers to the extremes.
struct BoxPlot {
  struct Box {
    double min, q1, median, q3, max;
  };
  std::vector<std::string> labels;
  std::vector<Box> boxes;
};

/// One plot area of a figure.
struct Panel {
  std::string title;
  std::string x_title;
  std::string y_title;
  std::variant<Heatmap, XYPlot, BoxPlot> content;
};

/// A figure: a grid of panels, filled row by row, under one title. Plain data:
/// `render_script` turns it into gnuplot text.
struct Figure {
  std::string name;  ///< base file name, e.g. "encoding"
  std::string title;
  Size size;
  Palette palette = Palette::kViridis;
  int columns = 1;   ///< panels per grid row
  std::vector<Panel> panels;
  /// Lines at the bottom, under the panels: what the figure shows that its
  /// title has no room for (which input, which windows).
  std::vector<std::string> notes;
};

/// Columns of a grid of `panels` that is as square as can be: ceil(sqrt(n)).
int square_grid_columns(std::size_t panels);

/// Characters drawn for `text`: its UTF-8 code points (continuation bytes
/// do not count).
std::size_t display_width(const std::string& text);

/// Tic labels longer than this are shortened (keeping their end, the telling
/// part of a module path): layouts need no room for more.
constexpr std::size_t kMaxLabelChars = 24;

/// Dotted names (`model.layers.12.self_attn.q_proj.bias`) with the leading
/// and trailing parts they all share removed (`12`), so panel titles keep
/// what tells them apart, and the pattern that puts them back
/// (`model.layers.*.self_attn.q_proj.bias`). One name, or names that share
/// nothing or differ by nothing left, come back whole with an empty pattern.
struct DistinctNames {
  std::vector<std::string> names;
  std::string pattern;
};
DistinctNames distinct_parts(const std::vector<std::string>& names);

/// A palette's colours ("#rrggbb") from the lowest value to the highest,
/// evenly spaced and blended linearly between (as gnuplot's `defined`
/// palettes; gray is black to white).
std::vector<std::string> palette_stops(Palette palette);

/// Parses a palette or format name as given on the command line; returns
/// nothing for an unknown name.
std::optional<Palette> parse_palette(const std::string& name);
std::optional<Format> parse_format(const std::string& name);
/// The file extension of a format ("png", "svg", "pdf", "txt").
std::string extension(Format format);

/// Box-averages `m` to at most `max_rows` x `max_cols`: each output cell is
/// the mean of the block of input cells it covers (blocks differ in size by at
/// most one when the sizes do not divide). Labels are those of each block's
/// first row/column. Returns `m` unchanged when it already fits.
LabeledMatrix box_average(const LabeledMatrix& m, std::size_t max_rows, std::size_t max_cols);

/// The side of a copy of `n` cells reduced by the largest whole factor that
/// leaves at least `at_least` cells, or `n` when no factor does. Such a copy
/// has blocks of equal size, so box-averaging it again to the pixels gives
/// each pixel the plain average of whole blocks of the original cells: a
/// figure can hold the small copy instead of the whole matrix.
std::size_t whole_factor_side(std::size_t n, std::size_t at_least);

}  // namespace pevis::plot
