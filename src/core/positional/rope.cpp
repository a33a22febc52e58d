#include "pevis/positional/rope.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "pevis/base/archive.h"
#include "pevis/base/error.h"
#include "pevis/base/json_depth.h"
#include "pevis/base/text.h"

namespace pevis {
namespace {

using json = nlohmann::json;

constexpr double kTolerance = 1e-6;

// The fewest significant digits (up to 8) that still describe `value` to
// `tolerance` relative: 500000 rather than 499999.97.
double round_to_fit(double value, double tolerance) {
  if (!(value > 0) || !std::isfinite(value)) return value;
  for (int digits = 1; digits <= 8; ++digits) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
    const double rounded = std::strtod(buffer, nullptr);
    if (std::fabs(rounded - value) <= tolerance * value) return rounded;
  }
  return value;
}

double max_relative(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]) / std::fabs(b[i]));
  return worst;
}

std::vector<double> powers(double base, std::int64_t pairs, std::int64_t d_head) {
  std::vector<double> out(static_cast<std::size_t>(pairs));
  for (std::int64_t i = 0; i < pairs; ++i) out[i] = std::pow(base, -2.0 * static_cast<double>(i) / d_head);
  return out;
}

// The exponent 2i/d as a stored vector has it: PyTorch's code (Hugging
// Face's, Meta's) divides arange(0, d, 2).float() by d in float32, which is
// exact only where d is a power of two; the error (up to 8e-7 of the value
// at base 500000) would otherwise pass for a wrong base.
double stored_exponent(std::size_t i, double d) { return static_cast<float>(2.0 * static_cast<double>(i) / d); }

std::vector<double> stored_powers(double base, std::int64_t pairs, std::int64_t d_head) {
  std::vector<double> out(static_cast<std::size_t>(pairs));
  for (std::int64_t i = 0; i < pairs; ++i) {
    out[i] = std::pow(base, -stored_exponent(static_cast<std::size_t>(i), static_cast<double>(d_head)));
  }
  return out;
}

// Least squares line y = a + b x.
std::pair<double, double> line_fit(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i];
  const double denominator = n * sxx - sx * sx;
  if (denominator == 0) return {sy / n, 0};
  const double b = (n * sxy - sx * sy) / denominator;
  return {(sy - b * sx) / n, b};
}

// The frequencies a kept/interpolated blend gives: keep[i] = 1 keeps ideal[i],
// 0 divides it by factor.
std::vector<double> blend(const std::vector<double>& ideal, const std::vector<double>& keep, double factor) {
  std::vector<double> out(ideal.size());
  for (std::size_t i = 0; i < ideal.size(); ++i) out[i] = ideal[i] * keep[i] + ideal[i] / factor * (1 - keep[i]);
  return out;
}

double clamp01(double v) { return std::min(1.0, std::max(0.0, v)); }

}  // namespace

std::string number_text(double value) { return number_text("%.10g", value); }

std::string describe_rope(const RopeSpec& spec) {
  std::string text = "rope, d_head " + std::to_string(spec.d_head) + ", base " + number_text(spec.base);
  if (spec.scaling != RopeScaling::kNone) {
    text += ", " + scaling_name(spec.scaling) + " x" + number_text(spec.factor) + " (original context " +
            std::to_string(rope_original_context(spec)) + ")";
  }
  return text;
}

std::string scaling_name(RopeScaling scaling) {
  switch (scaling) {
    case RopeScaling::kNone: return "none";
    case RopeScaling::kLinear: return "linear";
    case RopeScaling::kNtk: return "ntk";
    case RopeScaling::kYarn: return "yarn";
    case RopeScaling::kLlama3: return "llama3";
  }
  return "none";
}

