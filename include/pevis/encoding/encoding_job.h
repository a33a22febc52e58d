#pragma once
// `pevis encoding`: the request, the computed encodings' job (run by the
// front executable: no LibTorch) and the steps it shares with the job of a
// model's positional tensors (model_encoding_job.h).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pevis/encoding/position_views.h"
#include "pevis/output/job.h"
#include "pevis/positional/rope.h"
#include "pevis/positional/sinusoid.h"

namespace pevis {

enum class EncodingKind { kSinusoidal, kRope, kAlibi };

struct EncodingRequest {
  std::string model;   ///< a model whose positional tensors to draw; empty: a computed encoding
  std::string tensor;  ///< with a model: the tensor (or "config.json"); empty: the first candidate
  bool list = false;   ///< with a model: list the candidates only
  std::optional<double> fail_tolerance;    ///< with a model: a failed check when the table is farther from the sinusoid
  std::optional<double> expect_rope_base;  ///< with a model: a failed check when inv_freq is not of this base
  EncodingKind kind = EncodingKind::kSinusoidal;
  bool kind_given = false;
  std::optional<std::int64_t> d_model;
  std::optional<std::int64_t> max_len;
  std::optional<double> base;
  std::vector<std::int64_t> dims;
  std::string positions;  ///< "START:END", either side may be empty
  std::int64_t window = 256;
  Similarity similarity = Similarity::kDot;
  // rope
  std::string config;
  std::optional<std::int64_t> d_head;
  std::optional<RopeScaling> scaling;
  std::optional<double> factor, beta_fast, beta_slow, low_freq_factor, high_freq_factor, attention_factor;
  std::optional<std::int64_t> original_max_position_embeddings;
  // alibi
  std::optional<std::int64_t> heads;
  // t5
  std::optional<std::int64_t> num_buckets, max_distance;
  bool causal = false, bidirectional = false;
  Wanted wanted;
};

/// A computed encoding (no model): the sinusoidal table, rotary frequencies
/// or ALiBi biases. Throws `pevis::Error`: exit 2 for options that need a
/// model or miss their sizes, 3 for sizes out of range.
JobResult encoding_job(const EncodingRequest& request, const Progress& progress = {});

/// Parses "A:B" (either side may be empty) into a half-open range within
/// [0, limit); throws `pevis::Error` (exit 2 malformed, 3 outside).
std::pair<std::int64_t, std::int64_t> parse_range(const std::string& text, std::int64_t limit);

/// The range of --positions within [0, limit), or [0, min(limit, fallback)).
std::pair<std::int64_t, std::int64_t> positions_or(const EncodingRequest& request, std::int64_t limit, std::int64_t fallback);

/// The rows of a table that are drawn: --positions, and the first `window`
/// of them for the line and similarity figures.
struct TableRange {
  std::int64_t first = 0, end = 0, window = 0;
};
TableRange table_range(const EncodingRequest& request, std::int64_t positions);

/// Throws `pevis::Error` (exit 3) for a negative --window.
void check_window(const EncodingRequest& request);

/// The views of a [positions, width] row-major table (the range of it that
/// `range` gives), with what they show added to `summary`.
JobResult table_job(const EncodingRequest& request, const float* table, std::int64_t positions, std::int64_t width,
                    const TableRange& range, const std::string& about, bool sinusoid, double base, nlohmann::json summary);

/// Checks that `count` [n, n] bias matrices and their copies fit the memory
/// budget, n from 1 to 8192; throws `pevis::Error` (exit 3) otherwise.
void check_square_matrices(std::int64_t n, std::int64_t count, const std::string& what, const Wanted& wanted);

/// The rotary figures of `view`, with what they show in `summary`, and the
/// lines said of them.
JobResult rope_job(RopeView view, const EncodingRequest& request, nlohmann::json summary, const Progress& progress);

/// The view of a computed spec over --positions (default the first 4096).
RopeView rope_view(const RopeSpec& spec, const std::string& about, const EncodingRequest& request);

/// The summary of a computed spec.
nlohmann::json rope_summary(const RopeSpec& spec);

/// `spec` with the values the request gives; checked.
RopeSpec rope_spec(const EncodingRequest& request, RopeSpec spec);

}  // namespace pevis
