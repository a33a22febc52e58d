#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "commands.h"
#include "encoding_common.h"
#include "runners.h"
#include "pevis/positional/alibi.h"
#include "pevis/base/error.h"
#include "pevis/base/memory.h"
#include "pevis/encoding/position_views.h"
#include "pevis/positional/rope.h"

namespace pevis::cli {

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

TableRange table_range(const EncodingOptions& options, std::int64_t positions) {
  const auto [first, end] = options.positions.empty() ? std::pair<std::int64_t, std::int64_t>{0, positions}
                                                      : parse_range(options.positions, positions);
  const std::int64_t window = options.window == 0 ? end - first : std::min(options.window, end - first);
  return {first, end, window};
}

void check_window(const EncodingOptions& options) {
  if (options.window < 0) {
    throw bad_input("--window " + std::to_string(options.window), "must be 0 (the whole range) or a positive count");
  }
}

void draw_table(const EncodingOptions& options, const float* table, std::int64_t positions, std::int64_t width,
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
      table_products(table + range.first * width, range.end - range.first, width, view, options.output.figures());
  summary["d_model"] = width;
  summary["max_len"] = positions;
  summary["base"] = base;
  summary["positions"] = {range.first, range.end};
  summary["window"] = range.window;
  summary["dims"] = dims;
  summary["similarity"] = options.similarity == Similarity::kCosine ? "cosine" : "dot";
  publish(std::move(products), options.output, std::move(summary));
}

namespace {

// The sinusoidal table, computed.
void run_sinusoid(const EncodingOptions& options) {
  check_window(options);
  const SinusoidalSpec spec{options.d_model.value_or(0), options.max_len.value_or(5000), options.base.value_or(10000.0)};
  // Sizes are checked before anything large exists.
  check_sinusoidal_spec(spec, memory_budget());
  std::ostringstream base_text;
  base_text << spec.base;
  const TableRange range = table_range(options, spec.max_len);
  check_sinusoidal_spec(spec, memory_budget(),
                        encoding_copies_bytes(range.end - range.first, spec.d_model, range.window,
                                              options.output.writes_data(), options.output.figures()));
  const std::vector<float> table = sinusoid_values(spec);
  draw_table(options, table.data(), spec.max_len, spec.d_model, range,
             "Sinusoidal positional encoding (d_model " + std::to_string(spec.d_model) + ", base " + base_text.str() + ")",
             /*sinusoid=*/true, spec.base, {{"command", "encoding"}});
}

}  // namespace

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

namespace {

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

void run_encoding(const EncodingOptions& options) {
  if (!options.model.empty()) {
    if (options.kind_given || options.d_model) {
      throw Error(ExitCode::kUsage, "encoding", "give either a MODEL or --kind/--d-model (a computed encoding), not both",
                  "with MODEL, pick a tensor with --tensor NAME (--list shows them)");
    }
    return run_encoding_model(options);
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
      return run_sinusoid(options);
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
  add_safety_options(*command, options->safety, /*with_verbose=*/true);
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
  command->callback([options] {
    parse_output_options(options->output);  // a malformed --size is a usage error, found before any work
    run_encoding(*options);
  });
}

}  // namespace pevis::cli
