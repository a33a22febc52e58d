// The front executable and the hand-over to pevis-torch: which jobs run
// without LibTorch, that the memory settings of the hand-over change no
// output byte, and the NumPy data files.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "pevis/positional/sinusoid.h"
#include "test_util.h"

namespace pevis {
namespace {

namespace fs = std::filesystem;
using test::RunResult;

const std::string kData = PEVIS_TEST_DATA;

RunResult pevis(const std::vector<std::string>& args, const test::TempDir& dir,
                const std::map<std::string, std::string>& env = {}) {
  return test::run(PEVIS_BINARY, args, dir.path(), env);
}

// Every file under `root`, by path relative to it, with its bytes.
std::map<std::string, std::string> files_under(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files[fs::relative(entry.path(), root).string()] = test::read_file(entry.path());
  }
  return files;
}

TEST(Front, LinksNoLibTorch) {
  test::TempDir dir;
  const RunResult r = test::run("/usr/bin/ldd", {PEVIS_BINARY}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("libc.so"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("libtorch"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("libc10"), std::string::npos) << r.out;
}

// With the LibTorch part missing, what needs no model still works, and a job
// that needs one says in one line that it cannot start it (exit 1).
TEST(Front, JobsWithoutAModelNeverStartPevisTorch) {
  test::TempDir dir;
  const std::map<std::string, std::string> missing = {{"PEVIS_TORCH", (dir / "no-such-pevis-torch").string()}};
  const std::vector<std::vector<std::string>> light = {
      {"--version"},
      {"--help"},
      {"bias", "--help"},
      {"attention", "--help"},
      {"encoding", "--d-model", "64", "--max-len", "100", "--format", "none"},
      {"encoding", "--kind", "rope", "--d-head", "64", "--format", "none"},
      {"encoding", "--kind", "alibi", "--heads", "4", "--format", "none"},
      {"builtins"},
      {"builtins", "--write", "inputs"},
  };
  for (const auto& args : light) {
    const RunResult r = pevis(args, dir, missing);
    EXPECT_EQ(r.exit_code, 0) << args[0] << " " << (args.size() > 1 ? args[1] : "") << ": " << r.err;
  }
  EXPECT_TRUE(fs::exists(dir / "inputs/seq.txt"));
  // Usage errors are the front's too: exit 2, not a failed hand-over.
  EXPECT_EQ(pevis({"bias"}, dir, missing).exit_code, 2);
  EXPECT_EQ(pevis({"attention", "m.pt", "--nonsense"}, dir, missing).exit_code, 2);
  EXPECT_EQ(pevis({"encoding", "--d-model", "63"}, dir, missing).exit_code, 3);
  EXPECT_EQ(pevis({"summary", "m.pt", "--depth", "99"}, dir, missing).exit_code, 2);
  EXPECT_EQ(pevis({"bias", "m.pt", "--per-page", "0"}, dir, missing).exit_code, 2);
  EXPECT_EQ(pevis({"bias", "m.pt", "--match", "(["}, dir, missing).exit_code, 2);
  EXPECT_EQ(pevis({"attention", "m.pt", "--head", "first"}, dir, missing).exit_code, 2);
  EXPECT_EQ(pevis({"attention", "m.pt", "--batch-index", "-1"}, dir, missing).exit_code, 3);
  EXPECT_EQ(pevis({"summary", "m.pt", "--size", "tiny"}, dir, missing).exit_code, 2);
  const RunResult heavy = pevis({"bias", "builtin:simple-net"}, dir, missing);
  EXPECT_EQ(heavy.exit_code, 1);
  EXPECT_EQ(test::count_lines(heavy.err), 1) << heavy.err;
  EXPECT_NE(heavy.err.find("cannot start the LibTorch part of pevis"), std::string::npos) << heavy.err;
  // And with it there, the same job runs.
  EXPECT_EQ(pevis({"bias", "builtin:simple-net", "--format", "none"}, dir).exit_code, 0);
}

// Where memory comes from changes no number and no pixel: every file of an
// attention run and of a summary with its forward pass is the same byte for
// byte with the caching CPU allocator and huge pages (PEVIS_HUGEPAGES=1) as
// with neither (PEVIS_CPU_CACHE=0, LibTorch's own allocator).
TEST(Front, TheAllocatorAndHugePagesChangeNoOutputByte) {
  test::TempDir dir;
  // 800 token ids: each layer's weights take 2.6 MB, more than one huge page.
  std::string ids;
  for (int i = 0; i < 800; ++i) ids += std::to_string((i * 7 + 3) % 20) + (i % 40 == 39 ? "\n" : " ");
  test::write_file(dir / "ids.txt", ids);
  const std::vector<std::vector<std::string>> jobs = {
      {"attention", "builtin:transformer-lm", "--input", "ids.txt", "--rollout"},
      {"attention", kData + "/attn_encoder.pt", "--input", "ids.txt", "--head", "mean"},
      {"summary", kData + "/torch2/v113_vit_trace_grad_b2.pt", "--input-shape", "2,3,32,32"},
  };
  for (const auto& job : jobs) {
    std::vector<std::string> with = job, without = job;
    with.insert(with.end(), {"-o", "with"});
    without.insert(without.end(), {"-o", "without"});
    const RunResult a = pevis(with, dir, {{"PEVIS_HUGEPAGES", "1"}});
    const RunResult b = pevis(without, dir, {{"PEVIS_HUGEPAGES", "0"}, {"PEVIS_CPU_CACHE", "0"}});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    ASSERT_EQ(b.exit_code, 0) << b.err;
    const auto first = files_under(dir / "with"), second = files_under(dir / "without");
    EXPECT_GE(first.size(), 3u);
    ASSERT_EQ(first.size(), second.size());
    std::size_t pngs = 0;
    for (const auto& [name, bytes] : first) {
      ASSERT_TRUE(second.count(name)) << name;
      EXPECT_TRUE(bytes == second.at(name)) << job[0] << ": " << name << " differs";
      pngs += name.size() > 4 && name.compare(name.size() - 4, 4, ".png") == 0;
    }
    EXPECT_GE(pngs, 1u);
    fs::remove_all(dir / "with");
    fs::remove_all(dir / "without");
  }
}

// A .npy file as numpy.load reads it: the header's dict, the data at a
// multiple of 64 bytes, little-endian float32 in C order; the labels beside.
TEST(Front, NpyDataHoldsTheExactMatrix) {
  test::TempDir dir;
  const RunResult r = pevis({"encoding", "--d-model", "32", "--max-len", "50", "--data", "npy", "--format", "none"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string npy = test::read_file(dir / "pevis-out/encoding.npy");
  ASSERT_GE(npy.size(), 10u);
  EXPECT_EQ(npy.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header = static_cast<unsigned char>(npy[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(npy[9])) << 8);
  EXPECT_EQ((10 + header) % 64, 0u);
  const std::string dict = npy.substr(10, header);
  EXPECT_NE(dict.find("'descr': '<f4'"), std::string::npos) << dict;
  EXPECT_NE(dict.find("'fortran_order': False"), std::string::npos) << dict;
  EXPECT_NE(dict.find("'shape': (50, 32)"), std::string::npos) << dict;
  EXPECT_EQ(dict.back(), '\n');
  ASSERT_EQ(npy.size(), 10 + header + 50 * 32 * 4);
  const std::vector<float> want = sinusoid_values({32, 50, 10000.0});
  EXPECT_EQ(std::memcmp(npy.data() + 10 + header, want.data(), want.size() * 4), 0);
  const auto labels = nlohmann::json::parse(test::read_file(dir / "pevis-out/encoding.labels.json"));
  EXPECT_EQ(labels["row_labels"].size(), 50u);
  EXPECT_EQ(labels["col_labels"].size(), 32u);
  EXPECT_EQ(labels["shape"], nlohmann::json::array({50, 32}));
  EXPECT_EQ(labels["row_title"], "position");
  EXPECT_FALSE(fs::exists(dir / "pevis-out/encoding.csv"));
  // Tables have no matrix shape: they stay CSV.
  const RunResult alibi = pevis({"encoding", "--kind", "alibi", "--heads", "3", "--data", "npy", "--format", "none"}, dir);
  ASSERT_EQ(alibi.exit_code, 0) << alibi.err;
  EXPECT_TRUE(fs::exists(dir / "pevis-out/alibi-slopes.csv"));
  EXPECT_TRUE(fs::exists(dir / "pevis-out/alibi-bias-head0.npy"));
}

}  // namespace
}  // namespace pevis
