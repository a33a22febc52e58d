#include "output_options.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <iostream>
#include <optional>

#include "options.h"
#include "pevis/base/error.h"
#include "pevis/base/utf8.h"

namespace pevis::cli {
namespace {

// --format: one figure format, and where a page is made `html` beside it
// ("png,html"). Returns what is wrong, or "".
std::string parse_formats(const std::string& text, bool page, std::optional<plot::Format>& figures, bool& html) {
  bool figure_named = false;
  html = false;
  figures = plot::Format::kPng;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string name = text.substr(start, comma - start);
    start = comma + 1;
    if (name == "html" && page) {
      if (html) return "html is named twice";
      html = true;
      continue;
    }
    if (name == "html") return "html pages are made by pevis attention and pevis summary only";
    const std::optional<plot::Format> format = plot::parse_format(name);
    if (!format && name != "none") {
      return "'" + name + "' is not a format: expected png, svg, pdf, txt or none" + (page ? ", or html beside one" : "");
    }
    if (figure_named) return "one figure format at a time" + std::string(page ? " (and html beside it)" : "");
    figure_named = true;
    figures = format;
  }
  if (html && !figure_named) figures.reset();
  return "";
}

// --max-bytes: a number of bytes, with K, M, G or T (powers of 1000, as
// pevis says sizes: kB, MB, GB, TB).
std::optional<std::uint64_t> parse_byte_size(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && digits < 13 && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  static const std::string kUnits = "KMGT";
  const std::string unit = text.substr(digits);
  if (digits == 0 || unit.size() > 1 || (unit.size() == 1 && kUnits.find(unit[0]) == std::string::npos)) {
    return std::nullopt;
  }
  std::uint64_t bytes = std::stoull(text.substr(0, digits));
  const std::size_t powers = unit.empty() ? 0 : kUnits.find(unit[0]) + 1;
  for (std::size_t p = 0; p < powers; ++p) {
    if (bytes > UINT64_MAX / 1000) return std::nullopt;
    bytes *= 1000;
  }
  if (bytes == 0) return std::nullopt;
  return bytes;
}

}  // namespace

void add_output_options(CLI::App& command, OutputOptions& options, bool page) {
  const std::string group = "Output";
  command.add_option("-o,--out", options.out_dir, "folder for figures and data (created if missing)")
      ->capture_default_str()
      ->group(group);
  // Names become types here, at the door; IsMember gives the usual one-line error.
  command
      .add_option_function<std::string>(
          "--format",
          [&options, page](const std::string& text) { parse_formats(text, page, options.format, options.page); },
          page ? "figure format; txt draws on the terminal, none draws nothing; html (alone or as png,html) also writes "
                 "the interactive page"
               : "figure format; txt draws on the terminal, none draws nothing")
      ->check(CLI::Validator(
          [page](std::string& text) {
            std::optional<plot::Format> figures;
            bool html = false;
            return parse_formats(text, page, figures, html);
          },
          page ? "FORMAT[,html]" : "FORMAT"))
      ->default_str("png")
      ->group(group);
  command
      .add_option_function<std::string>(
          "--data",
          [&options](const std::string& name) {
            options.data = name == "json" ? DataFormat::kJson : name == "npy" ? DataFormat::kNpy : name == "none" ? DataFormat::kNone : DataFormat::kCsv;
          },
          "numbers beside every figure: csv, json, npy (matrices as NumPy .npy, labels in .labels.json) or none")
      ->check(CLI::IsMember({"csv", "json", "npy", "none"}))
      ->default_str("csv")
      ->group(group);
  command.add_flag("--script", options.script, "also keep NAME.gp, the gnuplot script of each figure")->group(group);
  command.add_option("--size", options.size_text, "figure size in pixels, WIDTHxHEIGHT (default 1200x800; grids of panels grow)")
      ->group(group);
  command
      .add_option_function<std::string>(
          "--palette", [&options](const std::string& name) { options.palette = plot::parse_palette(name); },
          "colour map: viridis, magma, gray, or diverging (default: viridis, diverging for signed biases)")
      ->check(CLI::IsMember({"viridis", "magma", "gray", "diverging"}))
      ->group(group);
  command.add_flag("--json", options.json, "print one JSON object describing the run on stdout")->group(group);
  command.add_option("--max-files", options.max_files, "write at most this many files; a run that would write more writes nothing")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10'000'000}))
      ->capture_default_str()
      ->group(group);
  command
      .add_option_function<std::string>(
          "--max-bytes", [&options](const std::string& text) { options.max_bytes = *parse_byte_size(text); },
          "write at most about this much in all, e.g. 500M or 20G; a run that would write more writes nothing")
      ->check(CLI::Validator(
          [](std::string& text) { return parse_byte_size(text) ? "" : "expected a size such as 800M or 20G"; }, "SIZE"))
      ->default_str("4G")
      ->group(group);
}