void check_rope_spec(const RopeSpec& spec) {
  if (spec.d_head <= 0 || spec.d_head % 2 != 0 || spec.d_head > kMaxRotaryWidth) {
    throw bad_input("--d-head " + std::to_string(spec.d_head),
                    "a rotated head width must be a positive even number (dimensions rotate in pairs), at most " +
                        std::to_string(kMaxRotaryWidth),
                    "use for example --d-head 128");
  }
  if (!std::isfinite(spec.base) || spec.base <= 1.0) {
    throw bad_input("--base " + number_text(spec.base), "the base (theta) must be a finite number above 1",
                    "Llama 3 uses 500000, Qwen2 1000000, RoFormer 10000");
  }
  if (spec.max_len <= 0 || spec.max_len > (std::int64_t{1} << 31)) {
    throw bad_input("--max-len " + std::to_string(spec.max_len), "the context must be from 1 to 2147483648 positions",
                    "use for example --max-len 8192");
  }
  if (spec.scaling == RopeScaling::kNone) return;
  if (!std::isfinite(spec.factor) || spec.factor < 1.0 || spec.factor > 1e6) {
    throw bad_input("--factor " + number_text(spec.factor), "a context extension factor must be from 1 to 1000000",
                    "use for example --factor 8");
  }
  if (spec.original_max_position_embeddings && *spec.original_max_position_embeddings <= 0) {
    throw bad_input("--original-max-position-embeddings " + std::to_string(*spec.original_max_position_embeddings),
                    "the original context must be positive");
  }
  if (spec.scaling == RopeScaling::kNtk && spec.d_head < 4) {
    throw bad_input("--d-head " + std::to_string(spec.d_head), "NTK-aware scaling needs a width of at least 4");
  }
  if (spec.scaling == RopeScaling::kYarn) {
    if (!(spec.beta_fast > 0) || !(spec.beta_slow > 0) || !std::isfinite(spec.beta_fast) ||
        !std::isfinite(spec.beta_slow) || spec.beta_slow >= spec.beta_fast) {
      throw bad_input("--beta-fast " + number_text(spec.beta_fast) + " --beta-slow " + number_text(spec.beta_slow),
                      "YaRN's rotation counts must be positive with beta_fast above beta_slow", "the usual are 32 and 1");
    }
    if (spec.attention_factor && !(std::isfinite(*spec.attention_factor) && *spec.attention_factor > 0)) {
      throw bad_input("--attention-factor " + number_text(*spec.attention_factor), "must be a positive number");
    }
  }
  if (spec.scaling == RopeScaling::kLlama3) {
    if (!(spec.low_freq_factor > 0) || !std::isfinite(spec.high_freq_factor) ||
        spec.high_freq_factor <= spec.low_freq_factor) {
      throw bad_input("--low-freq-factor " + number_text(spec.low_freq_factor) + " --high-freq-factor " +
                          number_text(spec.high_freq_factor),
                      "Llama 3 needs 0 < low_freq_factor < high_freq_factor", "Llama 3.1 uses 1 and 4");
    }
  }
}

std::int64_t rope_original_context(const RopeSpec& spec) {
  if (spec.original_max_position_embeddings) return *spec.original_max_position_embeddings;
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(spec.max_len / spec.factor)));
}

std::vector<double> rope_inv_freq(const RopeSpec& spec) {
  const std::int64_t pairs = spec.d_head / 2;
  const double d = static_cast<double>(spec.d_head);
  std::vector<double> ideal = powers(spec.base, pairs, spec.d_head);
  const double factor = spec.factor;
  switch (spec.scaling) {
    case RopeScaling::kNone:
      return ideal;
    case RopeScaling::kLinear:
      for (auto& f : ideal) f /= factor;
      return ideal;
    case RopeScaling::kNtk:
      return powers(spec.base * std::pow(factor, d / (d - 2.0)), pairs, spec.d_head);
    case RopeScaling::kYarn: {
      // The pair index at which a frequency turns `rotations` times over the original context.
      const double original = static_cast<double>(rope_original_context(spec));
      const auto correction = [&](double rotations) {
        return d * std::log(original / (rotations * 2 * M_PI)) / (2 * std::log(spec.base));
      };
      const double low = std::max(std::floor(correction(spec.beta_fast)), 0.0);
      double high = std::min(std::ceil(correction(spec.beta_slow)), d - 1);
      if (low == high) high += 0.001;
      std::vector<double> keep(ideal.size());
      for (std::size_t i = 0; i < keep.size(); ++i) keep[i] = 1 - clamp01((static_cast<double>(i) - low) / (high - low));
      return blend(ideal, keep, factor);
    }
    case RopeScaling::kLlama3: {
      const double original = static_cast<double>(rope_original_context(spec));
      const double low_wavelength = original / spec.low_freq_factor, high_wavelength = original / spec.high_freq_factor;
      std::vector<double> keep(ideal.size());
      for (std::size_t i = 0; i < keep.size(); ++i) {
        const double wavelength = 2 * M_PI / ideal[i];
        keep[i] = wavelength < high_wavelength  ? 1.0
                  : wavelength > low_wavelength ? 0.0
                                                : (original / wavelength - spec.low_freq_factor) /
                                                      (spec.high_freq_factor - spec.low_freq_factor);
      }
      return blend(ideal, keep, factor);
    }
  }
  return ideal;
}

