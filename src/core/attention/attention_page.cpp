#include "pevis/attention/attention_page.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "pevis/attention/attention_views.h"
#include "pevis/base/error.h"
#include "pevis/base/memory.h"
#include "pevis/base/parallel.h"
#include "pevis/base/text.h"
#include "pevis/output/html.h"

namespace pevis {

namespace page_assets {
extern const PageAssets kAttention;  // src/core/attention/page/, built in by cmake/embed_page.cmake
}  // namespace page_assets

namespace {

constexpr std::int64_t kThumbSide = 64;  // a thumbnail's longest side, in cells
constexpr std::int64_t kLeastSide = 16;  // the shortest side a site is reduced to
// Stored codes: 0 is an exact 0 (a masked key), the largest code a missing
// value (NaN), the codes between multiples of the site's unit.
constexpr unsigned kTop16 = 65534, kTop8 = 254;
// Thumbnails hold colours, not weights: 0..253 along the palette, 254 masked, 255 missing.
constexpr unsigned char kThumbMasked = 254, kThumbMissing = 255;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

std::int64_t maps_of(const AttentionSite& s) { return s.weights.size(0) * s.weights.size(1); }

std::uint64_t stored_bytes(const AttentionSite& s, std::int64_t block, PagePrecision precision) {
  const auto cells = static_cast<std::uint64_t>(maps_of(s) * ceil_div(s.weights.size(2), block) * ceil_div(s.weights.size(3), block));
  return base64_size(cells * static_cast<std::uint64_t>(precision));
}

std::int64_t longest_side(const AttentionSite& s) { return std::max(s.weights.size(2), s.weights.size(3)); }

// The box averages of a row-major [rows, cols] map in blocks of `block`
// (the last ones smaller): the mean of a block's finite values, NaN where it has none.
std::vector<float> box_means(const float* map, std::int64_t rows, std::int64_t cols, std::int64_t block) {
  const std::int64_t out_rows = ceil_div(rows, block), out_cols = ceil_div(cols, block);
  std::vector<double> sum(static_cast<std::size_t>(out_rows * out_cols), 0.0);
  std::vector<std::int64_t> count(sum.size(), 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = map + r * cols;
    const std::int64_t base = (r / block) * out_cols;
    for (std::int64_t c = 0; c < cols; ++c) {
      if (!std::isfinite(row[c])) continue;
      sum[static_cast<std::size_t>(base + c / block)] += row[c];
      ++count[static_cast<std::size_t>(base + c / block)];
    }
  }
  std::vector<float> out(sum.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = count[i] ? static_cast<float>(sum[i] / static_cast<double>(count[i])) : std::numeric_limits<float>::quiet_NaN();
  }
  return out;
}

// Appends `values` as the plan stores them (little-endian).
void append_encoded(std::string& out, const float* values, std::size_t n, PagePrecision precision, double unit) {
  if (precision == PagePrecision::kFloat32) {
    const std::size_t at = out.size();
    out.resize(at + n * 4);
    for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, &values[i], 4);
      for (int b = 0; b < 4; ++b) out[at + i * 4 + static_cast<std::size_t>(b)] = static_cast<char>(bits >> (8 * b) & 0xff);
    }
    return;
  }
  const unsigned top = precision == PagePrecision::kUint16 ? kTop16 : kTop8;
  for (std::size_t i = 0; i < n; ++i) {
    const float v = values[i];
    unsigned code = top + 1;
    if (v == 0) {
      code = 0;
    } else if (std::isfinite(v)) {
      code = static_cast<unsigned>(std::clamp(std::lround(v / unit), 1L, static_cast<long>(top)));
    }
    out += static_cast<char>(code & 0xff);
    if (precision == PagePrecision::kUint16) out += static_cast<char>(code >> 8);
  }
}

double finite_max(const float* values, std::size_t n) {
  double top = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isfinite(values[i])) top = std::max(top, static_cast<double>(values[i]));
  }
  return top;
}

// Every map of a site's contiguous `weights` (input, window, head), in
// blocks, as the plan stores them.
std::string site_blob(const at::Tensor& weights, std::int64_t block, PagePrecision precision, double unit) {
  const float* data = weights.data_ptr<float>();
  const std::int64_t rows = weights.size(2), cols = weights.size(3), maps = weights.size(0) * weights.size(1);
  std::string out;
  out.reserve(static_cast<std::size_t>(maps * ceil_div(rows, block) * ceil_div(cols, block)) * static_cast<std::size_t>(precision));
  for (std::int64_t m = 0; m < maps; ++m) {
    const float* map = data + m * rows * cols;
    if (block == 1) {
      append_encoded(out, map, static_cast<std::size_t>(rows * cols), precision, unit);
    } else {
      const std::vector<float> means = box_means(map, rows, cols, block);
      append_encoded(out, means.data(), means.size(), precision, unit);
    }
  }
  return out;
}

