#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <streambuf>
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
};

/// A figure and the numbers behind it, each matrix and table written as
/// `<name>.<csv|json>`. A product whose figure has no panels writes data only.
struct Product {
  plot::Figure figure;
  std::vector<LabeledMatrix> data;
  std::vector<Table> tables;
};

/// One file that was written.
struct WrittenFile {
  std::string path;
  std::string kind;    ///< "figure", "data" or "script"
  std::string format;  ///< "png", "csv", "gp", ...
};

/// What a run asked to have made: the part of the output options a job
/// needs (whether to make figures and data at all, the figures' size).
struct Wanted {
  bool figures = true;
  bool data = true;
  std::optional<plot::Size> size;  ///< unset: each figure's own
};

/// What a subcommand's job returns: its products, the description of the
/// run (`--json`), the text it shows, and a check the user asked for that
/// failed, to be raised once the products are written.
struct JobResult {
  std::vector<Product> products;
  nlohmann::json summary;
  std::string text;
  std::optional<std::pair<std::string, std::string>> failed_check;  ///< what was checked, what failed (exit 5)
  std::string closing_text;  ///< shown after the files are written (a check that passed)
};

/// What a job says while it runs; whoever calls decides where it goes.
struct Progress {
  std::function<void(const std::string&)> status;  ///< the step under way ("running MODEL and capturing attention")
  std::function<void(const std::string&)> text;    ///< text for the reader as it comes (--verbose details, notes)

  void say(const std::string& line) const {
    if (status) status(line);
  }
  void show(const std::string& lines) const {
    if (text) text(lines);
  }
};

/// A stream whose every write goes to `Progress::show` at once, for text a
/// job says as it goes (in the order it says it).
class ShownText : public std::ostream {
 public:
  explicit ShownText(const Progress& progress) : std::ostream(nullptr), buffer_(progress) { rdbuf(&buffer_); }

 private:
  struct Buffer : std::streambuf {
    explicit Buffer(const Progress& p) : progress(p) {}
    int overflow(int c) override {
      if (c != traits_type::eof()) progress.show(std::string(1, static_cast<char>(c)));
      return c;
    }
    std::streamsize xsputn(const char* text, std::streamsize n) override {
      progress.show(std::string(text, static_cast<std::size_t>(n)));
      return n;
    }
    const Progress& progress;
  };
  Buffer buffer_;
};

/// Makes the output folder and its parents. Throws `pevis::Error` (exit 4)
/// when it cannot.
void make_folder(const std::string& folder);

/// Writes the scripts (when asked), then draws every figure of the run with
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
