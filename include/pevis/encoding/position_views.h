#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pevis/positional/sinusoid.h"
#include "pevis/output/products.h"
#include "pevis/positional/rope.h"

namespace pevis {

/// What the figures of a [positions, dims] table show.
struct TableView {
  std::string about;                ///< what the table is, for titles
  std::int64_t first = 0;           ///< the position of the table's first row
  std::int64_t window = 256;        ///< rows of the line and similarity figures
  std::vector<std::int64_t> dims;   ///< dimensions drawn as lines
  Similarity similarity = Similarity::kDot;
  bool sinusoid = false;            ///< computed here: values in [-1, 1], even dims sin, odd cos
  double base = 10000;              ///< for the wavelengths of a sinusoid's dimensions
};

/// Products of a table ([rows, dims]): `encoding` (the table; a sinusoid's
/// note says even dimensions hold sin and odd ones cos), `encoding-dims`
/// (the chosen dimensions over the first `window` rows; a fast sinusoid's
/// panel shows its first eight wavelengths, the data every row) and
/// `encoding-similarity` (of the first `window` rows).
/// `table` is row-major, `rows` x `width`.
std::vector<Product> table_products(const float* table, std::int64_t rows, std::int64_t width, const TableView& view,
                                    bool figures = true);

/// What the rotary figures draw: the frequencies in use, and optionally a
/// second set overlaid (the unscaled ones, or the ideal ones of a stored
/// vector's base).
struct RopeView {
  std::string about;               ///< what is drawn, for titles
  std::vector<double> inv_freq;    ///< radians per position of each pair
  std::string label = "rope";      ///< the legend of `inv_freq`
  double attention_factor = 1;     ///< scale of cos and sin
  std::vector<double> reference;   ///< overlaid when not empty (cos and sin unscaled: no attention factor)
  std::string reference_label;
  std::int64_t max_len = 4096;     ///< the context marked on the figures
  std::optional<std::int64_t> original_context;  ///< marked too, when scaled
  std::int64_t first = 0, end = 0;  ///< positions of the angle table [first, end)
};

/// The view of a computed spec: its frequencies, and when scaled the unscaled
/// ones overlaid and the original context marked; angles for [first, end).
RopeView rope_view_of(const RopeSpec& spec, std::string about, std::int64_t first, std::int64_t end);

/// The view of a stored `inv_freq` that `fit` describes: the stored
/// frequencies, with the fit's unscaled ones overlaid when it found a
/// scaling, over `context` positions, else the one a Llama 3 fit implies
/// (original x factor), else 4096 (`context_assumed` is then set).
RopeView stored_rope_view(const std::vector<double>& stored, const RopeFit& fit, std::string about,
                          std::optional<std::int64_t> context, bool* context_assumed = nullptr);

/// Products of a rotary view:
/// - `rope-angles`: cos and sin of position x pair angles, times the
///   attention factor (data `rope-cos`, `rope-sin`);
/// - `rope-wavelengths`: each pair's wavelength on a log scale against the
///   context, the pairs that do not turn once within it marked (data: pair,
///   inv_freq, wavelength, turns within the context, ...);
/// - `rope-decay`: the mean score of constant vectors against distance
///   (every distance up to 65536, then 4096 log-spaced ones to `max_len`).
/// Figures are left empty when `figures` is false.
std::vector<Product> rope_products(const RopeView& view, bool figures = true);

/// Distances the decay curve is computed at for a context of `max_len`.
std::vector<std::int64_t> decay_distances(std::int64_t max_len);

/// Pairs whose wavelength exceeds `context`: they turn less than once in it.
std::int64_t pairs_without_full_turn(const std::vector<double>& inv_freq, std::int64_t context);

/// Products of ALiBi: `alibi-slopes` (slope per head, log scale; data
/// head, slope) and `alibi-bias` (the causal bias of up to four heads over
/// `positions` positions; data `alibi-bias-head<h>`).
std::vector<Product> alibi_products(std::int64_t heads, std::int64_t positions, bool figures = true);

/// The heads a figure of many draws: all up to `most`, else the first, the
/// last and evenly spaced ones between.
std::vector<std::int64_t> heads_to_draw(std::int64_t heads, std::int64_t most);

/// A position x position or query x key map panel: read best with square
/// cells (tables of positions by dimensions fill their panel instead).
plot::Panel map_panel(LabeledMatrix matrix, std::string title, std::string x_title, std::string y_title,
                      std::string value_title, double row_first = 0, double col_first = 0);

}  // namespace pevis
