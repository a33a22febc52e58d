#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "pevis/base/pattern.h"
#include "pevis/base/text.h"
#include "pevis/output/job.h"

namespace CLI {
class App;  // CLI/CLI.hpp: only the files that add options include it
}  // namespace CLI

namespace pevis::cli {

/// The output options every subcommand shares, as given on the command line.
struct OutputOptions {
  std::string out_dir = "pevis-out";
  std::optional<plot::Format> format = plot::Format::kPng;  ///< nothing: no figures (--format none)
  DataFormat data = DataFormat::kCsv;
  bool script = false;
  std::string size_text;                 ///< --size as given, until `parse_output_options`
  std::optional<plot::Size> size;        ///< unset: each figure's own size (1200x800 for most)
  std::optional<plot::Palette> palette;  ///< nothing: each figure's own (viridis for most)
  bool json = false;
  bool page = false;  ///< --format html (with or without a figure format): the interactive page
  std::uint64_t max_files = 10000;       ///< --max-files
  std::uint64_t max_bytes = 4'000'000'000ULL;  ///< --max-bytes

  bool figures() const { return format.has_value(); }
  bool writes_data() const { return data != DataFormat::kNone; }
};

/// Adds -o/--out, --format, --data, --script, --size, --palette, --json,
/// --max-files and --max-bytes to
/// a subcommand, in one option group. With `page`, --format also takes
/// `html` (alone or as `png,html`): the subcommand writes an interactive page.
void add_output_options(CLI::App& command, OutputOptions& options, bool page = false);

/// Parses what the options hold as text (--size) into types; throws
/// `pevis::Error` (exit 2) for a malformed `--size`.
void parse_output_options(OutputOptions& options);

/// Turns the options into a spec.
OutputSpec to_spec(const OutputOptions& options);

/// What a job needs to know of the output options.
Wanted wanted_of(const OutputOptions& options);

/// A job's progress for this run: its text on stdout (stderr with --json).
Progress human_progress(const OutputOptions& options);

/// Publishes a job's result: prints its text (on stdout, or stderr with
/// --json), writes its products (`publish`), then raises its failed check
/// (exit 5).
void publish(JobResult result, const OutputOptions& options);

/// Writes the products, prints each path written (on stdout, or on stderr
/// with --json) and, with --json, prints `summary` with a "files" list added
/// as one JSON object on stdout.
void publish(std::vector<Product> products, const OutputOptions& options, nlohmann::json summary);

/// Where human messages go: stdout, or stderr when --json keeps stdout for JSON.
std::ostream& human(const OutputOptions& options);

}  // namespace pevis::cli
