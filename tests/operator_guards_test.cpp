// The guards of allowed operators whose LibTorch kernels trust their
// arguments: each hostile call is refused in one line before the kernel
// runs (it crashed pevis with SIGSEGV or SIGFPE before), and ordinary calls
// compute what they always did.
#include "pevis/operators/operator_guards.h"

#include <gtest/gtest.h>
#include <torch/script.h>

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/pixel_shuffle.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>

#include "pevis/operators/allowed_ops.h"
#include "test_util.h"

namespace pevis {
namespace {

// The forward of a module whose code is `body` (one expression of x), run on `x`.
at::Tensor run(const std::string& body, const at::Tensor& x) {
  install_operator_guards();
  torch::jit::Module m("Guarded");
  m.define("def forward(self, x):\n    return " + body + "\n");
  torch::NoGradGuard no_grad;
  return m.forward({x}).toTensor();
}

// The line of the call's refusal (the interpreter puts its traceback
// around it), or "" when it ran.
std::string refusal(const std::string& body, const at::Tensor& x) {
  try {
    run(body, x);
    return "";
  } catch (const std::exception& e) {
    const std::string text = e.what();
    const auto at = text.find("aten::");
    if (at == std::string::npos) return text;
    const auto end = text.find('\n', at);
    return text.substr(at, end == std::string::npos ? std::string::npos : end - at);
  }
}

struct Case {
  std::string body, says;
};

TEST(OperatorGuards, HostileArgumentsAreRefusedBeforeTheKernel) {
  const at::Tensor x = at::randn({1, 4, 4, 4});
  const std::vector<Case> cases = {
      {"torch.searchsorted(torch.arange(5.), torch.tensor([2.]), sorter=torch.tensor([0, 1, 2, 3, 1 << 40]))",
       "the sorter holds indexes from 0 to 1099511627776"},
      {"torch.native_batch_norm(torch.zeros([1, 4194304]), torch.ones([1]), None, torch.zeros([1]), "
       "torch.ones([1]), False, 0.1, 1e-5)[0]",
       "weight has 1 values for 4194304 channels"},
      {"torch.batch_norm(torch.zeros([1, 4194304]), None, None, torch.zeros([1]), torch.ones([1]), False, 0.1, 1e-5, "
       "False)",
       "running_mean has 1 values for 4194304 channels"},
      {"torch._upsample_bicubic2d_aa(x, [4, 4], False, 1e-12, 1e-12)", "a scale of 1e-12"},
      {"torch._upsample_bilinear2d_aa(x, [4, 4], False, 1e-12, 1e-12)", "a scale of 1e-12"},
      {"torch.max_unpool2d(x, torch.zeros([1, 4, 4, 4], dtype=4), [])",
       "output_size has 0 values, not 2"},
      {"torch.max_unpool3d(x, torch.zeros([1, 4, 4, 4], dtype=4), [], [], [])",
       "output_size has 0 values, not 3"},
      {"torch.max_unpool2d(x, torch.full([1, 4, 4, 4], 1 << 40, dtype=4), [4, 4])",
       "outside an output plane of 16"},
      {"torch.reflection_pad2d(x, [])", "padding has 0 values, not 4"},
      {"torch.native_channel_shuffle(x, 0)", "0 groups"},
      {"torch.channel_shuffle(x, 0)", "0 groups"},
      {"torch.pixel_shuffle(x, 1 << 62)", "a factor of 4611686018427387904"},
      {"torch.pixel_unshuffle(x, 0)", "a factor of 0"},
      {"torch.native_group_norm(x, None, None, 1, 4, 1 << 20, 2, 1e-5)[0]", "is not the input's 64 values"},
      // Found by fuzz_guards (SIGFPE and SIGSEGV in the kernels before).
      {"torch.channel_shuffle(torch.zeros([1, 4, 0, 2]), 2)", "is empty"},
      {"torch.native_batch_norm(torch.zeros([0, 3]), None, None, None, None, True, 0.1, 1e-5)[0]", "is empty"},
      {"torch.native_batch_norm(torch.zeros([2, 3]), None, None, None, None, False, 0.1, 1e-5)[0]",
       "running statistics that are not given"},
      // A tiny scale for a width of 2 taken to 2 passed the guard's rounding margin (SIGSEGV).
      {"torch._upsample_bilinear2d_aa(torch.zeros([4, 4, 4, 2]), [9, 2], False, None, 1e-12)", "a scale of 1e-12"},
      {"torch._upsample_bicubic2d_aa(torch.zeros([4, 4, 2, 1]), [2, 1], False, 1e-12, None)", "a scale of 1e-12"},
  };
  for (const auto& c : cases) {
    const std::string message = refusal(c.body, x);
    EXPECT_NE(message.find(c.says), std::string::npos) << c.body << "\n" << message;
  }
}

TEST(OperatorGuards, OrdinaryCallsComputeAsBefore) {
  const at::Tensor x = at::arange(64.).reshape({1, 4, 4, 4});
  EXPECT_TRUE(at::equal(run("torch.pixel_shuffle(x, 2)", x), at::pixel_shuffle(x, 2)));
  EXPECT_EQ(run("torch.pixel_unshuffle(x, 2)", x).sizes(), (std::vector<std::int64_t>{1, 16, 2, 2}));
  EXPECT_EQ(run("torch.channel_shuffle(x, 2)", x).sizes(), x.sizes());
  EXPECT_EQ(run("torch.reflection_pad2d(x, [1, 1, 1, 1])", x).sizes(), (std::vector<std::int64_t>{1, 4, 6, 6}));
  EXPECT_EQ(run("torch._upsample_bilinear2d_aa(x, [2, 2], False, 0.5, 0.5)", x).sizes(),
            (std::vector<std::int64_t>{1, 4, 2, 2}));
  EXPECT_EQ(run("torch.batch_norm(x, torch.ones([4]), torch.zeros([4]), torch.zeros([4]), torch.ones([4]), False, "
                "0.1, 1e-5, False)",
                x)
                .sizes(),
            x.sizes());
  // [3, 1, 2] sorted by [1, 2, 0] is [1, 2, 3]: 0 and 1 go before index 0 and 0, 2 before index 1.
  const at::Tensor found =
      run("torch.searchsorted(torch.tensor([3., 1., 2.]), x.flatten()[:3], sorter=torch.tensor([1, 2, 0]))", x);
  EXPECT_TRUE(at::equal(found, at::tensor({0, 0, 1}, at::kLong))) << found;
}

// Every guarded operator is on the allow-list (a guard for an operator a
// model may not call would guard nothing).
TEST(OperatorGuards, EveryGuardedOperatorIsAllowed) {
  ASSERT_GE(operator_guards().size(), 10u);
  for (const auto& guard : operator_guards()) {
    EXPECT_TRUE(operator_allowed(std::string(guard.name))) << guard.name;
    EXPECT_FALSE(guard.why.empty()) << guard.name;
  }
}

// The binary, on a saved file: exit 3 in one line, where it died by SIGSEGV.
TEST(OperatorGuards, TheBinaryRefusesAHostileSorterInOneLine) {
  test::TempDir dir;
  torch::jit::Module m("Sorter");
  m.define(R"(
def forward(self, x):
    return torch.searchsorted(torch.arange(5.), x, sorter=torch.tensor([0, 1, 2, 3, 1 << 40]))
)");
  m.save((dir / "sorter.pt").string());
  const auto r = test::run(PEVIS_BINARY, {"summary", "sorter.pt", "--input-shape", "1,3", "--format", "none"}, dir.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("the sorter holds indexes"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pevis
