#include "pevis/positional/alibi.h"

#include <cmath>
#include <limits>
#include <string>

#include "pevis/base/error.h"

namespace pevis {

std::vector<double> alibi_slopes(std::int64_t heads) {
  if (heads < 1 || heads > 65536) {
    throw bad_input("--heads " + std::to_string(heads), "the number of heads must be from 1 to 65536",
                    "BLOOM-176B has 112, MPT-7B 32");
  }
  const auto geometric = [](std::int64_t n) {
    const double start = std::pow(2.0, -8.0 / static_cast<double>(n));
    std::vector<double> out;
    for (std::int64_t i = 0; i < n; ++i) out.push_back(std::pow(start, static_cast<double>(i + 1)));
    return out;
  };
  if ((heads & (heads - 1)) == 0) return geometric(heads);
  std::int64_t closest = 1;
  while (closest * 2 <= heads) closest *= 2;
  std::vector<double> slopes = geometric(closest);
  const std::vector<double> twice = geometric(2 * closest);
  for (std::size_t i = 0; static_cast<std::int64_t>(slopes.size()) < heads; i += 2) slopes.push_back(twice[i]);
  return slopes;
}

std::vector<float> alibi_bias(double slope, std::int64_t n) {
  std::vector<float> bias(static_cast<std::size_t>(n * n));
  float* out = bias.data();
  for (std::int64_t q = 0; q < n; ++q) {
    for (std::int64_t k = 0; k < n; ++k) {
      out[q * n + k] = k <= q ? static_cast<float>(-slope * static_cast<double>(q - k))
                              : std::numeric_limits<float>::quiet_NaN();
    }
  }
  return bias;
}

}  // namespace pevis
