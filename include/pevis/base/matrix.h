#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace pevis {

/// A dense float matrix with a label for every row and column: the plain
/// value that analysis hands to the plot and export layers (neither of which
/// knows about tensors).
struct LabeledMatrix {
  std::string name;                     ///< base name of its files, e.g. "encoding"
  std::string row_title;                ///< what the rows are, e.g. "position"
  std::vector<std::string> row_labels;  ///< one per row
  std::vector<std::string> col_labels;  ///< one per column
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<float> values;            ///< row-major, rows * cols

  float at(std::size_t r, std::size_t c) const { return values[r * cols + c]; }
};

/// One cell of a table: text, a float32 value (written at float precision),
/// a double, or a whole number.
using Cell = std::variant<std::string, float, double, std::int64_t>;

/// Rows under named columns: the data behind figures that are not one
/// matrix (long formats such as `layer,index,value`, statistics).
struct Table {
  std::string name;  ///< base name of its files
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
};

/// Labels "first", "first+1", ... as strings: the usual labels of an index axis.
std::vector<std::string> index_labels(std::size_t count, long long first = 0);

}  // namespace pevis