double rope_attention_factor(const RopeSpec& spec) {
  if (spec.scaling != RopeScaling::kYarn) return 1.0;
  if (spec.attention_factor) return *spec.attention_factor;
  return spec.factor <= 1 ? 1.0 : 0.1 * std::log(spec.factor) + 1.0;
}

RopeSpec unscaled(const RopeSpec& spec) {
  RopeSpec plain = spec;
  plain.scaling = RopeScaling::kNone;
  plain.factor = 1;
  return plain;
}

std::vector<double> wavelengths(const std::vector<double>& inv_freq) {
  std::vector<double> out;
  out.reserve(inv_freq.size());
  for (double f : inv_freq) out.push_back(2 * M_PI / f);
  return out;
}

std::vector<double> rope_decay(const std::vector<double>& inv_freq, double attention_factor,
                               const std::vector<std::int64_t>& distances) {
  std::vector<double> out(distances.size());
  const double scale = attention_factor * attention_factor / (2.0 * static_cast<double>(inv_freq.size()));
  for (std::size_t k = 0; k < distances.size(); ++k) {
    double sum = 0;
    for (double f : inv_freq) sum += 2 * std::cos(static_cast<double>(distances[k]) * f);
    out[k] = scale * sum;
  }
  return out;
}

namespace {

// Reads numbers of a config.json, refusing values of the wrong kind.
struct ConfigReader {
  const std::string& path;

  std::optional<double> number(const json& object, const char* key, const std::string& where) const {
    if (!object.contains(key) || object[key].is_null()) return std::nullopt;
    if (!object[key].is_number()) throw bad_input(path, where + key + " is not a number");
    return object[key].get<double>();
  }