// The colour of `v` on `scale`, as 0..253 along the palette.
unsigned char thumb_code(float v, const WeightScale& scale) {
  if (std::isnan(v)) return kThumbMissing;
  if (v == 0) return kThumbMasked;
  double t;
  if (scale.log) {
    const double lo = std::log10(scale.lo), hi = std::log10(scale.hi);
    t = (std::log10(std::max(static_cast<double>(v), scale.lo)) - lo) / std::max(hi - lo, 1e-12);
  } else {
    t = (v - scale.lo) / std::max(scale.hi - scale.lo, 1e-12);
  }
  return static_cast<unsigned char>(std::lround(std::clamp(t, 0.0, 1.0) * 253));
}

// Each input's thumbnails of a site (its mosaic for windowed sites), each
// head on its own scale as the overview figure draws them.
nlohmann::json site_thumbs(const AttentionSite& site, ColourScale wanted, std::string& blob) {
  std::int64_t rows = 0, cols = 0;
  for (std::int64_t b = 0; b < site.batch; ++b) {
    const at::Tensor mosaic = drawn_weights(site, b).contiguous();  // [heads, R, C]
    const std::int64_t r = mosaic.size(1), c = mosaic.size(2);
    const std::int64_t block = ceil_div(std::max(r, c), kThumbSide);
    rows = ceil_div(r, block), cols = ceil_div(c, block);
    for (std::int64_t h = 0; h < site.heads; ++h) {
      const at::Tensor map = mosaic[h];
      const WeightScale scale = choose_scale({map}, wanted);
      const std::vector<float> means = box_means(map.data_ptr<float>(), r, c, block);
      for (float v : means) blob += static_cast<char>(thumb_code(v, scale));
    }
  }
  return {{"rows", rows}, {"cols", cols}};
}

nlohmann::json scale_json(const WeightScale& scale) {
  return {{"lo", scale.lo}, {"hi", scale.hi}, {"log", scale.log}, {"note", scale.note}};
}

// A site's description; its stored weights are blob "w<index>", its thumbnails "t<index>".
nlohmann::json site_json(const AttentionSite& site, std::size_t index, const AttentionPageOptions& options) {
  const auto [grid_rows, grid_cols] = grid_of(site);
  const auto tokens = static_cast<std::int64_t>(options.tokens.size());
  const bool windowed = site.windows > 1;
  nlohmann::json elements = nlohmann::json::array();
  for (std::int64_t b = 0; b < site.batch; ++b) elements.push_back(element_text(site, b));
  // The scale of the input shown first, over its heads and their mean, as its figure chooses it.
  const std::int64_t shown = std::min(options.batch_index, site.batch - 1);
  const at::Tensor heads = drawn_weights(site, shown);
  std::vector<at::Tensor> maps;
  for (std::int64_t h = 0; h < site.heads; ++h) maps.push_back(heads[h]);
  if (site.heads > 1) maps.push_back(heads.mean(/*dim=*/0));
  return {{"name", site.name},
          {"path", site.path},
          {"heads", site.heads},
          {"batch", site.batch},
          {"windows", site.windows},
          {"neighbours", site.neighbours},
          {"grid", {grid_rows, grid_cols}},
          {"elements", elements},
          {"queries", site.weights.size(2)},
          {"keys", site.weights.size(3)},
          {"query_tokens", !windowed && site.weights.size(2) == tokens},
          {"key_tokens", !windowed && site.weights.size(3) == tokens},
          {"scale", scale_json(choose_scale(maps, options.scale))},
          {"weights", "w" + std::to_string(index)},
          {"thumbs", "t" + std::to_string(index)}};
}

std::string megabytes(double bytes) { return number_text("%.3g", bytes / 1e6) + " MB"; }


}  // namespace

