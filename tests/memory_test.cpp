// The memory budget, and the refusals it makes before anything large exists.
#include "pevis/base/memory.h"
#include "pevis/capture/cpu_allocator.h"

#include <gtest/gtest.h>

#include <ATen/ops/empty.h>

#include <filesystem>
#include <new>

#include "pevis/output/products.h"
#include "test_util.h"

namespace pevis {
namespace {

namespace fs = std::filesystem;

TEST(Memory, TheBudgetIsTheLeastOfTheLimitsAndNamesIt) {
  MemoryFacts facts;
  EXPECT_EQ(memory_budget(facts).bytes, 4'000'000'000u);  // nothing known: an assumption, said as such
  EXPECT_NE(memory_budget(facts).limited_by.find("assumed"), std::string::npos);
  facts.mem_available = 20'000'000'000;
  EXPECT_EQ(memory_budget(facts).bytes, 20'000'000'000u);
  EXPECT_NE(memory_budget(facts).limited_by.find("MemAvailable"), std::string::npos);
  facts.cgroup_limit = 8'000'000'000;
  facts.cgroup_usage = 3'000'000'000;
  EXPECT_EQ(memory_budget(facts).bytes, 5'000'000'000u);
  EXPECT_NE(memory_budget(facts).limited_by.find("cgroup"), std::string::npos);
  facts.address_limit = 6'000'000'000;
  facts.address_used = 2'000'000'000;
  EXPECT_EQ(memory_budget(facts).bytes, 4'000'000'000u);
  EXPECT_NE(memory_budget(facts).limited_by.find("ulimit -v"), std::string::npos);
  facts.address_used = 7'000'000'000;  // over the limit already: nothing left, not a wrap-around
  EXPECT_EQ(memory_budget(facts).bytes, 0u);
}

TEST(Memory, ThisProcessHasABudget) {
  const MemoryFacts facts = read_memory_facts();
  ASSERT_TRUE(facts.mem_available.has_value());  // every Linux since 3.14
  // From the same reading: MemAvailable moves between two readings when
  // anything else runs (it failed by 135 kB under a parallel build).
  const MemoryBudget budget = memory_budget(facts);
  EXPECT_GT(budget.bytes, 0u);
  EXPECT_LE(budget.bytes, *facts.mem_available);
}

TEST(Memory, FailedAllocationsAreToldApart) {
  EXPECT_TRUE(is_out_of_memory(std::bad_alloc()));
  EXPECT_TRUE(is_out_of_memory(std::runtime_error("[enforce fail at alloc_cpu.cpp:75] . DefaultCPUAllocator: can't allocate memory: you tried to allocate 8000000000 bytes.")));
  EXPECT_FALSE(is_out_of_memory(std::runtime_error("shape mismatch")));
  const Error e = out_of_memory("running the model's forward");
  EXPECT_EQ(e.code(), ExitCode::kBadInput);
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  EXPECT_NE(std::string(e.what()).find("while running the model's forward"), std::string::npos);
}

TEST(Memory, RefusalsSayWhatIsNeededWhatThereIsAndWhatToDo) {
  try {
    check_memory(5e18L, "model.pt", "reading the 3 selected vectors", "select fewer with --match REGEX");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(message.find("model.pt : reading the 3 selected vectors would need about 5 EB of memory"), std::string::npos) << message;
    EXPECT_NE(message.find("is left under"), std::string::npos) << message;
    EXPECT_NE(message.find("(select fewer with --match REGEX)"), std::string::npos) << message;
  }
  EXPECT_NO_THROW(check_memory(1000, "x", "y", "z"));
}

TEST(Memory, DataFilesOverTheThresholdAreAnnouncedBeforeTheyAreWritten) {
  // The threshold is 1 GB in every run; a smaller one here tests the same path.
  test::TempDir dir;
  LabeledMatrix m{"big", "row", index_labels(1000), index_labels(500), 1000, 500, std::vector<float>(500000)};
  for (std::size_t i = 0; i < m.values.size(); ++i) m.values[i] = static_cast<float>(i) / 7.0f;
  OutputSpec spec;
  spec.dir = dir.path().string();
  spec.figures = std::nullopt;
  spec.large_data_file = 1'000'000;
  std::vector<std::string> notes;
  spec.on_notice = [&](const std::string& note) {
    EXPECT_FALSE(fs::exists(dir / "big.csv")) << "announced after it was written";
    notes.push_back(note);
  };
  write_products({Product{plot::Figure{}, {m}, {}}}, spec, [](const WrittenFile&) {});
  ASSERT_EQ(notes.size(), 1u);
  // The size said is the size written, within 10 per cent.
  const double written = static_cast<double>(fs::file_size(dir / "big.csv"));
  const auto about = notes[0].find("about ");
  ASSERT_NE(about, std::string::npos) << notes[0];
  const double said = std::stod(notes[0].substr(about + 6)) * 1e6;  // "about 5.6 MB"
  EXPECT_NE(notes[0].find(" MB"), std::string::npos) << notes[0];
  EXPECT_NEAR(said / written, 1.0, 0.1) << notes[0] << " vs " << written;
  EXPECT_NE(notes[0].find("--data none"), std::string::npos);
  // Under the threshold: nothing said.
  notes.clear();
  spec.large_data_file = 1e9;
  write_products({Product{plot::Figure{}, {m}, {}}}, spec, [](const WrittenFile&) {});
  EXPECT_TRUE(notes.empty());
}

// What a run writes is bounded before anything is written: files and bytes
// in all (a loop of 20,000 sites wrote 60,000 files; 8,192 tokens 8.8 GB of
// CSV, each file under the 1 GB of the note above), and a large total is
// announced.
TEST(Memory, WhatARunWritesIsBoundedAndALargeTotalAnnounced) {
  test::TempDir dir;
  std::vector<Product> products;
  for (int i = 0; i < 30; ++i) {
    LabeledMatrix m{"m" + std::to_string(i), "row", index_labels(100), index_labels(100), 100, 100,
                    std::vector<float>(10000, 0.123456f)};
    products.push_back(Product{plot::Figure{}, {m}, {}});
  }
  OutputSpec spec;
  spec.dir = (dir / "out").string();
  spec.figures = std::nullopt;
  const OutputPlan plan = plan_output(products, spec);
  EXPECT_EQ(plan.files, 30u);
  spec.data = DataFormat::kNpy;
  EXPECT_EQ(plan_output(products, spec).files, 60u) << "an .npy and its labels";
  EXPECT_NEAR(static_cast<double>(plan_output(products, spec).bytes), 30 * (40000 + 128 + 2 * 100 * (2 + 4)), 30 * 200);
  spec.data = DataFormat::kCsv;
  std::vector<std::string> notes;
  spec.on_notice = [&](const std::string& note) { notes.push_back(note); };
  const auto refused = [&](const std::string& flag) {
    try {
      write_products(products, spec, [](const WrittenFile&) {});
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kBadInput);
      EXPECT_NE(std::string(e.what()).find("the run would write 30 files, about "), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("more than " + flag), std::string::npos) << e.what();
      EXPECT_FALSE(fs::exists(dir / "out")) << "a refused run wrote something";
      return true;
    }
    return false;
  };
  spec.max_files = 29;
  EXPECT_TRUE(refused("--max-files 29"));
  spec.max_files = 30;
  spec.max_bytes = static_cast<std::uint64_t>(plan.bytes) - 1000;
  EXPECT_TRUE(refused("--max-bytes"));
  EXPECT_TRUE(notes.empty());
  // Within the bounds it is written, and announced over the threshold (1 GB
  // in every run; smaller here).
  spec.max_bytes = static_cast<std::uint64_t>(plan.bytes) + 100000;
  spec.large_total = 100000;
  write_products(products, spec, [](const WrittenFile&) {});
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("this run writes 30 files, about "), std::string::npos) << notes[0];
  std::uintmax_t written = 0;
  for (const auto& entry : fs::directory_iterator(dir / "out")) written += entry.file_size();
  EXPECT_NEAR(static_cast<double>(written) / static_cast<double>(plan.bytes), 1.0, 0.1);
}

TEST(Memory, TheBinaryRefusesATableLargerThanItsAddressSpaceAtOnce) {
  if (test::kSanitized) GTEST_SKIP() << "AddressSanitizer cannot run under an address-space limit";
  test::TempDir dir;
  const auto run = test::run(PEVIS_BINARY, {"encoding", "--d-model", "2000000", "--max-len", "1000"}, dir.path(), {},
                             8'000'000'000ull);
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_EQ(test::count_lines(run.err), 1) << run.err;
  EXPECT_NE(run.err.find("is left under the address-space limit (ulimit -v)"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(dir / "pevis-out" / "encoding.csv"));
}

TEST(Memory, AnAllocationThatFailsAnywayIsAOneLineResourceError) {
  // The model's own activations are not estimated: 14000 tokens make a
  // 2 x 14000 x 14000 score matrix (1.6 GB) and its softmax, more than a
  // 3 GB address space leaves. The failure inside LibTorch is said in one line.
  if (test::kSanitized) GTEST_SKIP() << "AddressSanitizer cannot run under an address-space limit";
  // Without pevis's allocator (PEVIS_CPU_CACHE=0) nothing budgets the
  // forward: malloc fails inside LibTorch.
  test::TempDir dir;
  const std::vector<std::string> args = {"attention", std::string(PEVIS_TEST_DATA) + "/attn_features.pt", "--input-shape",
                                         "1,14000,16", "--format", "none", "--data", "none"};
  const auto run = test::run(PEVIS_BINARY, args, dir.path(), {{"PEVIS_CPU_CACHE", "0"}}, 3'000'000'000ull);
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_EQ(test::count_lines(run.err), 1) << run.err;
  EXPECT_NE(run.err.find("pevis: memory : an allocation failed while"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("internal error"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("enforce fail"), std::string::npos) << run.err;
  // With it, the job's budget refuses the block before malloc is asked, and
  // says which limit set it.
  const auto budgeted = test::run(PEVIS_BINARY, args, dir.path(), {}, 3'000'000'000ull);
  EXPECT_EQ(budgeted.exit_code, 3) << budgeted.err;
  EXPECT_EQ(test::count_lines(budgeted.err), 1) << budgeted.err;
  EXPECT_NE(budgeted.err.find("pevis: memory : an allocation was refused while running the model's forward: a tensor of "),
            std::string::npos)
      << budgeted.err;
  EXPECT_NE(budgeted.err.find("set by the address-space limit (ulimit -v)"), std::string::npos) << budgeted.err;
}

// Test programs link the runners' set-up: LibTorch's CPU tensors come from
// the caching allocator, which hands a freed large block out again.
TEST(CpuAllocator, ALargeFreedBlockIsHandedOutAgain) {
  const CpuAllocatorCounts before = cpu_allocator_counts();
  const void* first = nullptr;
  {
    at::Tensor t = at::empty({3 << 20}, at::kFloat);  // 12 MiB
    first = t.data_ptr();
    t.fill_(1.5f);
  }
  at::Tensor again = at::empty({3 << 20}, at::kFloat);
  EXPECT_EQ(again.data_ptr(), first);
  const CpuAllocatorCounts after = cpu_allocator_counts();
  EXPECT_EQ(after.reused, before.reused + 1);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(again.data_ptr()) % 64, 0u);
  // Small tensors are malloc's.
  at::Tensor small = at::empty({16}, at::kFloat);
  EXPECT_EQ(cpu_allocator_counts().reused, after.reused);
  EXPECT_EQ(cpu_allocator_counts().fresh, after.fresh);
}

// With a budget set (pevis-torch sets the job's, before the model is read), a
// large block past it is refused in words that the job reports with exit 3,
// instead of the kernel killing the process at a cgroup's limit.
TEST(CpuAllocator, ABlockPastTheBudgetIsRefusedInWords) {
  limit_cpu_allocations(200u << 20, "the cgroup's memory limit");
  try {
    at::Tensor fits = at::empty({16 << 20}, at::kByte);
    EXPECT_EQ(fits.numel(), 16 << 20);
    at::Tensor t = at::empty({256 << 20}, at::kByte);
    ADD_FAILURE() << "no error";
  } catch (const c10::Error& e) {
    const std::string text = e.what_without_backtrace();
    EXPECT_NE(text.find("memory budget of 209715200 bytes (the cgroup's memory limit)"), std::string::npos) << text;
    EXPECT_TRUE(is_out_of_memory(e));
  }
  limit_cpu_allocations(0, "");
  at::Tensor later = at::empty({256 << 20}, at::kByte);
  EXPECT_EQ(later.numel(), 256 << 20);
}

// Blocks under 1 MiB are counted too, in aggregate: 24,000 tensors of
// 1020 KiB each went past every budget unseen.
TEST(CpuAllocator, SmallBlocksCountAgainstTheBudgetInAggregate) {
  limit_cpu_allocations(100u << 20, "the cgroup's memory limit");
  std::vector<at::Tensor> kept;
  try {
    for (int i = 0; i < 1000; ++i) kept.push_back(at::empty({1020 << 10}, at::kByte));
    ADD_FAILURE() << "1000 tensors of 1020 KiB fitted a budget of 100 MiB";
  } catch (const c10::Error& e) {
    const std::string text = e.what_without_backtrace();
    EXPECT_NE(text.find("memory budget of 104857600 bytes (the cgroup's memory limit)"), std::string::npos) << text;
    EXPECT_NE(text.find("bytes in tensors under 1 MiB"), std::string::npos) << text;
    EXPECT_TRUE(is_out_of_memory(e));
  }
  EXPECT_GT(kept.size(), 80u);
  EXPECT_LT(kept.size(), 101u);
  // Freed, they no longer count.
  kept.clear();
  for (int i = 0; i < 80; ++i) kept.push_back(at::empty({1020 << 10}, at::kByte));
  kept.clear();
  limit_cpu_allocations(0, "");
}

}  // namespace
}  // namespace pevis