  std::optional<std::int64_t> whole(const json& object, const char* key, const std::string& where) const {
    const auto v = number(object, key, where);
    if (!v) return std::nullopt;
    if (*v != std::floor(*v) || *v <= 0 || *v > 1e12) throw bad_input(path, where + key + " is not a positive whole number");
    return static_cast<std::int64_t>(*v);
  }
};

// The config's rope_scaling object, into `spec`.
void read_rope_scaling(const ConfigReader& reader, const json& scaling, RopeSpec& spec) {
  if (!scaling.is_object()) throw bad_input(reader.path, "rope_scaling is not an object");
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    if (scaling.contains(key) && scaling[key].is_string()) {
      type = scaling[key].get<std::string>();
      break;
    }
  }
  const std::string where = "rope_scaling.";
  if (type == "default" || type.empty()) {
    spec.scaling = RopeScaling::kNone;
  } else if (type == "linear") {
    spec.scaling = RopeScaling::kLinear;
  } else if (type == "yarn") {
    spec.scaling = RopeScaling::kYarn;
  } else if (type == "llama3") {
    spec.scaling = RopeScaling::kLlama3;
  } else if (type == "dynamic") {
    throw bad_input(reader.path, "rope_scaling type 'dynamic' changes the base with each sequence's length",
                    "draw the static NTK-aware scaling with --kind rope --scaling ntk --factor F");
  } else {
    throw bad_input(reader.path, "pevis does not compute the rope_scaling type '" + one_line(type) + "'",
                    "it computes linear, ntk (static), yarn and llama3");
  }
  if (spec.scaling != RopeScaling::kNone) {
    spec.factor = reader.number(scaling, "factor", where).value_or(1.0);
    spec.original_max_position_embeddings = reader.whole(scaling, "original_max_position_embeddings", where);
    if (spec.scaling == RopeScaling::kYarn && !spec.original_max_position_embeddings) {
      // Hugging Face takes the config's context as the original one for YaRN.
      spec.original_max_position_embeddings = spec.max_len;
    }
    spec.beta_fast = reader.number(scaling, "beta_fast", where).value_or(32.0);
    spec.beta_slow = reader.number(scaling, "beta_slow", where).value_or(1.0);
    spec.low_freq_factor = reader.number(scaling, "low_freq_factor", where).value_or(1.0);
    spec.high_freq_factor = reader.number(scaling, "high_freq_factor", where).value_or(4.0);
    spec.attention_factor = reader.number(scaling, "attention_factor", where);
    const auto mscale = reader.number(scaling, "mscale", where), mscale_all_dim = reader.number(scaling, "mscale_all_dim", where);
    if (spec.scaling == RopeScaling::kYarn && !spec.attention_factor && mscale && mscale_all_dim && spec.factor > 1) {
      // DeepSeek's variant: the ratio of two such factors.
      const double ln = std::log(spec.factor);
      spec.attention_factor = (0.1 * *mscale * ln + 1) / (0.1 * *mscale_all_dim * ln + 1);
    }
    if (spec.original_max_position_embeddings) {
      // The figures cover the extended context.
      const double extended = static_cast<double>(*spec.original_max_position_embeddings) * spec.factor;
      if (extended > static_cast<double>(spec.max_len) && extended < 1e12) {
        spec.max_len = static_cast<std::int64_t>(std::llround(extended));
      }
    }
  }
}

}  // namespace

RopeSpec rope_from_config(const std::string& text, const std::string& path) {
  check_json_depth(text, path);
  json config;
  try {
    config = json::parse(text);
  } catch (const json::exception&) {
    throw bad_input(path, "not valid JSON", "give a model's config.json");
  }
  if (!config.is_object()) throw bad_input(path, "not a JSON object", "give a model's config.json");
  const ConfigReader reader{path};
  RopeSpec spec;
  spec.base = reader.number(config, "rope_theta", "").value_or(10000.0);
  std::optional<std::int64_t> head_dim = reader.whole(config, "head_dim", "");
  if (!head_dim) {
    const auto hidden = reader.whole(config, "hidden_size", ""), heads = reader.whole(config, "num_attention_heads", "");
    if (!hidden || !heads) {
      throw bad_input(path, "it gives neither head_dim nor hidden_size and num_attention_heads",
                      "give the width with --d-head");
    }
    head_dim = *hidden / *heads;
  }
  const double partial = reader.number(config, "partial_rotary_factor", "").value_or(1.0);
  if (!(partial > 0 && partial <= 1)) throw bad_input(path, "partial_rotary_factor must be in (0, 1]");
  spec.d_head = static_cast<std::int64_t>(static_cast<double>(*head_dim) * partial);
  spec.max_len = reader.whole(config, "max_position_embeddings", "").value_or(4096);
  if (config.contains("rope_scaling") && !config["rope_scaling"].is_null()) read_rope_scaling(reader, config["rope_scaling"], spec);
  return spec;
}

double deviation_from(const std::vector<double>& inv_freq, const RopeSpec& spec) {
  const std::vector<double> want = rope_inv_freq(spec);
  if (want.size() != inv_freq.size()) return std::numeric_limits<double>::infinity();
  return max_relative(inv_freq, want);
}

RopeSpec read_rope_config(const std::string& path) {
  const auto source = open_file(path);
  if (source->size() > (16u << 20)) throw bad_input(path, "too large for a config.json (over 16 MB)");
  return rope_from_config(source->read_string(0, source->size()), path);
}

