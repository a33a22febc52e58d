#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pevis/attention/attention.h"
#include "pevis/attention/head_stats.h"
#include "pevis/output/products.h"

namespace pevis {

/// What the attention figures show.
struct AttentionViewOptions {
  std::optional<std::int64_t> head;  ///< one head only; unset: every head and their mean
  bool mean_only = false;            ///< only the mean of the heads
  std::int64_t batch_index = 0;      ///< which input of the batch
  bool data = true;                  ///< write the weights as data
  bool figures = true;               ///< prepare figures
  std::optional<plot::Size> size;    ///< every figure's size, when the run sets it
  std::vector<std::string> tokens;   ///< labels of the positions, when they fit
  bool rollout = false;
  Fusion fusion = Fusion::kMean;
  ColourScale scale = ColourScale::kAuto;
};

/// The colours of a figure's weights (one scale for all its panels): from
/// `lo` to `hi`, on a log scale when `log`.
struct WeightScale {
  double lo = 0, hi = 1;
  bool log = false;
  std::string note;  ///< what the figure says of it; "" for 0 to the largest
};

/// The scale `wanted` asks for (kAuto: chosen from the weights, as
/// `ColourScale` says), from up to a million of the weights of `maps`.
WeightScale choose_scale(const std::vector<at::Tensor>& maps, ColourScale wanted);

/// The weights drawn for a site: [heads, T, S] of input `batch_index`; for a
/// windowed site, its windows in their place on the grid (a mosaic
/// [heads, rows*T, cols*S], NaN where a grid cell has no window).
at::Tensor drawn_weights(const AttentionSite& site, std::int64_t batch_index);

/// The grid a site's windows are drawn on (rows, columns): its square grid,
/// else rows of ceil(sqrt(windows)) windows in their order.
std::pair<std::int64_t, std::int64_t> grid_of(const AttentionSite& site);

/// What a figure says of the element it shows: "input 1 of 2, 16 windows
/// (4x4 grid, shifted by 1) of 4 tokens", or "" for one unwindowed input.
std::string element_text(const AttentionSite& site, std::int64_t batch_index);

/// Checks the options against the sites before anything is drawn: a head or
/// batch index every site has, and for rollout sites that chain (one window,
/// square maps of one size). Throws `pevis::Error` (exit 3).
void check_attention_views(const std::vector<AttentionSite>& sites, const AttentionViewOptions& options);

/// The products of a capture: per site `attention/SITE` (a panel per head
/// and their mean; data `SITE.headK`, `SITE.mean`, for windowed sites one
/// row per window and query, labelled `window:query`), `attention/overview`
/// (one row per site, a column per head, no panel for heads a site lacks)
/// when there is more than one map, and with `rollout` `attention/rollout`.
/// Each site's weights are released once its products are made.
std::vector<Product> attention_views(std::vector<AttentionSite>& sites, const AttentionViewOptions& options);

/// `attention/heads`: every site's heads' statistics as a table (site, head,
/// entropy, distance, sink, self, prev, induction; an empty cell where one
/// does not apply) and, with `figures`, a scatter of entropy against distance,
/// one point per head, a colour per site. `patches`: distances are in patches.
Product head_product(const std::vector<std::string>& sites, const std::vector<std::vector<HeadStatistics>>& stats,
                     bool patches, bool figures);

/// A site's name made safe for a file name: characters other than letters,
/// digits, '.', '_' and '-' become '-'; a name over 200 bytes keeps its
/// first 100 and last 80, with a hash of the whole name between them.
std::string site_file_name(const std::string& site);

/// The --list table: each site's name, heads, batch, windows (and their
/// grid) and the shape of its weights, a line each under a header line.
std::string sites_text(const std::vector<AttentionSite>& sites);

}  // namespace pevis
