#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "pevis/bias/bias.h"
#include "pevis/output/products.h"

namespace pevis {

/// What `pevis bias` shows of one or more files.
struct BiasViews {
  /// One file: `bias` pages (a scatter panel per vector), `bias-hist` pages
  /// (each vector's distribution). Two or more: `bias-compare` pages (first
  /// and last file overlaid, and their difference; data `bias-delta`,
  /// `bias-changes`), and for three or more `bias-drift` pages (each vector's
  /// quantiles over the files; data `bias-drift`). Always `bias` (long
  /// values: file, layer, index, value) and `bias-stats` data.
  std::vector<Product> products;
  Table shown;                   ///< the table for the terminal: the statistics, or the changes
  BiasComparison comparison;     ///< first against last file, when there are two or more
  std::size_t nonfinite = 0;     ///< NaN and Inf values in every file
  std::vector<std::string> nonfinite_layers;  ///< where they are ("file:layer" for several files)
};

/// Builds the views of the vectors of each file (`sets`, labelled by
/// `labels`), pages of at most `per_page` panels; with `figures` false no
/// figure page is made (the tables and data are the same).
BiasViews bias_views(const std::vector<std::string>& labels, const std::vector<std::vector<BiasVector>>& sets,
                     std::size_t per_page, bool figures = true);

/// A table as aligned text: the first column (and `file`) to the left,
/// numbers to the right at four significant digits.
std::string table_text(const Table& table);

}  // namespace pevis
