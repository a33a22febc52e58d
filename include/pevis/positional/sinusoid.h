#pragma once

// The computed sinusoidal table without LibTorch: the encoding job that needs
// no model runs in the small front executable, and this header keeps it there.

#include <cstdint>
#include <string>
#include <vector>

#include "pevis/base/matrix.h"
#include "pevis/base/memory.h"

namespace pevis {

/// Parameters of the sinusoidal positional encoding of "Attention Is All You
/// Need", as the PyTorch word-language-model example computes it.
struct SinusoidalSpec {
  std::int64_t d_model = 512;   ///< embedding width; must be even and positive
  std::int64_t max_len = 5000;  ///< number of positions
  double base = 10000.0;        ///< the wavelength base; must be finite and > 1
};

/// Checks a spec before anything is allocated: `d_model` even and positive,
/// `max_len` positive, `base` finite and above 1, and `extra_bytes` (copies
/// the caller will make) plus the table's own cost within `budget`. Throws
/// `pevis::Error` (exit 3) naming the value, the size it would need, the
/// budget and the limit behind it.
void check_sinusoidal_spec(const SinusoidalSpec& spec, const MemoryBudget& budget, std::uint64_t extra_bytes = 0);

/// The table `pe` [max_len, d_model], row-major float32, computed as
/// PyTorch's example computes it, step by step in float32:
/// `div = exp(arange(0, D, 2) * float(-ln(base)/D))`, `angle = pos * div`,
/// `pe[:, 0::2] = sin(angle)`, `pe[:, 1::2] = cos(angle)`. exp, sin and cos
/// are the functions LibTorch's CPU kernels call: SLEEF's 1-ulp vector
/// functions where the CPU has AVX2, the C library's float functions
/// elsewhere. Call `check_sinusoidal_spec` first; this one only asserts.
std::vector<float> sinusoid_values(const SinusoidalSpec& spec);

/// Whether `sinusoid_values` uses SLEEF's AVX2 functions on this CPU.
bool sinusoid_uses_sleef();

/// How position similarity is measured.
enum class Similarity { kDot, kCosine };

/// The [rows, rows] similarities between the first `rows` rows of a
/// row-major table `width` wide: dot products, or cosines (rows scaled to
/// unit length; a zero row gives 0). Sums are taken in double and rounded to
/// float once.
std::vector<float> row_similarity(const float* table, std::int64_t rows, std::int64_t width, Similarity kind);

/// Dimensions worth drawing as lines for a width `d_model`: a fast pair
/// (0, 1), then even dimensions at 1/8, 1/4 and 1/2 of the width and the
/// last even one, so that waves from fast to slow show.
std::vector<std::int64_t> default_dims(std::int64_t d_model);

/// Bytes the encoding job holds besides the table: the copy of `rows` x
/// `cols` values written as data and the one drawn (each only when asked
/// for), their labels, and the similarity of `window` positions.
std::uint64_t encoding_copies_bytes(std::int64_t rows, std::int64_t cols, std::int64_t window, bool data, bool figures);

/// A labelled matrix of `rows` x `cols` row-major values.
LabeledMatrix labeled(std::vector<float> values, std::size_t rows, std::size_t cols, std::string name,
                      std::string row_title, std::vector<std::string> row_labels, std::vector<std::string> col_labels);

}  // namespace pevis
