#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "pevis/output/products.h"

namespace pevis::cli {

/// The output options every subcommand shares, as given on the command line.
struct OutputOptions {
  std::string out_dir = "pevis-out";
  std::optional<plot::Format> format = plot::Format::kPng;  ///< nothing: no figures (--format none)
  DataFormat data = DataFormat::kCsv;
  bool script = false;
  std::string size;                      ///< empty: each figure's own size (1200x800 for most)
  std::optional<plot::Palette> palette;  ///< nothing: each figure's own (viridis for most)
  bool json = false;

  bool figures() const { return format.has_value(); }
  bool writes_data() const { return data != DataFormat::kNone; }
};

/// Adds -o/--out, --format, --data, --script, --size, --palette and --json to
/// a subcommand, in one option group.
void add_output_options(CLI::App& command, OutputOptions& options);

/// Turns the options into a spec; throws `pevis::Error` (exit 2) for a
/// malformed `--size`.
OutputSpec to_spec(const OutputOptions& options);

/// Writes the products, prints each path written (on stdout, or on stderr
/// with --json) and, with --json, prints `summary` with a "files" list added
/// as one JSON object on stdout.
void publish(std::vector<Product> products, const OutputOptions& options, nlohmann::json summary);

/// Where human messages go: stdout, or stderr when --json keeps stdout for JSON.
std::ostream& human(const OutputOptions& options);

/// The last part of a path, as titles and labels name a file or folder
/// (`runs/a/model.pt` -> `model.pt`, `Qwen2-7B/` -> `Qwen2-7B`).
std::string file_label(const std::string& path);

/// `text` as a whole number (optional sign, digits only), or nothing.
std::optional<long long> whole_number(const std::string& text);

/// A regex option's pattern, compiled; nothing when empty. Throws
/// `pevis::Error` (exit 2) naming the option for a malformed pattern.
std::optional<std::regex> regex_option(const std::string& option, const std::string& pattern);

}  // namespace pevis::cli
