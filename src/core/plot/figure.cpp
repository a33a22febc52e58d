#include "pevis/plot/figure.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "pevis/base/utf8.h"

namespace pevis::plot {

namespace {

std::vector<std::string> split_dots(const std::string& name) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto dot = name.find('.', start);
    parts.push_back(name.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

std::string join_dots(const std::vector<std::string>& parts, std::size_t first, std::size_t end) {
  std::string out;
  for (std::size_t i = first; i < end; ++i) out += (i > first ? "." : "") + parts[i];
  return out;
}

}  // namespace

int square_grid_columns(std::size_t panels) {
  // About square, then one column more where that leaves fewer empty slots
  // (3 panels in a row, not 2 over 1 beside an empty slot).
  const int square = std::max(1, static_cast<int>(std::ceil(std::sqrt(static_cast<double>(panels)))));
  const auto empty = [panels](int columns) {
    const std::size_t c = static_cast<std::size_t>(columns);
    return (panels + c - 1) / c * c - panels;
  };
  return empty(square + 1) < empty(square) && panels > 2 ? square + 1 : square;
}

std::size_t display_width(const std::string& text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += !is_utf8_continuation(c);
  return n;
}

DistinctNames distinct_parts(const std::vector<std::string>& names) {
  DistinctNames whole{names, ""};
  if (names.size() < 2) return whole;
  std::vector<std::vector<std::string>> split;
  std::size_t shortest = SIZE_MAX;
  for (const auto& n : names) split.push_back(split_dots(n)), shortest = std::min(shortest, split.back().size());
  // Shared leading and trailing parts, leaving at least one part of each name.
  std::size_t head = 0, tail = 0;
  const auto same_at = [&](auto index) {
    for (const auto& parts : split) {
      if (parts[index(parts)] != split[0][index(split[0])]) return false;
    }
    return true;
  };
  while (head + 1 < shortest && same_at([&](const auto&) { return head; })) ++head;
  while (head + tail + 1 < shortest && same_at([&](const auto& parts) { return parts.size() - 1 - tail; })) ++tail;
  if (head + tail == 0) return whole;
  DistinctNames out;
  for (const auto& parts : split) out.names.push_back(join_dots(parts, head, parts.size() - tail));
  std::vector<std::string> sorted = out.names;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return whole;
  const std::string prefix = join_dots(split[0], 0, head), suffix = join_dots(split[0], split[0].size() - tail, split[0].size());
  out.pattern = (prefix.empty() ? "" : prefix + ".") + "*" + (suffix.empty() ? "" : "." + suffix);
  return out;
}

std::vector<std::string> palette_stops(Palette palette) {
  switch (palette) {
    case Palette::kViridis:
      return {"#440154", "#472c7a", "#3b518b", "#2c718e", "#21908d", "#27ad81", "#5cc863", "#aadc32", "#fde725"};
    case Palette::kMagma:
      return {"#000004", "#1c1044", "#4f127b", "#812581", "#b5367a", "#e55064", "#fb8761", "#fec287", "#fcfdbf"};
    case Palette::kGray:
      return {"#000000", "#ffffff"};
    case Palette::kDiverging:
      return {"#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"};
  }
  return {};
}

std::optional<Palette> parse_palette(const std::string& name) {
  if (name == "viridis") return Palette::kViridis;
  if (name == "magma") return Palette::kMagma;
  if (name == "gray" || name == "grey") return Palette::kGray;
  if (name == "diverging") return Palette::kDiverging;
  return std::nullopt;
}

std::optional<Format> parse_format(const std::string& name) {
  if (name == "png") return Format::kPng;
  if (name == "svg") return Format::kSvg;
  if (name == "pdf") return Format::kPdf;
  if (name == "txt") return Format::kText;
  return std::nullopt;
}

std::string extension(Format format) {
  switch (format) {
    case Format::kPng: return "png";
    case Format::kSvg: return "svg";
    case Format::kPdf: return "pdf";
    case Format::kText: return "txt";
  }
  return "png";
}

namespace {

// Start index of block `i` when `n` items are cut into `blocks` nearly equal blocks.
std::size_t block_start(std::size_t i, std::size_t n, std::size_t blocks) {
  return static_cast<std::size_t>((static_cast<unsigned long long>(i) * n) / blocks);
}

}  // namespace

LabeledMatrix box_average(const LabeledMatrix& m, std::size_t max_rows, std::size_t max_cols) {
  max_rows = std::max<std::size_t>(max_rows, 1);
  max_cols = std::max<std::size_t>(max_cols, 1);
  if (m.rows <= max_rows && m.cols <= max_cols) return m;
  const std::size_t out_rows = std::min(m.rows, max_rows);
  const std::size_t out_cols = std::min(m.cols, max_cols);

  LabeledMatrix out;
  out.name = m.name;
  out.row_title = m.row_title;
  out.rows = out_rows;
  out.cols = out_cols;
  out.values.assign(out_rows * out_cols, 0.0f);
  for (std::size_t r = 0; r < out_rows; ++r) out.row_labels.push_back(m.row_labels[block_start(r, m.rows, out_rows)]);
  for (std::size_t c = 0; c < out_cols; ++c) out.col_labels.push_back(m.col_labels[block_start(c, m.cols, out_cols)]);

  // Sum each input row into its column blocks (contiguous runs), then the
  // rows into row blocks: one pass over the input, in double so long blocks
  // keep their precision.
  std::vector<double> row_sums(out_cols);
  std::vector<std::size_t> col_start(out_cols + 1);
  for (std::size_t c = 0; c <= out_cols; ++c) col_start[c] = block_start(c, m.cols, out_cols);
  for (std::size_t r = 0; r < out_rows; ++r) {
    const std::size_t r0 = block_start(r, m.rows, out_rows), r1 = block_start(r + 1, m.rows, out_rows);
    std::fill(row_sums.begin(), row_sums.end(), 0.0);
    for (std::size_t i = r0; i < r1; ++i) {
      const float* row = &m.values[i * m.cols];
      for (std::size_t c = 0; c < out_cols; ++c) {
        double sum = 0;
        for (std::size_t k = col_start[c]; k < col_start[c + 1]; ++k) sum += row[k];
        row_sums[c] += sum;
      }
    }
    for (std::size_t c = 0; c < out_cols; ++c) {
      const std::size_t width = col_start[c + 1] - col_start[c];
      out.values[r * out_cols + c] = static_cast<float>(row_sums[c] / static_cast<double>(width * (r1 - r0)));
    }
  }
  return out;
}

std::size_t whole_factor_side(std::size_t n, std::size_t at_least) {
  for (std::size_t k = n / std::max<std::size_t>(at_least, 1); k > 1; --k) {
    if (n % k == 0) return n / k;
  }
  return n;
}

}  // namespace pevis::plot