PagePlan plan_page(const std::vector<AttentionSite>& sites, double budget) {
  PagePlan plan;
  plan.blocks.assign(sites.size(), 1);
  const auto total = [&](PagePrecision precision, const std::vector<std::int64_t>& blocks) {
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < sites.size(); ++i) bytes += stored_bytes(sites[i], blocks[i], precision);
    return bytes;
  };
  for (PagePrecision precision : {PagePrecision::kFloat32, PagePrecision::kUint16, PagePrecision::kUint8}) {
    plan.precision = precision;
    plan.bytes = total(precision, plan.blocks);
    if (static_cast<double>(plan.bytes) <= budget) return plan;
  }
  // The longest side every map keeps: the largest that fits, found by bisection.
  const auto blocks_for = [&](std::int64_t side) {
    std::vector<std::int64_t> blocks;
    for (const auto& s : sites) blocks.push_back(ceil_div(longest_side(s), side));
    return blocks;
  };
  std::int64_t longest = kLeastSide;
  for (const auto& s : sites) longest = std::max(longest, longest_side(s));
  if (static_cast<double>(total(PagePrecision::kUint8, blocks_for(kLeastSide))) > budget) {
    throw bad_input("the attention page",
                    "its " + std::to_string(sites.size()) + " sites do not fit in " + megabytes(std::max(budget, 0.0)) +
                        " even as maps of " + std::to_string(kLeastSide) + " cells a side",
                    "raise --page-budget, or choose sites with --layer REGEX");
  }
  std::int64_t fits = kLeastSide, fails = longest;
  while (fails - fits > 1) {
    const std::int64_t mid = fits + (fails - fits) / 2;
    (static_cast<double>(total(PagePrecision::kUint8, blocks_for(mid))) <= budget ? fits : fails) = mid;
  }
  plan.blocks = blocks_for(fits);
  plan.bytes = total(PagePrecision::kUint8, plan.blocks);
  return plan;
}

Document attention_page(const std::vector<AttentionSite>& sites, const AttentionPageOptions& options) {
  nlohmann::json data;
  data["model"] = file_label(options.model);
  data["tokens"] = options.tokens;
  data["batch_index"] = options.batch_index;
  data["palette"] = plot::palette_stops(options.palette);
  data["budget"] = options.budget_bytes;
  // Thumbnails first: what they take comes off the weights' share.
  std::vector<std::string> thumbs(sites.size());
  data["sites"] = nlohmann::json::array();
  std::vector<nlohmann::json> described(sites.size());
  rethrow_first(for_each_index(sites.size(), [&](std::size_t i) {
    described[i] = site_json(sites[i], i, options);
    described[i]["thumb"] = site_thumbs(sites[i], options.scale, thumbs[i]);
  }));
  for (auto& d : described) data["sites"].push_back(std::move(d));
  const PageAssets& code = page_assets::kAttention;
  double fixed = static_cast<double>(std::strlen(code.body) + std::strlen(code.style) + std::strlen(code.script) +
                                     script_json(data).size()) +
                 4096.0 + 160.0 * static_cast<double>(sites.size());
  for (const auto& t : thumbs) fixed += static_cast<double>(base64_size(t.size()) + 80);
  const PagePlan plan = plan_page(sites, options.budget_bytes - fixed);
  // The stored bytes, their base64 in the page, and the page while it is
  // put together: about three copies of the weights' share.
  check_memory(3.0L * static_cast<long double>(plan.bytes) + static_cast<long double>(fixed), "the attention page",
               "making a page of " + megabytes(static_cast<double>(plan.bytes) + fixed),
               "lower --page-budget, or choose sites with --layer REGEX");

  static const char* precision_names[] = {"", "uint8", "uint16", "", "float32"};
  data["precision"] = precision_names[static_cast<int>(plan.precision)];
  std::vector<std::string> blobs(sites.size());
  nlohmann::json& site_data = data["sites"];  // each thread fills its own element
  rethrow_first(for_each_index(sites.size(), [&](std::size_t i) {
    const AttentionSite& s = sites[i];
    const at::Tensor weights = s.weights.contiguous();
    const double top = finite_max(weights.data_ptr<float>(), static_cast<std::size_t>(weights.numel()));
    const double unit = plan.precision == PagePrecision::kUint16 ? top / kTop16
                        : plan.precision == PagePrecision::kUint8 ? top / kTop8
                                                                  : 0.0;
    nlohmann::json& d = site_data[i];
    d["block"] = plan.blocks[i];
    d["rows"] = ceil_div(s.weights.size(2), plan.blocks[i]);
    d["cols"] = ceil_div(s.weights.size(3), plan.blocks[i]);
    d["unit"] = unit > 0 ? unit : 1.0;
    blobs[i] = site_blob(weights, plan.blocks[i], plan.precision, unit > 0 ? unit : 1.0);
  }));
  HtmlPage page;
  page.title = "pevis attention: " + file_label(options.model);
  page.assets = code;
  page.data = &data;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    page.blobs.emplace_back("t" + std::to_string(i), std::move(thumbs[i]));
    page.blobs.emplace_back("w" + std::to_string(i), std::move(blobs[i]));
  }
  return {"attention", "html", html_document(page)};
}

}  // namespace pevis
