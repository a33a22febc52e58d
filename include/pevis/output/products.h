#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pevis/base/matrix.h"
#include "pevis/plot/figure.h"

namespace pevis {

/// Formats of the numbers written beside every figure. With kNpy, matrices
/// are `.npy` files (labels beside them in `.labels.json`) and tables CSV.
enum class DataFormat { kCsv, kJson, kNpy, kNone };

/// What a run writes and where: the shared output options of every subcommand.
struct OutputSpec {
  std::string dir = "pevis-out";
  std::optional<plot::Format> figures = plot::Format::kPng;  ///< nothing: no figures
  DataFormat data = DataFormat::kCsv;
  bool scripts = false;          ///< keep `<name>.gp` beside each figure
  std::optional<plot::Size> size;  ///< every figure's size; unset: each figure's own
  std::optional<plot::Palette> palette;  ///< every figure's colour map; unset: each figure's own
  int text_fd = 1;               ///< where text figures (--format txt) are drawn
  /// Told before long steps (a data file of tens of MB, drawing), so that a
  /// caller can show progress; may be empty.
  std::function<void(const std::string&)> on_progress;
  /// Told, before it is written, of every data file of `large_data_file`
  /// bytes or more, with its size; may be empty.
  std::function<void(const std::string&)> on_notice;
  double large_data_file = 1e9;
  /// Told, before anything is written, of a run that writes `large_total`
  /// bytes or more in all; `on_notice` hears it.
  double large_total = 1e9;
  /// The most a run may write: files, and bytes in all (estimated before
  /// anything is written, as `plan_output` does). A run that would write
  /// more writes nothing (exit 3). --max-files and --max-bytes.
  std::uint64_t max_files = 10000;
  std::uint64_t max_bytes = 4'000'000'000ULL;
};

/// What a run will write: how many files, and about how many bytes (data
/// files estimated from a sample of their values, `.npy` files and pages
/// exactly, figures as an eighth of a byte per pixel and scripts as 4 KB).
struct OutputPlan {
  std::uint64_t files = 0;
  long double bytes = 0;
};


/// A file written whole, as it is: `<name>.<format>` (an HTML page).
struct Document {
  std::string name;    ///< path in the output folder without its extension, e.g. "attention"
  std::string format;  ///< the extension, e.g. "html"
  std::string content;
};

/// A figure and the numbers behind it, each matrix and table written as
/// `<name>.<csv|json>`. A product whose figure has no panels writes data only.
/// Its documents are written whatever the figure and data formats.
struct Product {
  plot::Figure figure;
  std::vector<LabeledMatrix> data;
  std::vector<Table> tables;
  std::vector<Document> documents;
};

/// One file that was written.
struct WrittenFile {
  std::string path;
  std::string kind;    ///< "figure", "data", "script" or "page"
  std::string format;  ///< "png", "csv", "gp", ...
};

/// The plan of `write_products(products, spec, ...)`.
OutputPlan plan_output(const std::vector<Product>& products, const OutputSpec& spec);

/// Makes the output folder and its parents. Throws `pevis::Error` (exit 4)
/// when it cannot.
void make_folder(const std::string& folder);

/// Checks the plan against the spec's bounds (exit 3, nothing written, when
/// over) and announces a large total, then writes the scripts (when asked), then draws every figure of the run with
/// two gnuplot processes (one per core) while the data files are written on
/// every core. Every file appears complete or not at all. `on_written` is
/// told of every file written, the data files once all of them are done,
/// so that what was written is known even when drawing fails. Figures take
/// the spec's palette, and its size when it has one. Throws `pevis::Error`
/// (exit 4) when a file cannot be written or gnuplot is missing or fails;
/// the data files are still written when gnuplot is missing or fails.
void write_products(std::vector<Product> products, const OutputSpec& spec,
                    const std::function<void(const WrittenFile&)>& on_written);

}  // namespace pevis
