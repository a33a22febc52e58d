#pragma once

#include <signal.h>

#include <string>
#include <vector>

#include "pevis/plot/figure.h"

namespace pevis::plot {

/// Quotes any text for a gnuplot script: the only way user or model text
/// reaches gnuplot. Single quotes (no backquote or escape processing inside),
/// `'` doubled, control characters (newline, CR, tab, ...) replaced by a space,
/// invalid UTF-8 by U+FFFD and characters that reorder or hide text shown as
/// `⟨U+202E⟩` (`visible_text`). The result is one gnuplot string literal.
std::string quote(const std::string& text);

/// Where and how a rendered figure is drawn.
struct Target {
  Format format = Format::kPng;
  std::string output;  ///< file name relative to gnuplot's working folder; empty = stdout
  /// When set (and the format is not text), heatmap values are not written as
  /// text but as binary float32 files named `<binary_prefix>-<panel>.bin`,
  /// returned in `Script::files`: gnuplot reads those without parsing and
  /// without evaluating an expression per value, about three times faster.
  std::string binary_prefix;
  /// Whether the figure's numbers are written beside it: only then does a
  /// reduced figure's note point to the data file.
  bool data_written = true;
};

/// A binary file a script reads: its name relative to gnuplot's working
/// folder, and its bytes.
struct DataFile {
  std::string name;
  std::string bytes;
};

/// A rendered figure in three parts: settings up to the output file, the
/// datablocks holding the numbers drawn, and the commands that draw them.
/// The data can be moved to a file the body `load`s: gnuplot reads files
/// much faster than a pipe. With `Target::binary_prefix`, heatmaps read
/// `files` instead, which must be written before the script runs.
struct Script {
  std::string preamble;
  std::string data;
  std::string body;
  std::vector<DataFile> files;
  std::string text() const { return preamble + data + body; }
};

/// Renders `figure` as gnuplot text that draws it to `target`. Pure: the same
/// figure gives the same text. The data drawn is box-averaged where the figure
/// says so.
Script render(const Figure& figure, const Target& target);

/// The whole script, datablocks inline: runnable on its own.
std::string render_script(const Figure& figure, const Target& target);

/// The path of the gnuplot executable found on PATH, or "" when there is none.
std::string find_gnuplot();

/// Runs one gnuplot process with working folder `work_dir`, feeds it `script`
/// on standard input (no shell is involved) and waits. gnuplot's standard
/// output goes to file descriptor `stdout_fd`. Throws `pevis::Error` (exit 4)
/// when gnuplot is missing, cannot be started, or reports an error; the
/// message carries gnuplot's first error line.
void run_gnuplot(const std::string& script, const std::string& work_dir, int stdout_fd);

/// While it lives, SIGPIPE is ignored, so that writing to a gnuplot that died
/// early gives an error instead of ending pevis; then what was set before is
/// set again (a guard inside another restores "ignore").
class IgnoreSigpipe {
 public:
  IgnoreSigpipe();
  ~IgnoreSigpipe();
  IgnoreSigpipe(const IgnoreSigpipe&) = delete;
  IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;

 private:
  struct sigaction previous_ {};
};

}  // namespace pevis::plot
