// `pevis encoding MODEL`: the positional tensors a model holds.
#include "pevis/encoding/model_encoding_job.h"

#include <ATen/core/Tensor.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "pevis/architectures/architectures.h"
#include "pevis/base/error.h"
#include "pevis/base/memory.h"
#include "pevis/base/shape_text.h"
#include "pevis/base/text.h"
#include "pevis/encoding/encoding.h"
#include "pevis/encoding/position_views.h"
#include "pevis/encoding/relative_bias.h"
#include "pevis/encoding/relative_views.h"
#include "pevis/io/load.h"
#include "pevis/io/model.h"
#include "pevis/positional/rope.h"

namespace pevis {
namespace {

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

// A [positions, dims] table stored in `model` as `name`.
JobResult run_table(const EncodingRequest& options, const Model& model, const std::string& name, std::int64_t offset,
                    const Progress& progress) {
  check_window(options);
  ShownText messages(progress);
  at::Tensor full = positional_table(model, name, {options.window, options.wanted.data, options.wanted.figures});
  if (offset > 0 && full.size(0) > offset + 1) {
    messages << name << ": rows 0-" << offset - 1 << " are not positions (the table is looked up at position + "
             << offset << ", as OPT and BART do): drawn from row " << offset << " as position 0\n";
    full = full.narrow(0, offset, full.size(0) - offset).contiguous();
  } else {
    offset = 0;
  }
  const double base = options.base.value_or(10000.0);
  std::ostringstream base_text;
  base_text << base;
  const std::string about = name + " of " + options.model + " (" + std::to_string(full.size(0)) + " positions x " +
                            std::to_string(full.size(1)) + " dims)";
  const SinusoidCheck check = compare_with_sinusoid(full, base);
  nlohmann::json summary = {{"command", "encoding"}, {"model", options.model}, {"tensor", name}};
  if (offset) summary["row_offset"] = offset;
  report_sinusoid_check(messages, summary, name, check, base_text.str(), full.size(1));
  const TableRange range = table_range(options, full.size(0));
  JobResult result = table_job(options, full.data_ptr<float>(), full.size(0), full.size(1), range, about,
                               /*sinusoid=*/false, base, std::move(summary));
  if (options.fail_tolerance && (!check.comparable || check.deviation > *options.fail_tolerance)) {
    const std::string why = "the table deviates from the sinusoid by up to " + number_text("%.3g", check.deviation) +
                            ", more than " + number_text("%.3g", *options.fail_tolerance);
    result.failed_check = {{"--fail-if-not-sinusoidal", check.comparable ? why : "an odd width has no sinusoid"}};
  }
  return result;
}

const NamedTensor& tensor_named(const Model& model, const std::string& name) {
  if (const NamedTensor* t = model.find(name)) return *t;
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
  const double deviation = deviation_from(stored, *declared);
  const std::string off = number_text("%.3g", deviation);
  messages << "config.json declares " << describe_rope(*declared) << ": " << name
           << (deviation <= 1e-6 ? " matches it (to " + std::string(off) + " relative)"
                                 : " does not match it (off by up to " + std::string(off) + " relative)")
           << "\n";
  return {{"declared", describe_rope(*declared)}, {"deviation", deviation}, {"matches", deviation <= 1e-6}};
}

JobResult run_inv_freq(const EncodingRequest& options, const Model& model, const std::string& name,
                       const std::optional<RopeSpec>& declared, const Progress& progress) {
  const NamedTensor& t = tensor_named(model, name);
  check_read(t, model);
  const at::Tensor values = as_float(t.tensor()).to(at::kDouble).contiguous();
  const std::vector<double> stored(values.data_ptr<double>(), values.data_ptr<double>() + values.numel());
  const RopeFit fit = fit_inv_freq(stored);
  ShownText messages(progress);
  messages << name << ": " << fit.description << (fit.matches ? ", matches to " : ", off by up to ")
           << number_text("%.3g", fit.max_relative_deviation)
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
  JobResult result = rope_job(std::move(view), options, std::move(summary), progress);
  if (expected && !expected->matches) {
    result.failed_check = {{"--expect-rope-base", name + " is not base " + number_text(*options.expect_rope_base) +
                                                      " within 1e-6 (off by up to " +
                                                      number_text("%.3g", expected->max_relative_deviation) +
                                                      " relative); it fits " + fit.description}};
  } else if (expected) {
    result.closing_text = name + ": base " + number_text(*options.expect_rope_base) + " as expected\n";
  }
  return result;
}

JobResult run_t5(const EncodingRequest& options, const Model& model, const std::string& name, const Progress& progress) {
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
                        options.wanted);
  ShownText(progress) << name << ": T5 relative attention bias, " << t.shape()[1] << " heads, " << spec.num_buckets
                        << " buckets, max_distance " << spec.max_distance << ", "
                        << (spec.bidirectional ? "bidirectional" : "causal") << "\n";
  nlohmann::json summary = {{"command", "encoding"},       {"kind", "t5"},
                            {"model", options.model},      {"tensor", name},
                            {"heads", t.shape()[1]},       {"num_buckets", spec.num_buckets},
                            {"max_distance", spec.max_distance}, {"bidirectional", spec.bidirectional},
                            {"positions", n}};
  return {t5_products(t.tensor(), spec.bidirectional, spec.num_buckets, spec.max_distance, n, name, options.wanted.figures),
          std::move(summary)};
}

JobResult run_swin(const EncodingRequest& options, const Model& model, const std::string& name, const Progress& progress) {
  bool index = false;
  const at::Tensor maps = swin_maps_of(model, name, &index);
  const bool continuous = !continuous_bias_network(name).empty();
  ShownText(progress) << name << (continuous ? ": Swin V2 continuous position bias (16 sigmoid of the network's output), "
                                             : ": Swin relative position bias, ")
                      << maps.size(0) << " heads, " << maps.size(1) << " tokens per window"
                      << (index ? "" : " (index computed: the model has none)") << "\n";
  nlohmann::json summary = {{"command", "encoding"}, {"kind", "swin"},         {"model", options.model},
                            {"tensor", name},        {"heads", maps.size(0)}, {"window_tokens", maps.size(1)}};
  if (continuous) summary["continuous"] = true;
  return {swin_products(maps, name, options.wanted.figures, continuous), std::move(summary)};
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
    out << c.name << "  " << sizes_text(c.shape) << "  " << c.kind << "  " << family_name(c.family)
        << (c.note.empty() ? "" : "  (" + c.note + ")") << "\n";
  }
  if (rope) out << kConfigCandidate << "  " << describe_rope(*rope) << "  config  rope\n";
}

}  // namespace

