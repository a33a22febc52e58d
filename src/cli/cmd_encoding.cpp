#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "commands.h"
#include "output_options.h"
#include "pevis/encoding.h"
#include "pevis/error.h"
#include "pevis/memory.h"
#include "pevis/model.h"
#include "pevis/position_views.h"
#include "pevis/relative_bias.h"
#include "pevis/rope.h"

namespace pevis::cli {
namespace {

enum class EncodingKind { kSinusoidal, kRope, kAlibi };

struct EncodingOptions {
  std::string model;
  std::string tensor;
  bool list = false;
  std::optional<double> fail_tolerance;
  std::optional<double> expect_rope_base;
  EncodingKind kind = EncodingKind::kSinusoidal;
  bool kind_given = false;
  std::optional<std::int64_t> d_model;
  std::optional<std::int64_t> max_len;
  std::optional<double> base;
  std::vector<std::int64_t> dims;
  std::string positions;
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
  OutputOptions output;
};

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

// How far a stored table is from the sinusoid of its size, on the terminal and in the summary.
void report_sinusoid_check(std::ostream& messages, nlohmann::json& summary, const std::string& name,
                           const SinusoidCheck& check, const std::string& base, std::int64_t width) {
  if (!check.comparable) {
    messages << name << ": odd width " << width << ", so no sinusoid to compare with\n";
    return;
  }
  char line[256];
  std::snprintf(line, sizeof line, "%s: largest deviation from the sinusoid of the same size (base %s): %.3g (mean %.3g)",
                name.c_str(), base.c_str(), check.deviation, check.mean_deviation);
  messages << line;
  if (check.deviation <= 1e-6) messages << ": sinusoidal";
  // Another layout is worth naming only when the table is that sinusoid.
  if (check.closest != "interleaved" && check.closest_deviation <= 1e-3) {
    std::snprintf(line, sizeof line, "; it is the sinusoid in the %s layout (to %.3g)", check.closest.c_str(),
                  check.closest_deviation);
    messages << line;
  }
  messages << "\n";
  summary["sinusoid_deviation"] = check.deviation;
  summary["sinusoid_mean_deviation"] = check.mean_deviation;
  summary["closest_layout"] = check.closest;
}

// The sinusoidal table, computed (no model) or stored in `model` as `name`.
void run_table(const EncodingOptions& options, const Model* model, const std::string& name) {
  const Similarity similarity = options.similarity;
  if (options.window < 0) {
    throw bad_input("--window " + std::to_string(options.window), "must be 0 (the whole range) or a positive count");
  }
  std::ostream& messages = human(options.output);
  const bool data = options.output.writes_data(), figures = options.output.figures();  // copies to plan for
  nlohmann::json summary = {{"command", "encoding"}};
  at::Tensor full;            // [positions, dims]
  std::string about;          // what the table is, for titles
  bool sinusoid = true;       // computed here: values known to lie in [-1, 1]
  SinusoidalSpec spec{options.d_model.value_or(0), options.max_len.value_or(5000), options.base.value_or(10000.0)};
  std::optional<SinusoidCheck> check;
  std::ostringstream base_text;
  base_text << spec.base;

  if (model) {
    full = positional_table(*model, name, {options.window, data, figures});
    spec = {full.size(1), full.size(0), spec.base};
    sinusoid = false;
    about = name + " of " + options.model + " (" + std::to_string(full.size(0)) + " positions x " +
            std::to_string(full.size(1)) + " dims)";
    check = compare_with_sinusoid(full, spec.base);
    summary["model"] = options.model;
    summary["tensor"] = name;
    report_sinusoid_check(messages, summary, name, *check, base_text.str(), full.size(1));
  } else {
    // Sizes are checked before anything large exists.
    check_sinusoidal_spec(spec, memory_budget());
    about = "Sinusoidal positional encoding (d_model " + std::to_string(spec.d_model) + ", base " + base_text.str() + ")";
  }
  const auto [first, end] = options.positions.empty() ? std::pair<std::int64_t, std::int64_t>{0, spec.max_len}
                                                      : parse_range(options.positions, spec.max_len);
  const std::int64_t window = options.window == 0 ? end - first : std::min(options.window, end - first);
  if (sinusoid) {
    check_sinusoidal_spec(spec, memory_budget(), encoding_copies_bytes(end - first, spec.d_model, window, data, figures));
    full = sinusoidal_table(spec);
  }
  std::vector<std::int64_t> dims = options.dims.empty() ? default_dims(spec.d_model) : options.dims;
  for (auto d : dims) {
    if (d < 0 || d >= spec.d_model) {
      throw bad_input("--dims " + std::to_string(d),
                      "a dimension must be from 0 to d_model-1 = " + std::to_string(spec.d_model - 1));
    }
  }

  TableView view;
  view.about = about;
  view.first = first;
  view.window = window;
  view.dims = dims;
  view.similarity = similarity;
  view.sinusoid = sinusoid;
  view.base = spec.base;
  std::vector<Product> products = table_products(full.slice(/*dim=*/0, first, end), view, figures);

  summary["d_model"] = spec.d_model;
  summary["max_len"] = spec.max_len;
  summary["base"] = spec.base;
  summary["positions"] = {first, end};
  summary["window"] = window;
  summary["dims"] = dims;
  summary["similarity"] = similarity == Similarity::kCosine ? "cosine" : "dot";
  publish(std::move(products), options.output, std::move(summary));
  if (options.fail_tolerance && check && (!check->comparable || check->deviation > *options.fail_tolerance)) {
    char why[160];
    std::snprintf(why, sizeof why, "the table deviates from the sinusoid by up to %.3g, more than %.3g", check->deviation,
                  *options.fail_tolerance);
    throw Error(ExitCode::kCheckFailed, "--fail-if-not-sinusoidal", check->comparable ? why : "an odd width has no sinusoid");
  }
}


// The range of --positions within [0, limit), or [0, fallback).
std::pair<std::int64_t, std::int64_t> positions_or(const EncodingOptions& options, std::int64_t limit, std::int64_t fallback) {
  if (options.positions.empty()) return {0, std::min(limit, fallback)};
  return parse_range(options.positions, limit);
}

constexpr std::int64_t kMaxMatrixPositions = 8192;

void check_square_matrices(std::int64_t n, std::int64_t count, const std::string& what, const OutputOptions& output) {
  if (n < 1 || n > kMaxMatrixPositions) {
    throw bad_input(what, "bias matrices are drawn for 1 to " + std::to_string(kMaxMatrixPositions) + " positions",
                    "the slopes and curves do not depend on it");
  }
  const long double copies = 2 + (output.figures() ? 1 : 0) + (output.writes_data() ? 1 : 0);
  check_memory(4.0L * n * n * count * copies + 80.0L * n, what, "the bias matrices", "choose a smaller --max-len");
}

// Publishes the rotary figures of `view`, with what they show in `summary`.
void publish_rope(RopeView view, const EncodingOptions& options, nlohmann::json summary) {
  std::ostream& messages = human(options.output);
  const auto pairs = static_cast<std::int64_t>(view.inv_freq.size());
  const long double rows = static_cast<long double>(view.end - view.first);
  const long double copies = 2 + (options.output.figures() ? 2 : 0);
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
  publish(rope_products(view, options.output.figures()), options.output, std::move(summary));
}

RopeView rope_view(const RopeSpec& spec, const std::string& about, const EncodingOptions& options) {
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

// Command-line values override the config's.
RopeSpec rope_spec(const EncodingOptions& options, RopeSpec spec) {
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

void run_rope(const EncodingOptions& options) {
  if (options.config.empty() && !options.d_head) {
    throw Error(ExitCode::kUsage, "--kind rope", "give the head width with --d-head D, or a model's --config config.json",
                "for example: pevis encoding --kind rope --d-head 128 --base 500000");
  }
  RopeSpec start;
  if (!options.config.empty()) start = read_rope_config(options.config);
  const RopeSpec spec = rope_spec(options, start);
  nlohmann::json summary = rope_summary(spec);
  if (!options.config.empty()) summary["config"] = options.config;
  publish_rope(rope_view(spec, describe_rope(spec), options), options, std::move(summary));
}

void run_alibi(const EncodingOptions& options) {
  if (!options.heads) {
    throw Error(ExitCode::kUsage, "--kind alibi", "give the number of heads with --heads N",
                "for example: pevis encoding --kind alibi --heads 12");
  }
  const std::int64_t n = options.max_len.value_or(64);
  const auto slopes = alibi_slopes(*options.heads);
  check_square_matrices(n, static_cast<std::int64_t>(heads_to_draw(*options.heads, 4).size()), "--max-len " + std::to_string(n),
                        options.output);
  const auto [low, high] = std::minmax_element(slopes.begin(), slopes.end());
  human(options.output) << "alibi: " << *options.heads << " heads, slopes from " << number_text(*low) << " to "
                        << number_text(*high) << "\n";
  nlohmann::json summary = {{"command", "encoding"}, {"kind", "alibi"}, {"heads", *options.heads},
                            {"positions", n},        {"slopes", slopes}};
  publish(alibi_products(*options.heads, n, options.output.figures()), options.output, std::move(summary));
}

const NamedTensor& tensor_named(const Model& model, const std::string& name) {
  for (const auto& t : model.tensors) {
    if (t.name == name) return t;
  }
  throw bad_input(name, "the model has no tensor of that name", "--list shows the candidates");
}

void check_read(const NamedTensor& t, const Model& model) {
  check_memory(static_cast<long double>(t.nbytes()) * 3, model.path, "reading " + t.name, "");
}

// Whether stored frequencies are those a folder's config.json declares (told
// on the terminal); null without a declaration. Its context is the default.
nlohmann::json against_config(std::ostream& messages, const std::optional<RopeSpec>& declared,
                              const std::vector<double>& stored, const std::string& name,
                              std::optional<std::int64_t>& context) {
  if (!declared) return nullptr;
  if (!context) context = declared->max_len;
  char off[64];
  const double deviation = deviation_from(stored, *declared);
  std::snprintf(off, sizeof off, "%.3g", deviation);
  messages << "config.json declares " << describe_rope(*declared) << ": " << name
           << (deviation <= 1e-6 ? " matches it (to " + std::string(off) + " relative)"
                                 : " does not match it (off by up to " + std::string(off) + " relative)")
           << "\n";
  return {{"declared", describe_rope(*declared)}, {"deviation", deviation}, {"matches", deviation <= 1e-6}};
}

void run_inv_freq(const EncodingOptions& options, const Model& model, const std::string& name,
                  const std::optional<RopeSpec>& declared) {
  const NamedTensor& t = tensor_named(model, name);
  check_read(t, model);
  const at::Tensor values = as_float(t.tensor()).to(at::kDouble).contiguous();
  const std::vector<double> stored(values.data_ptr<double>(), values.data_ptr<double>() + values.numel());
  const RopeFit fit = fit_inv_freq(stored);
  std::ostream& messages = human(options.output);
  char deviation[64];
  std::snprintf(deviation, sizeof deviation, "%.3g", fit.max_relative_deviation);
  messages << name << ": " << fit.description << (fit.matches ? ", matches to " : ", off by up to ") << deviation
           << " relative\n";
  std::optional<std::int64_t> context = options.max_len;
  const nlohmann::json config = against_config(messages, declared, stored, name, context);
  bool assumed = false;
  RopeView view = stored_rope_view(stored, fit, name + " of " + options.model, context, &assumed);
  if (assumed) messages << "context: 4096 positions assumed (give --max-len N)\n";
  if (view.max_len < 1) throw bad_input("--max-len " + std::to_string(view.max_len), "the context must be positive");
  std::tie(view.first, view.end) = positions_or(options, view.max_len, 4096);
  nlohmann::json summary = {{"command", "encoding"}, {"kind", "rope"}, {"model", options.model}, {"tensor", name},
                            {"base", fit.base}, {"scaling", scaling_name(fit.scaling)}, {"factor", fit.factor},
                            {"fit", fit.description}, {"max_relative_deviation", fit.max_relative_deviation},
                            {"matches", fit.matches}};
  if (!config.is_null()) summary["config"] = config;
  std::optional<RopeFit> expected;
  if (options.expect_rope_base) {
    expected = fit_inv_freq(stored, *options.expect_rope_base);
    summary["expected_base"] = *options.expect_rope_base;
    summary["expected_base_deviation"] = expected->max_relative_deviation;
  }
  publish_rope(std::move(view), options, std::move(summary));
  if (expected && !expected->matches) {
    char off[64];
    std::snprintf(off, sizeof off, "%.3g", expected->max_relative_deviation);
    throw Error(ExitCode::kCheckFailed, "--expect-rope-base",
                name + " is not base " + number_text(*options.expect_rope_base) + " within 1e-6 (off by up to " + off +
                    " relative); it fits " + fit.description);
  }
  if (expected) messages << name << ": base " << number_text(*options.expect_rope_base) << " as expected\n";
}

void run_t5(const EncodingOptions& options, const Model& model, const std::string& name) {
  const NamedTensor& t = tensor_named(model, name);
  check_read(t, model);
  T5Spec spec = t5_spec_of(model, name, t.shape()[0]);
  if (options.causal) spec.bidirectional = false;
  if (options.bidirectional) spec.bidirectional = true;
  if (options.num_buckets) spec.num_buckets = *options.num_buckets;
  if (options.max_distance) spec.max_distance = *options.max_distance;
  check_t5_spec(spec, t.shape()[0]);
  const std::int64_t n = options.max_len.value_or(64);
  if (t.shape()[1] > 4096) throw bad_input(name, std::to_string(t.shape()[1]) + " heads: not a T5 bias table ([buckets, heads])");
  check_square_matrices(n, std::min<std::int64_t>(t.shape()[1], 4) + t.shape()[1], "--max-len " + std::to_string(n),
                        options.output);
  human(options.output) << name << ": T5 relative attention bias, " << t.shape()[1] << " heads, " << spec.num_buckets
                        << " buckets, max_distance " << spec.max_distance << ", "
                        << (spec.bidirectional ? "bidirectional" : "causal") << "\n";
  nlohmann::json summary = {{"command", "encoding"},       {"kind", "t5"},
                            {"model", options.model},      {"tensor", name},
                            {"heads", t.shape()[1]},       {"num_buckets", spec.num_buckets},
                            {"max_distance", spec.max_distance}, {"bidirectional", spec.bidirectional},
                            {"positions", n}};
  publish(t5_products(t.tensor(), spec.bidirectional, spec.num_buckets, spec.max_distance, n, name,
                      options.output.figures()),
          options.output, std::move(summary));
}

void run_swin(const EncodingOptions& options, const Model& model, const std::string& name) {
  bool index = false;
  const at::Tensor maps = swin_maps_of(model, name, &index);
  human(options.output) << name << ": Swin relative position bias, " << maps.size(0) << " heads, " << maps.size(1)
                        << " tokens per window" << (index ? "" : " (index computed: the model has none)") << "\n";
  nlohmann::json summary = {{"command", "encoding"}, {"kind", "swin"},         {"model", options.model},
                            {"tensor", name},        {"heads", maps.size(0)}, {"window_tokens", maps.size(1)}};
  publish(swin_products(maps, name, options.output.figures()), options.output, std::move(summary));
}

// The rotary settings a folder's config.json declares, read once; nothing
// when it declares none, or declares what pevis cannot use (said, and
// otherwise ignored, as the folder reader ignores a bad config.json).
std::optional<RopeSpec> declared_rope(const Model& model, std::ostream& messages) {
  if (model.config_file.empty()) return std::nullopt;
  bool rotary = false;
  for (const auto& [key, value] : model.config) rotary = rotary || key == "rope_theta" || key == "rope_scaling";
  if (!rotary) return std::nullopt;
  try {
    return read_rope_config(model.config_file);
  } catch (const Error& e) {
    messages << "config.json: " << e.what() << " (ignored)\n";
    return std::nullopt;
  }
}

constexpr const char* kConfigCandidate = "config.json";

void list_candidates(std::ostream& out, const std::vector<PositionalCandidate>& candidates, const std::optional<RopeSpec>& rope) {
  if (candidates.empty() && !rope) out << "no positional tensor (tables, inv_freq, T5 or Swin biases) and no rotary config\n";
  for (const auto& c : candidates) {
    std::string shape;
    for (std::size_t i = 0; i < c.shape.size(); ++i) shape += (i ? "x" : "") + std::to_string(c.shape[i]);
    out << c.name << "  " << shape << "  " << c.kind << "  " << family_name(c.family) << "\n";
  }
  if (rope) out << kConfigCandidate << "  " << describe_rope(*rope) << "  config  rope\n";
}

void run_model(const EncodingOptions& options) {
  const Model model = load_model(options.model);
  const auto candidates = find_positional_tensors(model);
  std::ostream& messages = human(options.output);
  const std::optional<RopeSpec> rope = declared_rope(model, messages);
  if (options.list) return list_candidates(messages, candidates, rope);
  std::string name = options.tensor;
  std::optional<PositionalFamily> family;
  if (name.empty()) {
    if (candidates.empty() && !rope) {
      throw bad_input(options.model,
                      "no tensor is named like a positional table (pe, pos_embedding, position_embeddings, ...), "
                      "inv_freq, relative_attention_bias or relative_position_bias_table",
                      "name one with --tensor NAME; pevis bias -v lists a model's tensors");
    }
    name = candidates.empty() ? kConfigCandidate : candidates.front().name;
    const std::size_t count = candidates.size() + (rope ? 1 : 0);
    if (count > 1) messages << "using " << name << " (of " << count << " candidates: see --list)\n";
  }
  for (const auto& c : candidates) {
    if (c.name == name) family = c.family;
  }
  if (name == kConfigCandidate && rope && !family) {
    const RopeSpec spec = rope_spec(options, *rope);
    nlohmann::json summary = rope_summary(spec);
    summary["model"] = options.model;
    summary["tensor"] = kConfigCandidate;
    return publish_rope(rope_view(spec, describe_rope(spec) + ", declared by " + model.config_file, options), options,
                        std::move(summary));
  }
  const PositionalFamily chosen = family.value_or(PositionalFamily::kTable);
  if (options.expect_rope_base && chosen != PositionalFamily::kRopeInvFreq) {
    throw Error(ExitCode::kUsage, "--expect-rope-base", name + " is not a rotary inv_freq vector",
                "--list shows the candidates and their kinds");
  }
  if (options.fail_tolerance && chosen != PositionalFamily::kTable) {
    throw Error(ExitCode::kUsage, "--fail-if-not-sinusoidal", name + " is not a [positions, dims] table",
                "--list shows the candidates and their kinds");
  }
  switch (chosen) {
    case PositionalFamily::kTable: return run_table(options, &model, name);
    case PositionalFamily::kRopeInvFreq: return run_inv_freq(options, model, name, rope);
    case PositionalFamily::kT5Bias: return run_t5(options, model, name);
    case PositionalFamily::kSwinBias: return run_swin(options, model, name);
  }
}

void run_encoding(const EncodingOptions& options) {
  if (!options.model.empty()) {
    if (options.kind_given || options.d_model) {
      throw Error(ExitCode::kUsage, "encoding", "give either a MODEL or --kind/--d-model (a computed encoding), not both",
                  "with MODEL, pick a tensor with --tensor NAME (--list shows them)");
    }
    return run_model(options);
  }
  if (options.list || !options.tensor.empty() || options.expect_rope_base || options.fail_tolerance) {
    throw Error(ExitCode::kUsage, "encoding", "--list, --tensor, --expect-rope-base and --fail-if-not-sinusoidal need a MODEL",
                "for example: pevis encoding model.pt --list");
  }
  switch (options.kind) {
    case EncodingKind::kRope: return run_rope(options);
    case EncodingKind::kAlibi: return run_alibi(options);
    case EncodingKind::kSinusoidal:
      if (!options.d_model) {
        throw Error(ExitCode::kUsage, "encoding", "give either --d-model D (a computed table) or a MODEL (the table it holds)",
                    "for example: pevis encoding --d-model 512");
      }
      return run_table(options, nullptr, "");
  }
}

void add_rope_options(CLI::App& command_ref, EncodingOptions& options_ref) {
  CLI::App* command = &command_ref;
  EncodingOptions* options = &options_ref;
  const std::string rope = "Rotary (--kind rope)";
  command->add_option("--config", options->config, "a model's config.json: rope_theta, rope_scaling, head_dim, context")
      ->check(CLI::ExistingFile)
      ->group(rope);
  command->add_option("--d-head", options->d_head, "rotated width of one head (even)")->group(rope);
  const std::map<std::string, RopeScaling> scalings = {{"none", RopeScaling::kNone},
                                                       {"linear", RopeScaling::kLinear},
                                                       {"ntk", RopeScaling::kNtk},
                                                       {"yarn", RopeScaling::kYarn},
                                                       {"llama3", RopeScaling::kLlama3}};
  command
      ->add_option_function<std::string>(
          "--scaling", [options, scalings](const std::string& name) { options->scaling = scalings.at(name); },
          "context extension: none, linear, ntk, yarn or llama3")
      ->check(CLI::IsMember({"none", "linear", "ntk", "yarn", "llama3"}))
      ->group(rope);
  command->add_option("--factor", options->factor, "the scaling's factor")->group(rope);
  command->add_option("--original-max-position-embeddings", options->original_max_position_embeddings,
                      "the context before scaling (default max-len / factor)")
      ->group(rope);
  command->add_option("--beta-fast", options->beta_fast, "yarn: rotations below which pairs are interpolated (32)")->group(rope);
  command->add_option("--beta-slow", options->beta_slow, "yarn: rotations above which pairs are kept (1)")->group(rope);
  command->add_option("--attention-factor", options->attention_factor, "yarn: scale of cos and sin (0.1 ln(factor) + 1)")
      ->group(rope);
  command->add_option("--low-freq-factor", options->low_freq_factor, "llama3: pairs with wavelengths above original / this are interpolated (1)")
      ->group(rope);
  command->add_option("--high-freq-factor", options->high_freq_factor, "llama3: pairs with wavelengths below original / this are kept (4)")->group(rope);

}

void add_relative_options(CLI::App& command_ref, EncodingOptions& options_ref) {
  CLI::App* command = &command_ref;
  EncodingOptions* options = &options_ref;
  const std::string relative = "ALiBi and T5";
  command->add_option("--heads", options->heads, "alibi: number of heads")->group(relative);
  command->add_option("--num-buckets", options->num_buckets, "T5 table of MODEL: buckets (default: the table's rows)")
      ->group(relative);
  command->add_option("--max-distance", options->max_distance, "T5 table of MODEL: distance of the last bucket (config.json's, else 128)")
      ->group(relative);
  auto* causal = command->add_flag("--causal", options->causal, "T5 table of MODEL: decoder buckets (default for names with 'decoder')")
                     ->group(relative);
  command->add_flag("--bidirectional", options->bidirectional, "T5 table of MODEL: encoder buckets")
      ->excludes(causal)
      ->group(relative);
}

}  // namespace

void setup_encoding(CLI::App& app) {
  auto options = std::make_shared<EncodingOptions>();
  CLI::App* command = app.add_subcommand("encoding", "draw positional encodings: sinusoidal, rotary, ALiBi, or a model's own");
  command->add_option("MODEL", options->model,
                      "a model whose positional tensors to draw instead (file, folder or builtin:NAME)");
  // Names become enums here, at the door; IsMember gives the usual one-line error.
  const std::map<std::string, EncodingKind> kinds = {
      {"sinusoidal", EncodingKind::kSinusoidal}, {"rope", EncodingKind::kRope}, {"alibi", EncodingKind::kAlibi}};
  command
      ->add_option_function<std::string>(
          "--kind",
          [options, kinds](const std::string& name) {
            options->kind = kinds.at(name);
            options->kind_given = true;
          },
          "computed family: sinusoidal (default), rope or alibi")
      ->check(CLI::IsMember({"sinusoidal", "rope", "alibi"}));
  command->add_option("--d-model", options->d_model, "sinusoidal: embedding width (even)");
  command->add_option("--max-len", options->max_len,
                      "positions: sinusoidal table (default 5000), rope context (default config's or 4096), "
                      "ALiBi/T5 matrices (default 64)");
  command->add_option("--base", options->base, "sinusoidal or rope: wavelength base, theta (default 10000)");
  command->add_option("--tensor", options->tensor, "with MODEL: the tensor to draw, or config.json (default: the first candidate)");
  command->add_flag("--list", options->list, "with MODEL: list the positional tensors and their kinds");
  command->add_option("--fail-if-not-sinusoidal", options->fail_tolerance,
                      "with MODEL: exit 5 when the table deviates from the sinusoid by more than TOL");
  command->add_option("--expect-rope-base", options->expect_rope_base,
                      "with MODEL: exit 5 when inv_freq does not match base B (with its scaling) within 1e-6 relative");
  command->add_option("--dims", options->dims, "sinusoidal: dimensions to draw as lines, e.g. 0,1,64,65 (default: fast to slow)")
      ->delimiter(',');
  command->add_option("--positions", options->positions,
                      "range of positions START:END (end excluded; default all; rope: the first 4096)");
  command->add_option("--window", options->window,
                      "sinusoidal: the line and similarity figures show the first N positions of the range (0: all)")
      ->capture_default_str();
  command
      ->add_option_function<std::string>(
          "--similarity",
          [options](const std::string& name) { options->similarity = name == "cosine" ? Similarity::kCosine : Similarity::kDot; },
          "sinusoidal: how to compare positions: dot or cosine")
      ->check(CLI::IsMember({"dot", "cosine"}))
      ->default_str("dot");

  add_rope_options(*command, *options);
  add_relative_options(*command, *options);
  add_output_options(*command, options->output);
  command->footer(
      "Computed (no MODEL):\n"
      "  sinusoidal: encoding.png (positions by dimensions), encoding-dims.png, encoding-similarity.png\n"
      "  rope:       rope-angles.png (cos and sin of position x pair; data rope-cos, rope-sin), rope-wavelengths.png\n"
      "              (each pair's wavelength against the context), rope-decay.png (score against distance)\n"
      "  alibi:      alibi-slopes.png, alibi-bias.png (query x key bias of up to four heads)\n"
      "With MODEL, draws what it holds: a [positions, dims] table (and how far it is from the sinusoid), rotary\n"
      "inv_freq (its base and scaling, fitted), a T5 relative_attention_bias (t5-bias.png, t5-matrix.png), a Swin\n"
      "relative_position_bias_table (swin-bias.png), or the rotary settings of a folder's config.json.\n"
      "Every figure comes with its data file (.csv or .json).\n\n"
      "Examples:\n"
      "  pevis encoding --d-model 512\n"
      "  pevis encoding --d-model 128 --max-len 1000 --dims 0,1,32,33 --positions 0:200\n"
      "  pevis encoding --d-model 64 --format txt --data none     # draw on the terminal\n"
      "  pevis encoding --kind rope --d-head 128 --base 500000 --max-len 131072 \\\n"
      "        --scaling llama3 --factor 8 --original-max-position-embeddings 8192\n"
      "  pevis encoding --kind rope --config config.json          # a Hugging Face model's settings\n"
      "  pevis encoding --kind rope --d-head 64 --max-len 8192 --scaling yarn --factor 4\n"
      "  pevis encoding --kind alibi --heads 12\n"
      "  pevis encoding builtin:transformer-lm --positions 0:200    # the pe buffer a model holds\n"
      "  pevis encoding model.pt --list\n"
      "  pevis encoding model.pt --fail-if-not-sinusoidal 1e-6      # a CI check\n"
      "  pevis encoding llama.pt --expect-rope-base 500000          # a CI check of inv_freq\n"
      "  pevis encoding t5.safetensors --tensor decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight\n"
      "  pevis encoding --d-model 512 --json -o out/pe            # machine-readable summary");
  command->callback([options] { run_encoding(*options); });
}

}  // namespace pevis::cli
