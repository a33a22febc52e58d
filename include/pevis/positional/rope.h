#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pevis {

/// The widest rotated head pevis computes or reads (heads of today's models
/// rotate 64 to 256 dimensions): it bounds the decay curve's work.
constexpr std::int64_t kMaxRotaryWidth = 8192;

/// How rotary frequencies are rescaled to reach a longer context. The names
/// are those of Hugging Face's `rope_scaling.rope_type`.
enum class RopeScaling {
  kNone,    ///< RoFormer's frequencies base^(-2i/d)
  kLinear,  ///< position interpolation (Chen et al. 2023): every frequency / factor
  kNtk,     ///< NTK-aware: base * factor^(d/(d-2)), which interpolates the slowest pair
  kYarn,    ///< YaRN (Peng et al. 2023): a ramp over pairs from kept to interpolated, and an attention factor
  kLlama3,  ///< Llama 3.1: kept below one wavelength, interpolated above another, smoothed between
};

/// The name used on the command line and in config.json ("none", "linear", ...).
std::string scaling_name(RopeScaling scaling);

/// Rotary position embedding of one attention head. Parameter names follow
/// Hugging Face's `rope_scaling` keys.
struct RopeSpec {
  std::int64_t d_head = 128;   ///< rotated width of a head; even and positive
  double base = 10000.0;       ///< theta; finite and above 1
  std::int64_t max_len = 4096; ///< context length the figures and checks use
  RopeScaling scaling = RopeScaling::kNone;
  double factor = 1.0;                                       ///< context extension factor, >= 1
  std::optional<std::int64_t> original_max_position_embeddings;  ///< the context trained before scaling
  double beta_fast = 32.0;        ///< YaRN: rotations below which pairs are interpolated
  double beta_slow = 1.0;         ///< YaRN: rotations above which pairs are kept
  double low_freq_factor = 1.0;   ///< Llama 3: original / this = the wavelength above which pairs are interpolated
  double high_freq_factor = 4.0;  ///< Llama 3: original / this = the wavelength below which pairs are kept
  std::optional<double> attention_factor;  ///< YaRN: scale of cos and sin (default 0.1 ln(factor) + 1)
};

/// A number as pevis's messages spell it: up to 10 significant digits.
std::string number_text(double value);

/// "rope, d_head 128, base 500000, llama3 x8 (original context 8192)".
std::string describe_rope(const RopeSpec& spec);

/// Checks a spec before anything is computed: even positive width, base above
/// 1, positive context, a factor of at least 1 and the parameters its scaling
/// needs. Throws `pevis::Error` (exit 3) naming the option.
void check_rope_spec(const RopeSpec& spec);

/// The context before scaling: `original_max_position_embeddings`, else
/// `max_len / factor`.
std::int64_t rope_original_context(const RopeSpec& spec);

/// Frequencies theta_i (radians per position) of the d_head/2 pairs, after the
/// scaling, in double precision.
std::vector<double> rope_inv_freq(const RopeSpec& spec);

/// The factor on cos and sin: YaRN's attention factor, 1 for the others.
double rope_attention_factor(const RopeSpec& spec);

/// The same spec without its scaling (what the model was trained with).
RopeSpec unscaled(const RopeSpec& spec);

/// Wavelengths 2*pi/theta_i in positions.
std::vector<double> wavelengths(const std::vector<double>& inv_freq);

/// The mean score per dimension between a constant query and a constant key
/// (all ones) `distance` positions apart: a^2 * sum_i 2 cos(distance theta_i) / d_head,
/// for each of `distances`. RoFormer's long-term decay.
std::vector<double> rope_decay(const std::vector<double>& inv_freq, double attention_factor,
                               const std::vector<std::int64_t>& distances);

/// Reads a model's `config.json` text: `rope_theta`, `rope_scaling` (with
/// `rope_type` or the older `type`), `head_dim` or `hidden_size` /
/// `num_attention_heads`, `partial_rotary_factor`, and
/// `max_position_embeddings` as the context. Throws `pevis::Error` (exit 3)
/// naming `path` and the key for malformed JSON, missing sizes, or a scaling
/// pevis does not compute.
RopeSpec rope_from_config(const std::string& text, const std::string& path);

/// Reads a config.json file (at most 16 MB) and then as `rope_from_config`.
RopeSpec read_rope_config(const std::string& path);

/// The largest relative difference between stored frequencies and those of
/// `spec`, or infinity when their pair counts differ.
double deviation_from(const std::vector<double>& inv_freq, const RopeSpec& spec);

/// What a stored `inv_freq` vector turns out to be.
struct RopeFit {
  std::int64_t pairs = 0;
  std::int64_t d_head = 0;     ///< 2 * pairs
  double base = 0;             ///< the base that fits (or the one asked for)
  RopeScaling scaling = RopeScaling::kNone;
  double factor = 1;           ///< the scaling's factor
  /// Llama 3: the wavelengths between which frequencies are smoothed
  /// (original / high_freq_factor, original / low_freq_factor).
  double smooth_from = 0, smooth_to = 0;
  /// Llama 3: whether the stored values fix the band. With one pair or none
  /// inside it, they fix it only under Hugging Face's conventions
  /// (low_freq_factor 1, a whole high_freq_factor, an original context that
  /// is a multiple of 256); else only the wavelengths it lies between.
  bool band_known = true;
  /// YaRN: the pair indexes where the ramp starts and ends.
  double ramp_low = 0, ramp_high = 0;
  double max_relative_deviation = 0;  ///< of the stored values from the fitted formula
  bool matches = false;               ///< deviation within 1e-6
  std::string description;            ///< e.g. "base 500000, llama3 scaling x8 (smoothed between ...)"
  std::vector<double> ideal;          ///< the unscaled frequencies of `base`
  std::vector<double> fitted;         ///< the fitted formula's frequencies
};

/// Fits a stored `inv_freq` (float values, fastest first) with RoFormer's
/// frequencies of some base, then with each scaling: linear (one factor),
/// YaRN (a ramp linear in the pair index) and Llama 3 (smoothing linear in
/// the frequency). NTK-aware scaling is a change of base and is reported as
/// that base. With `base`, that base is used instead of the fitted one.
/// Throws `pevis::Error` (exit 3) for fewer than 2 or more than
/// kMaxRotaryWidth / 2 values, or values that are not positive, finite and
/// decreasing.
RopeFit fit_inv_freq(const std::vector<double>& inv_freq, std::optional<double> base = std::nullopt);

}  // namespace pevis
