#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pevis/output/products.h"
#include "pevis/summary/summary.h"

namespace pevis {

/// How the structure table is shown.
struct SummaryViewOptions {
  int depth = 3;              ///< modules deeper than this fold into their parent
  bool fold_repeats = false;  ///< alike numbered siblings shown once, with (xN)
  bool ascii = false;         ///< the tree drawn with ASCII characters
  bool verbose = false;       ///< input shapes too
  bool weights_only = false;  ///< a file without a forward pass: Params, Dtype, Size columns
  std::string root_name;      ///< the root's name when the file gives no class (the file's name)
};

/// A row as shown: a row at the depth limit (and a folded one) carries
/// everything below it.
struct ShownRow {
  const SummaryRow* row = nullptr;
  std::int64_t params = 0, trainable = 0, mult_adds = 0;
  int repeats = 1;
  int parent = -1;    ///< index of the shown parent, -1 for the root
  bool last = true;   ///< the last shown child of its parent
};

/// The rows of `summary` to show, at most `depth` deep, repeats folded when asked.
std::vector<ShownRow> shown_rows(const Summary& summary, const SummaryViewOptions& options);

/// Each module's trainable parameters with everything below it, by path.
std::vector<std::int64_t> subtree_trainable(const Summary& summary);

/// Tensor shapes as the table writes them: "[1, 8, 16], [1, 8]".
std::string shape_text(const std::vector<std::vector<std::int64_t>>& shapes);

/// The totals by name (total_params, trainable_params, ...), as the totals
/// data file and the JSON summary give them.
std::vector<std::pair<std::string, std::int64_t>> named_totals(const SummaryTotals& totals);

/// The table and totals as text, torchinfo-style, ending with a note of what
/// the table lacks (a forward pass, or weights-only files).
std::string summary_text(const Summary& summary, const std::vector<ShownRow>& rows, const SummaryViewOptions& options,
                         const std::string& format);

/// The products: `summary` (parameters per shown module, on a log scale when
/// they span more than two decades, and mult-adds per module beside them
/// after a forward pass; data `summary.csv` with own and subtree counts of
/// every module, and `summary-totals.csv`). The figure is empty when
/// `figures` is false or no shown module has parameters.
std::vector<Product> summary_products(const Summary& summary, const std::vector<ShownRow>& rows,
                                      const SummaryViewOptions& options, bool figures = true);

/// `summary.html`: every module of the tree in one self-contained page, as
/// rows that fold and unfold (open to `options.depth`), with the table's
/// columns, sortable within each parent, a name filter, and the totals. Names
/// are data: escaped JSON, shown as text only.
Document summary_page(const Summary& summary, const SummaryViewOptions& options, const std::string& model);

}  // namespace pevis