void parse_output_options(OutputOptions& options) {
  if (options.size_text.empty()) return;
  int width = 0, height = 0;
  char x = 0, rest = 0;
  constexpr int kMin = 64, kMax = 8192;
  if (std::sscanf(options.size_text.c_str(), "%d%c%d%c", &width, &x, &height, &rest) != 3 || (x != 'x' && x != 'X') ||
      width < kMin || height < kMin || width > kMax || height > kMax) {
    throw Error(ExitCode::kUsage, "--size " + options.size_text,
                "expected WIDTHxHEIGHT in pixels, each from " + std::to_string(kMin) + " to " + std::to_string(kMax),
                "for example --size 1200x800");
  }
  options.size = plot::Size{width, height};
}

OutputSpec to_spec(const OutputOptions& options) {
  OutputSpec spec;
  spec.dir = options.out_dir;
  spec.figures = options.format;
  spec.data = options.data;
  spec.scripts = options.script;
  spec.palette = options.palette;
  spec.size = options.size;
  spec.text_fd = options.json ? STDERR_FILENO : STDOUT_FILENO;
  spec.max_files = options.max_files;
  spec.max_bytes = options.max_bytes;
  return spec;
}

Wanted wanted_of(const OutputOptions& options) {
  Wanted wanted{options.figures(), options.writes_data(), options.size};
  wanted.page = options.page;
  wanted.palette = options.palette;
  return wanted;
}

std::ostream& human(const OutputOptions& options) { return options.json ? std::cerr : std::cout; }

void publish(std::vector<Product> products, const OutputOptions& options, nlohmann::json summary) {
  OutputSpec spec = to_spec(options);
  // Progress is for people watching a terminal, on stderr, never mixed with data.
  if (::isatty(STDERR_FILENO)) spec.on_progress = [](const std::string& step) { std::cerr << "pevis: " << step << "..." << std::endl; };
  spec.on_notice = [](const std::string& note) { std::cerr << "pevis: note: " << note << std::endl; };
  nlohmann::json files = nlohmann::json::array();
  std::ostream& messages = human(options);
  const auto on_written = [&](const WrittenFile& file) {
    messages << "wrote " << file.path << std::endl;
    files.push_back({{"path", file.path}, {"kind", file.kind}, {"format", file.format}});
  };
  std::cout.flush();
  write_products(std::move(products), spec, on_written);
  if (options.json) {
    summary["files"] = files;
    std::cout << summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
}

Progress human_progress(const OutputOptions& options) {
  Progress progress;
  std::ostream* out = &human(options);
  progress.text = [out](const std::string& text) { *out << visible_lines(text); };
  return progress;
}

void publish(JobResult result, const OutputOptions& options) {
  human(options) << visible_lines(result.text);
  publish(std::move(result.products), options, std::move(result.summary));
  if (result.failed_check) throw Error(ExitCode::kCheckFailed, result.failed_check->first, result.failed_check->second);
  human(options) << visible_lines(result.closing_text);
}

}  // namespace pevis::cli
