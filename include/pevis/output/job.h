#pragma once
// What a subcommand's job is asked for and returns (the `<sub>_job.h`
// headers): no LibTorch, so the front executable runs the jobs that need no
// model.

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

#include "pevis/output/products.h"

namespace pevis {

/// What a run asked to have made: the part of the output options a job
/// needs (whether to make figures and data at all, the figures' size).
struct Wanted {
  bool figures = true;
  bool data = true;
  std::optional<plot::Size> size;  ///< unset: each figure's own
  bool page = false;               ///< the interactive HTML page, where the subcommand has one
  std::optional<plot::Palette> palette;  ///< unset: each figure's own
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

  /// Passes `line` to `status`, if set.
  void say(const std::string& line) const;
  /// Passes `lines` to `text`, if set.
  void show(const std::string& lines) const;
};

/// A stream whose every write goes to `Progress::show` at once, for text a
/// job says as it goes (in the order it says it).
class ShownText : public std::ostream {
 public:
  explicit ShownText(const Progress& progress) : std::ostream(nullptr), buffer_(progress) { rdbuf(&buffer_); }

 private:
  struct Buffer : std::streambuf {
    explicit Buffer(const Progress& p) : progress(p) {}
    int overflow(int c) override;
    std::streamsize xsputn(const char* text, std::streamsize n) override;
    const Progress& progress;
  };
  Buffer buffer_;
};

}  // namespace pevis