namespace {

// Refuses what no rotary frequency vector is.
void check_inv_freq(const std::vector<double>& values) {
  const std::size_t n = values.size();
  if (n < 2 || n > static_cast<std::size_t>(kMaxRotaryWidth / 2)) {
    throw bad_input("inv_freq", "a rotary frequency vector has from 2 to " + std::to_string(kMaxRotaryWidth / 2) +
                                    " values, one per rotated pair");
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i]) || values[i] <= 0 || (i > 0 && values[i] >= values[i - 1])) {
      throw bad_input("inv_freq", "rotary frequencies must be positive, finite and decreasing (fastest first)");
    }
  }
}

// The base of the longest prefix that a line fits: log f_i = c - (2i/d)
// ln(base); every scaling keeps (or divides by one factor) the fastest pairs.
double fitted_base(const std::vector<double>& values, double d) {
  const std::size_t n = values.size();
  std::vector<double> x, y;
  for (std::size_t i = 0; i < n; ++i) x.push_back(stored_exponent(i, d)), y.push_back(std::log(values[i]));
  // The worst relative deviation of the first k values from a line of this slope.
  const auto worst_of = [&](std::size_t k, double slope) {
    double c = 0;
    for (std::size_t i = 0; i < k; ++i) c += (y[i] - slope * x[i]) / static_cast<double>(k);
    double worst = 0;
    for (std::size_t i = 0; i < k; ++i) worst = std::max(worst, std::fabs(std::exp(c + slope * x[i] - y[i]) - 1));
    return worst;
  };
  // The longest prefix a line fits (the kept pairs of any scaling).
  std::size_t k = n;
  double slope = 0;
  for (; k >= 2; --k) {
    const std::vector<double> xs(x.begin(), x.begin() + static_cast<long>(k)), ys(y.begin(), y.begin() + static_cast<long>(k));
    slope = line_fit(xs, ys).second;
    if (worst_of(k, slope) <= 2 * kTolerance || k == 2) break;
  }
  const double best = std::exp(-slope);
  // A round base (up to 4 significant digits, as bases are chosen) that fits
  // those values as well: a few pairs over a short span of exponents fix the
  // base less tightly than 1e-6. A base made by a formula (NTK-aware
  // scaling's) keeps its digits.
  for (int digits = 1; digits <= 4; ++digits) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, best);
    const double rounded = std::strtod(buffer, nullptr);
    if (rounded > 1 && std::fabs(rounded / best - 1) <= 1e-3 && worst_of(k, -std::log(rounded)) <= 2 * kTolerance) {
      return rounded;
    }
  }
  return round_to_fit(best, kTolerance / 4);
}

// Where Llama 3's smoothing lies: between the wavelengths `from` (kept below)
// and `to` (divided by the factor above).
struct LlamaBand {
  double from = 0, to = 0;
  bool known = false;
};

// keep = (original / wavelength - low) / (high - low) is linear in the
// frequency: two pairs inside the band fix it. With one, it is fixed only
// under Hugging Face's conventions: low_freq_factor 1, a whole
// high_freq_factor, an original context that is a multiple of 256; with
// none, only the wavelengths it lies between are known.
LlamaBand llama_band(const std::vector<double>& ideal, const std::vector<double>& keep,
                     const std::vector<double>& frequency, const std::vector<double>& middle) {
  const std::size_t n = ideal.size();
  LlamaBand band;
  if (frequency.size() >= 2) {
    const auto [a, b] = line_fit(frequency, middle);
    band.from = b / (1 - a), band.to = -b / a, band.known = true;
    return band;
  }
  // The band lies between the last kept pair and the first interpolated one.
  std::size_t last_kept = 0;
  while (last_kept + 1 < n && keep[last_kept + 1] >= 1 - 1e-5) ++last_kept;
  std::size_t first_scaled = last_kept + 1;
  while (first_scaled < n && keep[first_scaled] > 1e-5) ++first_scaled;
  const double shortest = 2 * M_PI / ideal[last_kept];
  const double longest = first_scaled < n ? 2 * M_PI / ideal[first_scaled] : 2 * shortest;
  band.from = shortest, band.to = longest;
  if (frequency.size() != 1) return band;
  const double wavelength = 1 / frequency[0], k = middle[0];
  for (int high = 2; high <= 32; ++high) {
    const double original = wavelength * (1 + k * (high - 1));
    const double round = std::round(original / 256) * 256;
    if (round <= 0 || std::fabs(original - round) > 1e-4 * original) continue;
    if (round / high <= shortest || round / high > wavelength || round < wavelength || round >= longest) continue;
    band.from = round / high, band.to = round, band.known = true;
    return band;
  }
  return band;
}

