// `pevis encoding` without a model: the computed encodings, and the steps
// the job of a model's positional tensors shares. No LibTorch.
#include "pevis/encoding/encoding_job.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "pevis/base/error.h"
#include "pevis/base/memory.h"
#include "pevis/base/text.h"
#include "pevis/positional/alibi.h"

namespace pevis {

// Parses "A:B" (either side may be empty) into a half-open range within [0, limit).
std::pair<std::int64_t, std::int64_t> parse_range(const std::string& text, std::int64_t limit) {
  const auto colon = text.find(':');
  const auto number = [&](const std::string& part, std::int64_t fallback) -> std::int64_t {
    if (part.empty()) return fallback;
    const auto value = whole_number(part);
    if (!value) {
      throw Error(ExitCode::kUsage, "--positions " + text, "expected START:END with whole numbers", "for example --positions 0:100");
    }
    return *value;
  };
  if (colon == std::string::npos) {
    throw Error(ExitCode::kUsage, "--positions " + text, "expected START:END", "for example --positions 0:100");
  }
  const std::int64_t start = number(text.substr(0, colon), 0), end = number(text.substr(colon + 1), limit);
  if (start < 0 || end > limit || start >= end) {
    throw bad_input("--positions " + text,
                    "the range must lie within 0:" + std::to_string(limit) + " and hold at least one position",
                    "positions count from 0 up to --max-len");
  }
  return {start, end};
}

TableRange table_range(const EncodingRequest& options, std::int64_t positions) {
  const auto [first, end] = options.positions.empty() ? std::pair<std::int64_t, std::int64_t>{0, positions}
                                                      : parse_range(options.positions, positions);
  const std::int64_t window = options.window == 0 ? end - first : std::min(options.window, end - first);
  return {first, end, window};
}

void check_window(const EncodingRequest& options) {
  if (options.window < 0) {
    throw bad_input("--window " + std::to_string(options.window), "must be 0 (the whole range) or a positive count");
  }
}

JobResult table_job(const EncodingRequest& options, const float* table, std::int64_t positions, std::int64_t width,
                const TableRange& range, const std::string& about, bool sinusoid, double base, nlohmann::json summary) {
  std::vector<std::int64_t> dims = options.dims.empty() ? default_dims(width) : options.dims;
  for (auto d : dims) {
    if (d < 0 || d >= width) {
      throw bad_input("--dims " + std::to_string(d), "a dimension must be from 0 to d_model-1 = " + std::to_string(width - 1));
    }
  }
  TableView view;
  view.about = about;
  view.first = range.first;
  view.window = range.window;
  view.dims = dims;
  view.similarity = options.similarity;
  view.sinusoid = sinusoid;
  view.base = base;
  std::vector<Product> products =
      table_products(table + range.first * width, range.end - range.first, width, view, options.wanted.figures);
  summary["d_model"] = width;
  summary["max_len"] = positions;
  summary["base"] = base;
  summary["positions"] = {range.first, range.end};
  summary["window"] = range.window;
  summary["dims"] = dims;
  summary["similarity"] = options.similarity == Similarity::kCosine ? "cosine" : "dot";
  return {std::move(products), std::move(summary)};
}

namespace {

// The sinusoidal table, computed.
JobResult run_sinusoid(const EncodingRequest& options) {
  check_window(options);
  const SinusoidalSpec spec{options.d_model.value_or(0), options.max_len.value_or(5000), options.base.value_or(10000.0)};
  // Sizes are checked before anything large exists.
  check_sinusoidal_spec(spec, memory_budget());
  std::ostringstream base_text;
  base_text << spec.base;
  const TableRange range = table_range(options, spec.max_len);
  check_sinusoidal_spec(spec, memory_budget(),
                        encoding_copies_bytes(range.end - range.first, spec.d_model, range.window,
                                              options.wanted.data, options.wanted.figures));
  const std::vector<float> table = sinusoid_values(spec);
  return table_job(options, table.data(), spec.max_len, spec.d_model, range,
             "Sinusoidal positional encoding (d_model " + std::to_string(spec.d_model) + ", base " + base_text.str() + ")",
             /*sinusoid=*/true, spec.base, {{"command", "encoding"}});
}

}  // namespace

// The range of --positions within [0, limit), or [0, fallback).
std::pair<std::int64_t, std::int64_t> positions_or(const EncodingRequest& options, std::int64_t limit, std::int64_t fallback) {
  if (options.positions.empty()) return {0, std::min(limit, fallback)};
  return parse_range(options.positions, limit);
}

constexpr std::int64_t kMaxMatrixPositions = 8192;

void check_square_matrices(std::int64_t n, std::int64_t count, const std::string& what, const Wanted& output) {
  if (n < 1 || n > kMaxMatrixPositions) {
    throw bad_input(what, "bias matrices are drawn for 1 to " + std::to_string(kMaxMatrixPositions) + " positions",
                    "the slopes and curves do not depend on it");
  }
  const long double copies = 2 + (output.figures ? 1 : 0) + (output.data ? 1 : 0);
  check_memory(4.0L * n * n * count * copies + 80.0L * n, what, "the bias matrices", "choose a smaller --max-len");
}

JobResult rope_job(RopeView view, const EncodingRequest& options, nlohmann::json summary, const Progress& progress) {
  ShownText messages(progress);
  const auto pairs = static_cast<std::int64_t>(view.inv_freq.size());
  const long double rows = static_cast<long double>(view.end - view.first);
  const long double copies = 2 + (options.wanted.figures ? 2 : 0);
  check_memory(4.0L * rows * pairs * copies + 40.0L * rows + 64.0L * std::min<std::int64_t>(view.max_len, 70000),
               "--positions", "the rotary angle table", "use --positions A:B");
  const std::int64_t short_of = pairs_without_full_turn(view.inv_freq, view.max_len);
  messages << view.about << ": " << pairs << " pairs; " << short_of << " turn less than once within " << view.max_len
           << " positions";
  if (!view.reference.empty()) {
    messages << " (" << view.reference_label << ": " << pairs_without_full_turn(view.reference, view.max_len) << ")";
  }
  messages << "\n";
  if (view.end - view.first < view.max_len && options.positions.empty()) {
    messages << "angle table: positions 0:" << view.end << " of " << view.max_len << " (--positions A:B for others)\n";
  }
  summary["pairs"] = pairs;
  summary["max_len"] = view.max_len;
  summary["pairs_without_full_turn"] = short_of;
  summary["attention_factor"] = view.attention_factor;
  summary["positions"] = {view.first, view.end};
  return {rope_products(view, options.wanted.figures), std::move(summary)};
}

RopeView rope_view(const RopeSpec& spec, const std::string& about, const EncodingRequest& options) {
  const auto [first, end] = positions_or(options, spec.max_len, 4096);
  return rope_view_of(spec, about, first, end);
}


nlohmann::json rope_summary(const RopeSpec& spec) {
  nlohmann::json summary = {{"command", "encoding"}, {"kind", "rope"}, {"d_head", spec.d_head},
                            {"base", spec.base},     {"scaling", scaling_name(spec.scaling)}};
  if (spec.scaling != RopeScaling::kNone) {
    summary["factor"] = spec.factor;
    summary["original_context"] = rope_original_context(spec);
  }
  return summary;
}

// The request's values override the config's.
RopeSpec rope_spec(const EncodingRequest& options, RopeSpec spec) {
  const RopeScaling start_scaling = spec.scaling;
  if (options.d_head) spec.d_head = *options.d_head;
  if (options.base) spec.base = *options.base;
  if (options.max_len) spec.max_len = *options.max_len;
  if (options.scaling) spec.scaling = *options.scaling;
  if (options.factor) spec.factor = *options.factor;
  if (options.original_max_position_embeddings) spec.original_max_position_embeddings = options.original_max_position_embeddings;
  if (options.beta_fast) spec.beta_fast = *options.beta_fast;
  if (options.beta_slow) spec.beta_slow = *options.beta_slow;
  if (options.low_freq_factor) spec.low_freq_factor = *options.low_freq_factor;
  if (options.high_freq_factor) spec.high_freq_factor = *options.high_freq_factor;
  if (options.attention_factor) spec.attention_factor = options.attention_factor;
  if (options.scaling && *options.scaling != RopeScaling::kNone && *options.scaling != start_scaling && !options.factor) {
    throw Error(ExitCode::kUsage, "--scaling " + scaling_name(spec.scaling), "a scaling needs its --factor",
                "for example --scaling llama3 --factor 8 --original-max-position-embeddings 8192");
  }
  check_rope_spec(spec);
  return spec;
}

namespace {

JobResult run_rope(const EncodingRequest& options, const Progress& progress) {
  if (options.config.empty() && !options.d_head) {
    throw Error(ExitCode::kUsage, "--kind rope", "give the head width with --d-head D, or a model's --config config.json",
                "for example: pevis encoding --kind rope --d-head 128 --base 500000");
  }
  RopeSpec start;
  if (!options.config.empty()) start = read_rope_config(options.config);
  const RopeSpec spec = rope_spec(options, start);
  nlohmann::json summary = rope_summary(spec);
  if (!options.config.empty()) summary["config"] = options.config;
  return rope_job(rope_view(spec, describe_rope(spec), options), options, std::move(summary), progress);
}

JobResult run_alibi(const EncodingRequest& options, const Progress& progress) {
  if (!options.heads) {
    throw Error(ExitCode::kUsage, "--kind alibi", "give the number of heads with --heads N",
                "for example: pevis encoding --kind alibi --heads 12");
  }
  const std::int64_t n = options.max_len.value_or(64);
  const auto slopes = alibi_slopes(*options.heads);
  check_square_matrices(n, static_cast<std::int64_t>(heads_to_draw(*options.heads, 4).size()), "--max-len " + std::to_string(n),
                        options.wanted);
  const auto [low, high] = std::minmax_element(slopes.begin(), slopes.end());
  progress.show("alibi: " + std::to_string(*options.heads) + " heads, slopes from " + number_text(*low) + " to " +
                number_text(*high) + "\n");
  nlohmann::json summary = {{"command", "encoding"}, {"kind", "alibi"}, {"heads", *options.heads},
                            {"positions", n},        {"slopes", slopes}};
  return {alibi_products(*options.heads, n, options.wanted.figures), std::move(summary)};
}

}  // namespace

JobResult encoding_job(const EncodingRequest& options, const Progress& progress) {
  if (options.list || !options.tensor.empty() || options.expect_rope_base || options.fail_tolerance) {
    throw Error(ExitCode::kUsage, "encoding", "--list, --tensor, --expect-rope-base and --fail-if-not-sinusoidal need a MODEL",
                "for example: pevis encoding model.pt --list");
  }
  switch (options.kind) {
    case EncodingKind::kRope: return run_rope(options, progress);
    case EncodingKind::kAlibi: return run_alibi(options, progress);
    case EncodingKind::kSinusoidal: break;
  }
  if (!options.d_model) {
    throw Error(ExitCode::kUsage, "encoding", "give either --d-model D (a computed table) or a MODEL (the table it holds)",
                "for example: pevis encoding --d-model 512");
  }
  return run_sinusoid(options);
}

}  // namespace pevis
