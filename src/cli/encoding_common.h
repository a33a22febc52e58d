#pragma once

// What `pevis encoding` does the same way for computed encodings (front
// executable) and for the tensors of a model (pevis-torch).

#include <cstdint>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "options.h"
#include "pevis/encoding/position_views.h"
#include "pevis/positional/rope.h"

namespace pevis::cli {

/// Parses "A:B" (either side may be empty) into a half-open range within
/// [0, limit); throws `pevis::Error` (exit 2 malformed, 3 outside).
std::pair<std::int64_t, std::int64_t> parse_range(const std::string& text, std::int64_t limit);

/// The range of --positions within [0, limit), or [0, min(limit, fallback)).
std::pair<std::int64_t, std::int64_t> positions_or(const EncodingOptions& options, std::int64_t limit, std::int64_t fallback);

/// The rows of a table that are drawn: --positions, and the first `window`
/// of them for the line and similarity figures.
struct TableRange {
  std::int64_t first = 0, end = 0, window = 0;
};
TableRange table_range(const EncodingOptions& options, std::int64_t positions);

/// Throws `pevis::Error` (exit 3) for a negative --window.
void check_window(const EncodingOptions& options);

/// Draws and writes a [positions, width] row-major table (the range of it
/// that `range` gives), with what it shows added to `summary`.
void draw_table(const EncodingOptions& options, const float* table, std::int64_t positions, std::int64_t width,
                const TableRange& range, const std::string& about, bool sinusoid, double base, nlohmann::json summary);

/// Checks that `count` [n, n] bias matrices and their copies fit the memory
/// budget, n from 1 to 8192; throws `pevis::Error` (exit 3) otherwise.
void check_square_matrices(std::int64_t n, std::int64_t count, const std::string& what, const OutputOptions& output);

/// Publishes the rotary figures of `view`, with what they show in `summary`.
void publish_rope(RopeView view, const EncodingOptions& options, nlohmann::json summary);

/// The view of a computed spec over --positions (default the first 4096).
RopeView rope_view(const RopeSpec& spec, const std::string& about, const EncodingOptions& options);

/// The summary of a computed spec.
nlohmann::json rope_summary(const RopeSpec& spec);

/// `spec` with the values the command line gives; checked.
RopeSpec rope_spec(const EncodingOptions& options, RopeSpec spec);

}  // namespace pevis::cli