// A stepped scaling (llama3 or yarn) of `fit.ideal`: kept fastest pairs,
// interpolated slowest ones, keep_i in [0, 1] between; `ratio` is ideal / stored.
void fit_stepped(RopeFit& fit, const std::vector<double>& values, const std::vector<double>& ratio) {
  const std::size_t n = values.size();
  const double factor = round_to_fit(ratio[n - 1], kTolerance / 4);
  std::vector<double> keep(n);
  std::vector<double> index, frequency, middle;
  for (std::size_t i = 0; i < n; ++i) {
    keep[i] = (1 / ratio[i] - 1 / factor) / (1 - 1 / factor);
    if (keep[i] > 1e-5 && keep[i] < 1 - 1e-5) {
      index.push_back(static_cast<double>(i));
      frequency.push_back(fit.ideal[i] / (2 * M_PI));
      middle.push_back(keep[i]);
    }
  }
  fit.factor = factor;
  std::vector<double> yarn_keep(n), llama_keep(n);
  // YaRN: keep falls linearly with the pair index.
  double low = 0, high = 0;
  if (index.size() >= 2) {
    const auto [a, b] = line_fit(index, middle);
    low = (1 - a) / b, high = -a / b;  // keep = 1 at low, 0 at high
  } else {
    std::size_t last_kept = 0;
    while (last_kept + 1 < n && keep[last_kept + 1] >= 1 - 1e-5) ++last_kept;
    low = static_cast<double>(last_kept), high = low + (index.empty() ? 1.0 : 2.0);
  }
  for (std::size_t i = 0; i < n; ++i) yarn_keep[i] = 1 - clamp01((static_cast<double>(i) - low) / (high - low));
  // Llama 3: keep rises linearly with the frequency (1 / wavelength).
  const LlamaBand band = llama_band(fit.ideal, keep, frequency, middle);
  fit.band_known = band.known;
  for (std::size_t i = 0; i < n; ++i) {
    const double wavelength = 2 * M_PI / fit.ideal[i];
    const bool inside = keep[i] > 1e-5 && keep[i] < 1 - 1e-5;
    if (!band.known && inside) {
      llama_keep[i] = keep[i];  // the band is not known: its pairs are as stored
    } else {
      llama_keep[i] = wavelength < band.from ? 1.0
                      : wavelength > band.to ? 0.0
                                             : clamp01((1 / wavelength - 1 / band.to) / (1 / band.from - 1 / band.to));
    }
  }
  const double from = band.from, to = band.to;
  const auto yarn = blend(fit.ideal, yarn_keep, factor), llama = blend(fit.ideal, llama_keep, factor);
  if (max_relative(llama, values) <= max_relative(yarn, values)) {
    fit.scaling = RopeScaling::kLlama3;
    fit.smooth_from = round_to_fit(from, 1e-5);
    fit.smooth_to = round_to_fit(to, 1e-5);
    fit.fitted = llama;
  } else {
    fit.scaling = RopeScaling::kYarn;
    fit.ramp_low = round_to_fit(low, 1e-5);
    fit.ramp_high = round_to_fit(high, 1e-5);
    fit.fitted = yarn;
  }
}

