#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pevis/attention/attention.h"
#include "pevis/attention/fusion.h"
#include "pevis/output/products.h"

namespace pevis {

/// What the interactive attention page holds and how.
struct AttentionPageOptions {
  std::string model;                ///< the model file as given (the page's title)
  std::vector<std::string> tokens;  ///< labels of the input's positions
  std::int64_t batch_index = 0;     ///< the input shown first
  ColourScale scale = ColourScale::kAuto;
  plot::Palette palette = plot::Palette::kViridis;
  double budget_bytes = 64e6;       ///< the page's largest size
};

/// How the weights are stored in the page: exactly, or in 16 or 8 bits per
/// weight as multiples of a site's unit (its largest weight / 65534 or /254;
/// 0 stays exactly 0 so masked keys stay masked).
enum class PagePrecision { kFloat32 = 4, kUint16 = 2, kUint8 = 1 };

/// How a page stores its sites: one precision for all, and per site the side
/// of the blocks of positions averaged into one cell (1: every weight).
struct PagePlan {
  PagePrecision precision = PagePrecision::kFloat32;
  std::vector<std::int64_t> blocks;
  std::size_t bytes = 0;  ///< the weights' share of the page (base64)
};

/// The finest plan whose weights fit in `budget` bytes: every weight as
/// float32, else 16 bits, else 8 bits, else 8 bits with the largest sites
/// averaged in blocks (box averages, as the figures reduce long inputs)
/// until no map is longer than the longest side that fits. Throws
/// `pevis::Error` (exit 3) when even maps of 16 cells a side do not fit.
PagePlan plan_page(const std::vector<AttentionSite>& sites, double budget);

/// `attention.html`: one self-contained page of every site, every head and
/// every input of the batch (model view, head view, matrix view). The token
/// text is data: it is written as escaped JSON and shown as text only.
Document attention_page(const std::vector<AttentionSite>& sites, const AttentionPageOptions& options);

}  // namespace pevis
