// The vector part of the sinusoidal table, compiled for AVX2 and called only
// on CPUs that have it. It holds no templates or inline library code, so that
// no AVX2 instruction reaches code the rest of the program shares.
#include <immintrin.h>
#include <sleef.h>

#include <cstdint>

namespace pevis::detail {

// div[i] = exp(div[i]) for count values, count a multiple of 8.
void exp_avx2(float* div, std::int64_t count) {
  for (std::int64_t i = 0; i < count; i += 8) _mm256_storeu_ps(div + i, Sleef_expf8_u10(_mm256_loadu_ps(div + i)));
}

// Rows [first, first + rows) of the table: angle = float(p) * div[i], sin in even
// columns, cos in odd ones. `div` and `scratch` hold `padded` floats (a
// multiple of 8, at least pairs); `out` has rows * 2 * pairs floats.
void sinusoid_rows_avx2(const float* div, std::int64_t pairs, std::int64_t padded, std::int64_t first, std::int64_t rows,
                        float* scratch, float* out) {
  float* sines = scratch;
  float* cosines = scratch + padded;
  for (std::int64_t p = 0; p < rows; ++p) {
    const __m256 position = _mm256_set1_ps(static_cast<float>(first + p));
    for (std::int64_t i = 0; i < padded; i += 8) {
      const __m256 angle = _mm256_mul_ps(position, _mm256_loadu_ps(div + i));
      _mm256_storeu_ps(sines + i, Sleef_sinf8_u10(angle));
      _mm256_storeu_ps(cosines + i, Sleef_cosf8_u10(angle));
    }
    float* row = out + p * 2 * pairs;
    for (std::int64_t i = 0; i < pairs; ++i) {
      row[2 * i] = sines[i];
      row[2 * i + 1] = cosines[i];
    }
  }
}

}  // namespace pevis::detail
