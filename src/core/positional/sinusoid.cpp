#include "pevis/positional/sinusoid.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <sstream>

#include "pevis/base/error.h"
#include "pevis/base/parallel.h"

namespace pevis {

#if defined(__x86_64__)
namespace detail {
void exp_avx2(float* div, std::int64_t count);
void sinusoid_rows_avx2(const float* div, std::int64_t pairs, std::int64_t padded, std::int64_t first, std::int64_t rows,
                        float* scratch, float* out);
}  // namespace detail
#endif

void check_sinusoidal_spec(const SinusoidalSpec& spec, const MemoryBudget& budget, std::uint64_t extra_bytes) {
  if (spec.d_model <= 0 || spec.d_model % 2 != 0) {
    throw bad_input("--d-model " + std::to_string(spec.d_model),
                    "the width must be a positive even number (sin and cos fill alternate dimensions)",
                    "use for example --d-model 512");
  }
  if (spec.max_len <= 0) {
    throw bad_input("--max-len " + std::to_string(spec.max_len), "the number of positions must be positive",
                    "use for example --max-len 5000");
  }
  if (!std::isfinite(spec.base) || spec.base <= 1.0) {
    std::ostringstream value;
    value << spec.base;
    throw bad_input("--base " + value.str(), "the base must be a finite number above 1",
                    "the usual base is 10000");
  }
  // The table and the position/angle temporaries that exist while it is computed.
  const long double needed =
      4.0L * static_cast<long double>(spec.max_len) * static_cast<long double>(spec.d_model) * 3.0L + extra_bytes;
  if (needed > static_cast<long double>(budget.bytes)) {
    throw bad_input("--max-len " + std::to_string(spec.max_len) + " --d-model " + std::to_string(spec.d_model),
                    "the table and its copies would need about " + human_bytes(needed) + " of memory, and " +
                        human_bytes(budget.bytes) + " is left under " + budget.limited_by,
                    "choose a smaller size, or show part of it with --positions A:B, --data none and --format none");
  }
}

bool sinusoid_uses_sleef() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

std::vector<float> sinusoid_values(const SinusoidalSpec& spec) {
  assert(spec.d_model > 0 && spec.d_model % 2 == 0 && spec.max_len > 0);
  const std::int64_t pairs = spec.d_model / 2;
  const std::int64_t padded = (pairs + 7) / 8 * 8;
  // arange(0, D, 2) in float32 times the double scalar, which LibTorch's
  // kernel rounds to float first.
  const float scale = static_cast<float>(-std::log(spec.base) / static_cast<double>(spec.d_model));
  std::vector<float> div(static_cast<std::size_t>(padded), 0.0f);
  for (std::int64_t i = 0; i < pairs; ++i) div[static_cast<std::size_t>(i)] = static_cast<float>(2 * i) * scale;
  std::vector<float> table(static_cast<std::size_t>(spec.max_len * spec.d_model));
  const bool sleef = sinusoid_uses_sleef();
#if defined(__x86_64__)
  if (sleef) detail::exp_avx2(div.data(), padded);
#endif
  if (!sleef) {
    for (auto& v : div) v = std::exp(v);
  }
  // Rows in blocks over the cores; each block is independent.
  const std::int64_t block = 256;
  const std::int64_t blocks = (spec.max_len + block - 1) / block;
  rethrow_first(for_each_index(static_cast<std::size_t>(blocks), [&](std::size_t b) {
    const std::int64_t first = static_cast<std::int64_t>(b) * block;
    const std::int64_t rows = std::min(block, spec.max_len - first);
    float* out = table.data() + first * spec.d_model;
#if defined(__x86_64__)
    if (sleef) {
      std::vector<float> scratch(static_cast<std::size_t>(2 * padded));
      detail::sinusoid_rows_avx2(div.data(), pairs, padded, first, rows, scratch.data(), out);
      return;
    }
#endif
    for (std::int64_t r = 0; r < rows; ++r) {
      const float position = static_cast<float>(first + r);
      float* row = out + r * spec.d_model;
      for (std::int64_t i = 0; i < pairs; ++i) {
        const float angle = position * div[static_cast<std::size_t>(i)];
        row[2 * i] = std::sin(angle);
        row[2 * i + 1] = std::cos(angle);
      }
    }
  }));
  return table;
}

std::vector<float> row_similarity(const float* table, std::int64_t rows, std::int64_t width, Similarity kind) {
  std::vector<double> scale(static_cast<std::size_t>(rows), 1.0);
  if (kind == Similarity::kCosine) {
    for (std::int64_t r = 0; r < rows; ++r) {
      double sum = 0;
      for (std::int64_t d = 0; d < width; ++d) sum += static_cast<double>(table[r * width + d]) * table[r * width + d];
      scale[static_cast<std::size_t>(r)] = 1.0 / std::max(std::sqrt(sum), 1e-12);
    }
  }
  std::vector<float> out(static_cast<std::size_t>(rows * rows));
  rethrow_first(for_each_index(static_cast<std::size_t>(rows), [&](std::size_t r) {
    const float* a = table + static_cast<std::int64_t>(r) * width;
    for (std::int64_t c = static_cast<std::int64_t>(r); c < rows; ++c) {
      const float* b = table + c * width;
      double sum = 0;
      for (std::int64_t d = 0; d < width; ++d) sum += static_cast<double>(a[d]) * b[d];
      const auto v = static_cast<float>(sum * scale[r] * scale[static_cast<std::size_t>(c)]);
      out[r * static_cast<std::size_t>(rows) + static_cast<std::size_t>(c)] = v;
      out[static_cast<std::size_t>(c) * static_cast<std::size_t>(rows) + r] = v;
    }
  }));
  return out;
}

std::vector<std::int64_t> default_dims(std::int64_t d_model) {
  const auto even = [](std::int64_t v) { return v - v % 2; };
  std::vector<std::int64_t> dims = {0, 1, even(d_model / 8), even(d_model / 4), even(d_model / 2), d_model - 2};
  std::vector<std::int64_t> unique;
  for (auto d : dims) {
    if (d >= 0 && d < d_model && std::find(unique.begin(), unique.end(), d) == unique.end()) unique.push_back(d);
  }
  return unique;
}

std::uint64_t encoding_copies_bytes(std::int64_t rows, std::int64_t cols, std::int64_t window, bool data, bool figures) {
  const long double cells = static_cast<long double>(rows) * static_cast<long double>(cols);
  const long double square = static_cast<long double>(window) * static_cast<long double>(window);
  const int copies = (data ? 1 : 0) + (figures ? 1 : 0);
  // A label is a short string: about 40 bytes with its bookkeeping.
  const long double labels = 40.0L * static_cast<long double>(rows + cols + 2 * window);
  // The similarity: the product and its temporaries (3), then its copies.
  const long double total = 4.0L * cells * copies + 4.0L * square * (3 + copies) + labels;
  return total >= 1.8e19L ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(total);
}

LabeledMatrix labeled(std::vector<float> values, std::size_t rows, std::size_t cols, std::string name,
                      std::string row_title, std::vector<std::string> row_labels, std::vector<std::string> col_labels) {
  assert(values.size() == rows * cols && row_labels.size() == rows && col_labels.size() == cols);
  LabeledMatrix m;
  m.name = std::move(name);
  m.row_title = std::move(row_title);
  m.rows = rows;
  m.cols = cols;
  m.row_labels = std::move(row_labels);
  m.col_labels = std::move(col_labels);
  m.values = std::move(values);
  return m;
}

}  // namespace pevis
