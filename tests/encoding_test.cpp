#include "pevis/encoding/encoding.h"

#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cos.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/sin.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "pevis/base/error.h"
#include "pevis/operators/torch_version.h"

namespace pevis {
namespace {

// One block of tests/data/sinusoidal_reference.txt (made by make_fixtures.py
// with PyTorch's own formula).
struct Reference {
  std::string kind;  // "table" or "similarity"
  SinusoidalSpec spec;
  std::string similarity;
  std::vector<std::int64_t> rows;             // table: the positions given
  std::vector<std::vector<double>> values;
};

std::vector<Reference> load_references() {
  std::ifstream in(std::string(PEVIS_TEST_DATA) + "/sinusoidal_reference.txt");
  std::vector<Reference> refs;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream header(line);
    Reference ref;
    std::size_t count = 0;
    header >> ref.kind >> ref.spec.d_model >> ref.spec.max_len >> ref.spec.base >> count;
    if (ref.kind == "similarity") header >> ref.similarity;
    for (std::size_t i = 0; i < count && std::getline(in, line); ++i) {
      std::istringstream values(line);
      if (ref.kind == "table") {
        std::int64_t position = 0;
        values >> position;
        ref.rows.push_back(position);
      }
      std::vector<double> row;
      double v = 0;
      while (values >> v) row.push_back(v);
      ref.values.push_back(row);
    }
    refs.push_back(ref);
  }
  return refs;
}

TEST(Sinusoidal, MatchesPyTorchTo1e6) {
  const auto refs = load_references();
  std::size_t tables = 0, compared = 0;
  for (const auto& ref : refs) {
    if (ref.kind != "table") continue;
    ++tables;
    const at::Tensor pe = sinusoidal_table(ref.spec);
    ASSERT_EQ(pe.dim(), 2);
    ASSERT_EQ(pe.size(0), ref.spec.max_len);
    ASSERT_EQ(pe.size(1), ref.spec.d_model);
    ASSERT_EQ(pe.scalar_type(), at::kFloat);
    for (std::size_t i = 0; i < ref.rows.size(); ++i) {
      ASSERT_EQ(static_cast<std::int64_t>(ref.values[i].size()), ref.spec.d_model);
      for (std::int64_t d = 0; d < ref.spec.d_model; ++d) {
        const double got = pe[ref.rows[i]][d].item<float>();
        EXPECT_NEAR(got, ref.values[i][d], 1e-6) << "d_model " << ref.spec.d_model << " base " << ref.spec.base
                                                 << " position " << ref.rows[i] << " dim " << d;
        ++compared;
      }
    }
  }
  EXPECT_GE(tables, 6u);
  EXPECT_GT(compared, 10000u);
}

// The table as LibTorch computes it with PyTorch's example, op by op.
at::Tensor libtorch_table(const SinusoidalSpec& spec) {
  const auto options = at::TensorOptions().dtype(at::kFloat);
  at::Tensor pe = at::empty({spec.max_len, spec.d_model}, options);
  const at::Tensor position = at::arange(0, spec.max_len, options).unsqueeze(1);
  const at::Tensor div_term =
      at::exp(at::arange(0, spec.d_model, 2).to(at::kFloat) * (-std::log(spec.base) / static_cast<double>(spec.d_model)));
  pe.slice(1, 0, spec.d_model, 2).copy_(at::sin(position * div_term));
  pe.slice(1, 1, spec.d_model, 2).copy_(at::cos(position * div_term));
  return pe;
}

// Computed without LibTorch (the front executable), the table equals
// LibTorch's own at every size the tests and the README use, position 4999
// of 5000 x 512 included: within 1e-6, and on CPUs with AVX2 (SLEEF, the
// functions LibTorch 1.13 calls) bit for bit where LibTorch is 1.13
// (torch_version.h).
TEST(Sinusoidal, EqualsLibTorchsOwnTable) {
  const SinusoidalSpec specs[] = {{512, 5000, 10000.0}, {64, 5000, 10000.0}, {16, 40, 10000.0}, {8, 30, 10000.0},
                                  {4, 3, 10000.0},      {128, 1000, 10000.0}, {6, 17, 100.0},   {1024, 2048, 500000.0},
                                  {2, 1, 10000.0},      {10, 9, 1.5}};
  for (const auto& spec : specs) {
    const std::vector<float> ours = sinusoid_values(spec);
    const at::Tensor theirs = libtorch_table(spec).contiguous();
    ASSERT_EQ(ours.size(), static_cast<std::size_t>(theirs.numel()));
    const float* t = theirs.data_ptr<float>();
    double worst = 0;
    std::size_t different = 0;
    for (std::size_t i = 0; i < ours.size(); ++i) {
      worst = std::max(worst, std::fabs(static_cast<double>(ours[i]) - t[i]));
      different += ours[i] != t[i];
    }
    EXPECT_LE(worst, 1e-6) << spec.d_model << " x " << spec.max_len;
    if (sinusoid_uses_sleef() && PEVIS_TORCH_SINUSOID_BIT_EXACT) {
      EXPECT_EQ(different, 0u) << spec.d_model << " x " << spec.max_len << ", worst " << worst;
    }
    if (spec.max_len == 5000 && spec.d_model == 512) {
      for (std::int64_t d = 0; d < 512; ++d) ASSERT_NEAR(ours[4999 * 512 + static_cast<std::size_t>(d)], t[4999 * 512 + d], 1e-6);
    }
  }
}

TEST(Sinusoidal, SimilarityMatchesPyTorch) {
  std::size_t cases = 0;
  for (const auto& ref : load_references()) {
    if (ref.kind != "similarity") continue;
    ++cases;
    const auto n = static_cast<std::int64_t>(ref.values.size());
    const std::vector<float> table = sinusoid_values(ref.spec);
    const std::vector<float> sim = row_similarity(table.data(), n, ref.spec.d_model,
                                                  ref.similarity == "cosine" ? Similarity::kCosine : Similarity::kDot);
    ASSERT_EQ(sim.size(), static_cast<std::size_t>(n * n));
    for (std::int64_t r = 0; r < n; ++r) {
      for (std::int64_t c = 0; c < n; ++c) {
        // Dot products of 16..64 terms near 1: PyTorch's float32 sums and
        // these double ones agree to a few float ulps.
        EXPECT_NEAR(sim[static_cast<std::size_t>(r * n + c)], ref.values[r][c], 1e-5 * std::max(1.0, std::fabs(ref.values[r][c])));
      }
    }
  }
  EXPECT_EQ(cases, 2u);
}

TEST(Sinusoidal, PairsAreSinAndCosOfTheSameAngle) {
  const at::Tensor pe = sinusoidal_table({8, 30, 10000.0});
  for (std::int64_t p = 0; p < 30; ++p) {
    for (std::int64_t d = 0; d < 8; d += 2) {
      const float s = pe[p][d].item<float>(), c = pe[p][d + 1].item<float>();
      EXPECT_NEAR(s * s + c * c, 1.0, 1e-6);
    }
  }
}

ExitCode code_of(const SinusoidalSpec& spec, std::uint64_t limit = 1ull << 34) {
  try {
    check_sinusoidal_spec(spec, MemoryBudget{limit, "a test's limit"});
  } catch (const Error& e) {
    return e.code();
  }
  return ExitCode::kSuccess;
}

TEST(Sinusoidal, RefusesBadSizesBeforeAllocating) {
  EXPECT_EQ(code_of({512, 5000, 10000.0}), ExitCode::kSuccess);
  EXPECT_EQ(code_of({7, 10, 10000.0}), ExitCode::kBadInput);
  EXPECT_EQ(code_of({0, 10, 10000.0}), ExitCode::kBadInput);
  EXPECT_EQ(code_of({-4, 10, 10000.0}), ExitCode::kBadInput);
  EXPECT_EQ(code_of({4, 0, 10000.0}), ExitCode::kBadInput);
  EXPECT_EQ(code_of({4, -1, 10000.0}), ExitCode::kBadInput);
  EXPECT_EQ(code_of({4, 10, 1.0}), ExitCode::kBadInput);
  EXPECT_EQ(code_of({4, 10, std::nan("")}), ExitCode::kBadInput);
  EXPECT_EQ(code_of({4, 10, INFINITY}), ExitCode::kBadInput);
  // 10^7 positions x 10^5 dimensions: 4 TB for the table alone.
  EXPECT_EQ(code_of({100000, 10000000, 10000.0}), ExitCode::kBadInput);
  // Products that overflow 64 bits are still refused, not wrapped around.
  EXPECT_EQ(code_of({std::int64_t{1} << 40, std::int64_t{1} << 40, 10000.0}), ExitCode::kBadInput);
  // The limit is what is passed in: a small table fits 1 MB, a larger one does not.
  EXPECT_EQ(code_of({64, 100, 10000.0}, 1000000), ExitCode::kSuccess);
  EXPECT_EQ(code_of({512, 5000, 10000.0}, 1000000), ExitCode::kBadInput);
}

TEST(Sinusoidal, MessagesNameTheValueAndTheSize) {
  try {
    check_sinusoidal_spec({100000, 10000000, 10000.0}, MemoryBudget{1ull << 34, "a test's limit"});
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("17.2 GB is left under a test's limit"), std::string::npos) << message;
    EXPECT_NE(message.find("--positions"), std::string::npos) << message;
    EXPECT_NE(message.find("--max-len 10000000 --d-model 100000"), std::string::npos) << message;
    EXPECT_NE(message.find("TB"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  try {
    check_sinusoidal_spec({7, 10, 10000.0}, MemoryBudget{1ull << 34, "a test's limit"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--d-model 7"), std::string::npos);
  }
}

TEST(Sinusoidal, DefaultDimsRunFromFastToSlow) {
  EXPECT_EQ(default_dims(512), (std::vector<std::int64_t>{0, 1, 64, 128, 256, 510}));
  EXPECT_EQ(default_dims(2), (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(default_dims(4), (std::vector<std::int64_t>{0, 1, 2}));
  for (auto d : default_dims(1000)) EXPECT_LT(d, 1000);
}

TEST(Sinusoidal, ToMatrixKeepsValuesAndLabels) {
  const at::Tensor pe = sinusoidal_table({4, 3, 10000.0});
  const LabeledMatrix m = to_matrix(pe, "pe", "position", index_labels(3, 5), index_labels(4));
  ASSERT_EQ(m.rows, 3u);
  ASSERT_EQ(m.cols, 4u);
  EXPECT_EQ(m.row_labels, (std::vector<std::string>{"5", "6", "7"}));
  EXPECT_EQ(m.col_labels.back(), "3");
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t c = 0; c < 4; ++c) EXPECT_EQ(m.at(r, c), pe[r][c].item<float>());
}

}  // namespace
}  // namespace pevis
