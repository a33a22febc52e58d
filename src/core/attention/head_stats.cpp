// Head statistics: each a mean over queries of a sum over keys, in float64,
// straight from their definitions (head_stats.h).
#include "pevis/attention/head_stats.h"

#include <ATen/core/Tensor.h>

#include <cmath>
#include <limits>

namespace pevis {

std::optional<RepeatedBlock> repeated_block(const std::vector<std::int64_t>& ids) {
  const auto n = static_cast<std::int64_t>(ids.size());
  for (const std::int64_t first : {std::int64_t{0}, std::int64_t{1}}) {
    const std::int64_t rest = n - first;
    if (rest < 4 || rest % 2 != 0) continue;
    const std::int64_t period = rest / 2;
    bool same = true;
    for (std::int64_t i = 0; i < period && same; ++i) same = ids[static_cast<std::size_t>(first + i)] == ids[static_cast<std::size_t>(first + period + i)];
    if (same) return RepeatedBlock{first, period};
  }
  return std::nullopt;
}

namespace {

// The side of the patch grid of a square map of `t` positions on an image:
// g where t = g*g or 1 + g*g (g >= 2), else 0; `offset` the positions before the grid.
std::int64_t grid_side(std::int64_t t, std::int64_t& offset) {
  for (const std::int64_t before : {std::int64_t{0}, std::int64_t{1}}) {
    const auto g = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(t - before))));
    if (g >= 2 && g * g == t - before) {
      offset = before;
      return g;
    }
  }
  return 0;
}

template <typename T>
HeadStatistics one_map(const T* a, std::int64_t t, std::int64_t s, const StatisticsContext& context) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  HeadStatistics h;
  const auto at = [&](std::int64_t q, std::int64_t k) { return static_cast<double>(a[q * s + k]); };
  double entropy = 0, distance = 0, sink = 0;
  for (std::int64_t q = 0; q < t; ++q) {
    double e = 0;
    for (std::int64_t k = 0; k < s; ++k) {
      const double w = at(q, k);
      if (w > 0) e -= w * std::log(w);
    }
    entropy += e;
    sink += at(q, 0);
  }
  h.entropy = t ? entropy / static_cast<double>(t) : nan;
  h.sink = t && s ? sink / static_cast<double>(t) : nan;
  std::int64_t offset = 0;
  const std::int64_t g = context.image && t == s ? grid_side(t, offset) : 0;
  if (g > 0) {
    for (std::int64_t q = offset; q < t; ++q) {
      const auto qr = static_cast<double>((q - offset) / g), qc = static_cast<double>((q - offset) % g);
      double d = 0;
      for (std::int64_t k = offset; k < s; ++k) {
        const auto kr = static_cast<double>((k - offset) / g), kc = static_cast<double>((k - offset) % g);
        d += at(q, k) * std::sqrt((qr - kr) * (qr - kr) + (qc - kc) * (qc - kc));
      }
      distance += d;
    }
    h.distance = distance / static_cast<double>(t - offset);
  } else {
    for (std::int64_t q = 0; q < t; ++q) {
      double d = 0;
      for (std::int64_t k = 0; k < s; ++k) d += at(q, k) * static_cast<double>(q > k ? q - k : k - q);
      distance += d;
    }
    h.distance = t ? distance / static_cast<double>(t) : nan;
  }
  h.self = h.prev = h.induction = nan;
  if (t == s && t > 0) {
    double self = 0, prev = 0;
    for (std::int64_t q = 0; q < t; ++q) self += at(q, q);
    for (std::int64_t q = 1; q < t; ++q) prev += at(q, q - 1);
    h.self = self / static_cast<double>(t);
    if (t > 1) h.prev = prev / static_cast<double>(t - 1);
    const auto& r = context.repeat;
    if (r && r->period >= 2 && r->first + 2 * r->period == t) {
      double induction = 0;
      for (std::int64_t q = r->first + r->period; q < t; ++q) induction += at(q, q - r->period + 1);
      h.induction = induction / static_cast<double>(r->period);
    }
  }
  return h;
}

template <typename T>
std::vector<HeadStatistics> all_heads(const at::Tensor& m, const StatisticsContext& context) {
  const std::int64_t windows = m.size(0), heads = m.size(1), t = m.size(2), s = m.size(3);
  const T* data = m.data_ptr<T>();
  std::vector<HeadStatistics> out(static_cast<std::size_t>(heads));
  for (std::int64_t h = 0; h < heads; ++h) {
    HeadStatistics sum;
    for (std::int64_t w = 0; w < windows; ++w) {
      const HeadStatistics one = one_map(data + (w * heads + h) * t * s, t, s, context);
      sum.entropy += one.entropy;
      sum.distance += one.distance;
      sum.sink += one.sink;
      sum.self += one.self;
      sum.prev += one.prev;
      sum.induction += one.induction;
    }
    const auto n = static_cast<double>(windows);
    out[static_cast<std::size_t>(h)] = {sum.entropy / n, sum.distance / n, sum.sink / n,
                                        sum.self / n,    sum.prev / n,     sum.induction / n};
  }
  return out;
}

}  // namespace

std::vector<HeadStatistics> head_statistics(const at::Tensor& maps, const StatisticsContext& context) {
  // Read in place where the weights are float32 or float64 already (a
  // 2048-token site is 128 MB per head in float32); summed in float64.
  if (maps.scalar_type() == at::kDouble) return all_heads<double>(maps.contiguous(), context);
  return all_heads<float>(maps.to(at::kFloat).contiguous(), context);
}

}  // namespace pevis