// What the fit says: "base 500000 (d_head 128), llama3 scaling x8: ...".
std::string fit_description(const RopeFit& fit) {
  const double d = static_cast<double>(fit.d_head);
  std::ostringstream text;
  text << "base " << number_text(fit.base) << " (d_head " << fit.d_head << ")";
  switch (fit.scaling) {
    case RopeScaling::kNone: {
      text << ", no scaling";
      // A base that is a round base times factor^(d/(d-2)) is NTK-aware scaling.
      for (int factor = 2; factor <= 64; ++factor) {
        const double original = fit.base / std::pow(factor, d / (d - 2));
        const double round = round_to_fit(original, 1e-7);
        char digits[64];
        std::snprintf(digits, sizeof digits, "%.2g", round);
        if (original > 1 && std::strtod(digits, nullptr) == round) {
          text << " (or NTK-aware scaling x" << factor << " of base " << number_text(round) << ")";
          break;
        }
      }
      break;
    }
    case RopeScaling::kLinear:
      text << ", linear scaling x" << number_text(fit.factor);
      break;
    case RopeScaling::kLlama3:
      if (!fit.band_known) {
        text << ", llama3 scaling x" << number_text(fit.factor) << ": smoothed between wavelengths "
             << number_text(std::round(fit.smooth_from * 1000) / 1000) << " and "
             << number_text(std::round(fit.smooth_to * 1000) / 1000) << " (with " << fit.pairs
             << " pairs, too few inside the band to tell its original context and frequency factors)";
        break;
      }
      text << ", llama3 scaling x" << number_text(fit.factor) << ": kept below wavelength "
           << number_text(std::round(fit.smooth_from * 1000) / 1000) << ", interpolated above "
           << number_text(std::round(fit.smooth_to * 1000) / 1000) << " (with low_freq_factor 1: original context "
           << number_text(std::round(fit.smooth_to)) << ", high_freq_factor "
           << number_text(std::round(fit.smooth_to / fit.smooth_from * 1000) / 1000) << ")";
      break;
    case RopeScaling::kYarn:
      text << ", yarn scaling x" << number_text(fit.factor) << ": pairs kept up to " << number_text(fit.ramp_low)
           << ", interpolated from " << number_text(fit.ramp_high);
      break;
    case RopeScaling::kNtk:
      break;
  }
  return text.str();
}

}  // namespace

RopeFit fit_inv_freq(const std::vector<double>& values, std::optional<double> base) {
  check_inv_freq(values);
  const std::size_t n = values.size();
  RopeFit fit;
  fit.pairs = static_cast<std::int64_t>(n);
  fit.d_head = 2 * fit.pairs;
  const double d = static_cast<double>(fit.d_head);
  fit.base = base ? *base : fitted_base(values, d);
  fit.ideal = stored_powers(fit.base, fit.pairs, fit.d_head);
  std::vector<double> ratio(n);  // ideal / stored: 1 where kept, the factor where interpolated
  for (std::size_t i = 0; i < n; ++i) ratio[i] = fit.ideal[i] / values[i];

  bool constant = true;
  for (double r : ratio) constant = constant && std::fabs(r / ratio[0] - 1) <= kTolerance;
  // A stepped scaling keeps some fastest pairs as they are and divides some
  // slowest ones by its whole factor; without both, a base that is slightly
  // off would pass for one.
  std::size_t kept = 0, interpolated = 0;
  for (double r : ratio) kept += std::fabs(r - 1) <= kTolerance, interpolated += std::fabs(r / ratio[n - 1] - 1) <= kTolerance;
  const bool stepped = !constant && kept >= 2 && interpolated >= 2 && ratio[n - 1] >= 1.01;
  if (stepped) {
    fit_stepped(fit, values, ratio);
  } else {
    fit.factor = round_to_fit(ratio[0], kTolerance / 4);
    fit.scaling = std::fabs(fit.factor - 1) <= kTolerance ? RopeScaling::kNone : RopeScaling::kLinear;
    if (fit.scaling == RopeScaling::kNone) fit.factor = 1;
    fit.fitted = fit.ideal;
    for (auto& f : fit.fitted) f /= fit.factor;
  }
  fit.max_relative_deviation = max_relative(values, fit.fitted);
  fit.matches = fit.max_relative_deviation <= kTolerance;
  fit.description = fit_description(fit);
  return fit;
}

}  // namespace pevis