JobResult model_encoding_job(const EncodingRequest& options, const Progress& progress) {
  Model model = load_model(options.model);
  ShownText messages(progress);
  // A folder pevis builds: the rotary tables its model computes, as transformers would.
  std::string unbuilt;
  for (auto& t : computed_rotary_buffers(model, &unbuilt)) model.tensors.push_back(std::move(t));
  if (!unbuilt.empty()) messages << "config.json: " << unbuilt << " (its rotary tables are not computed)\n";
  const auto candidates = find_positional_tensors(model);
  const std::optional<RopeSpec> rope = declared_rope(model, messages);
  if (options.list) {
    list_candidates(messages, candidates, rope);
    return {};
  }
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
  std::int64_t offset = 0;
  std::string note;
  for (const auto& c : candidates) {
    if (c.name == name) family = c.family, offset = c.offset, note = c.note;
  }
  if (name == kConfigCandidate && rope && !family) {
    const RopeSpec spec = rope_spec(options, *rope);
    nlohmann::json summary = rope_summary(spec);
    summary["model"] = options.model;
    summary["tensor"] = kConfigCandidate;
    return rope_job(rope_view(spec, describe_rope(spec) + ", declared by " + model.config_file, options), options,
                    std::move(summary), progress);
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
    case PositionalFamily::kTable: return run_table(options, model, name, offset, progress);
    case PositionalFamily::kConv:
      throw bad_input(name, "a convolutional positional embedding: " + note +
                                "; positions come from the features around each frame, so there is no table to draw",
                      "pevis attention shows what the model attends to");
    case PositionalFamily::kRopeInvFreq: return run_inv_freq(options, model, name, rope, progress);
    case PositionalFamily::kT5Bias: return run_t5(options, model, name, progress);
    case PositionalFamily::kSwinBias: return run_swin(options, model, name, progress);
  }
  return {};
}


}  // namespace pevis
