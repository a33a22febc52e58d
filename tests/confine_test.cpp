// The second wall: pevis-torch confines itself (Landlock) before it reads a
// model. A model the allow-list was told to let through (--allow-op) still
// cannot touch a file outside the job's inputs and its output folder.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <torch/script.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "box.h"
#include "pevis/base/confine.h"
#include "test_util.h"

namespace pevis {
namespace {

namespace fs = std::filesystem;

bool kernel_has_landlock() { return ::syscall(444, nullptr, 0, 1u) >= 1; }

// A scripted model whose forward is `body` (on x, a [1, 4] float tensor).
void save_model(const fs::path& path, const std::string& body) {
  torch::jit::Module m("Evil");
  m.define("def forward(self, x):\n" + body);
  m.save(path.string());
}

test::RunResult pevis(const std::vector<std::string>& args, const test::TempDir& dir,
                      const std::map<std::string, std::string>& env = {}) {
  return test::run(PEVIS_BINARY, args, dir.path(), env);
}

TEST(Confine, VerboseSaysWhichConfinementIsInForce) {
  test::TempDir dir;
  const auto r = pevis({"summary", "builtin:simple-net", "--format", "none", "--data", "none", "-v"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (kernel_has_landlock()) {
    EXPECT_NE(r.err.find("pevis: Landlock ABI "), std::string::npos) << r.err;
  } else {
    EXPECT_NE(r.err.find("no Landlock confinement"), std::string::npos) << r.err;
  }
}

// The attack of the issue: torch.from_file(path, shared=True) maps a file
// read-write (creating it when absent), and fill_ writes it.
TEST(Confine, AnAllowedFromFileCannotWriteOrCreateOrReadOutsideTheBox) {
  if (!kernel_has_landlock()) GTEST_SKIP() << "this kernel has no Landlock: the allow-list is the only wall";
  test::TempDir dir;
  const fs::path victim = dir / "victim.txt", created = dir / "created.bin";
  test::write_file(victim, "precious file");
  save_model(dir / "overwrite.pt", "    t = torch.from_file('" + victim.string() + "', True, 8, dtype=0)\n"
                                   "    t.fill_(88)\n    return x + t.sum()\n");
  save_model(dir / "create.pt", "    t = torch.from_file('" + created.string() + "', True, 8, dtype=0)\n"
                                "    t.fill_(88)\n    return x + t.sum()\n");
  save_model(dir / "read.pt", "    t = torch.from_file('/etc/passwd', False, 16, dtype=0)\n    return x + t.sum()\n");
  for (const std::string model : {"overwrite.pt", "create.pt", "read.pt"}) {
    // Refused by the allow-list first...
    auto r = pevis({"summary", model, "--input-shape", "1,4", "-o", "out"}, dir);
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.err.find("aten::from_file"), std::string::npos) << r.err;
    // ...and stopped by the kernel when the user lets it through.
    r = pevis({"summary", model, "--input-shape", "1,4", "-o", "out", "--allow-op", "aten::from_file"}, dir);
    EXPECT_EQ(r.exit_code, 3) << model << ": " << r.err;
    EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("failed on this input"), std::string::npos) << r.err;
    EXPECT_EQ(test::read_file(victim), "precious file");
    EXPECT_FALSE(fs::exists(created)) << model;
  }
  // Every subcommand that takes a model, with the operator allowed: exit 0
  // (those that do not run the forward) or 3, and nothing outside -o changed.
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"encoding", "overwrite.pt"}, std::vector<std::string>{"bias", "overwrite.pt"},
        std::vector<std::string>{"attention", "overwrite.pt", "--input-shape", "1,4"},
        std::vector<std::string>{"summary", "overwrite.pt", "--input-shape", "1,4"},
        std::vector<std::string>{"export", "overwrite.pt", "out/copy.pt"}}) {
    std::vector<std::string> args = command;
    for (const std::string a : {"--allow-op", "aten::from_file"}) args.push_back(a);
    if (command[0] != "export") args.insert(args.end(), {"-o", "out"});
    fs::create_directories(dir / "out");
    const auto r = pevis(args, dir);
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 3) << command[0] << ": " << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
    EXPECT_EQ(test::read_file(victim), "precious file") << command[0];
  }
  fs::remove_all(dir / "out");
  // Inside the output folder the same operator works: the box is the
  // output folder, not a refusal of the operator.
  fs::create_directories(dir / "out");
  test::write_file(dir / "out" / "scratch.bin", "12345678");
  save_model(dir / "inside.pt", "    t = torch.from_file('" + (dir / "out" / "scratch.bin").string() +
                                    "', True, 8, dtype=0)\n    t.fill_(88)\n    return x + t.sum()\n");
  const auto r = pevis({"summary", "inside.pt", "--input-shape", "1,4", "-o", "out", "--allow-op", "aten::from_file",
                        "--format", "none"},
                       dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_file(dir / "out" / "scratch.bin"), "XXXXXXXX");
}

// The same through a torch.export program (tests/data/bad/make_hostile_pt2.py),
// which maps victim.txt of its working folder, for every subcommand that
// runs a model.
TEST(Confine, AnAllowedFromFileInAProgramCannotTouchTheWorkingFolder) {
  if (!kernel_has_landlock()) GTEST_SKIP() << "this kernel has no Landlock: the allow-list is the only wall";
  test::TempDir dir;
  const std::string program = std::string(PEVIS_TEST_DATA) + "/bad/pt2_from_file.pt2";
  for (const bool present : {true, false}) {
    if (present) test::write_file(dir / "victim.txt", "precious file");
    for (const std::string command : {"summary", "attention"}) {
      const auto r = pevis({command, program, "-o", "out", "--allow-op", "aten::from_file"}, dir);
      EXPECT_EQ(r.exit_code, 3) << command << ": " << r.err;
      EXPECT_NE(r.err.find("aten::from_file"), std::string::npos) << r.err;
      if (present) {
        EXPECT_EQ(test::read_file(dir / "victim.txt"), "precious file") << command;
      } else {
        EXPECT_FALSE(fs::exists(dir / "victim.txt")) << command;
      }
      EXPECT_FALSE(fs::exists(dir / "out")) << "a failed run left its output folder";
    }
    if (present) fs::remove(dir / "victim.txt");
  }
}

// Runs `job` in a child process (a confinement cannot be lifted) and returns
// its exit status: 0 when every expectation inside held, else the number of
// the first that failed.
int in_child(const std::function<int()>& job) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(job());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

bool can_open(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

// An index given as the model opens itself, its shards and config.json, not
// the folder they are in: a model with code running cannot read a key kept
// beside them.
TEST(Confine, AnIndexOpensOnlyItselfItsShardsAndItsConfig) {
  test::TempDir dir;
  fs::create_directories(dir / "hf");
  test::write_safetensors(dir / "hf/a.safetensors", {{"a.bias", "F32", {2}, test::float_bytes({1, 2})}});
  test::write_safetensors(dir / "hf/b.safetensors", {{"b.bias", "F32", {1}, test::float_bytes({3})}});
  test::write_file(dir / "hf/model.safetensors.index.json",
                   R"({"metadata": {}, "weight_map": {"a.bias": "a.safetensors", "b.bias": "b.safetensors"}})");
  test::write_file(dir / "hf/config.json", "{}");
  test::write_file(dir / "hf/id_rsa", "private key");
  const std::string index = (dir / "hf/model.safetensors.index.json").string();
  const auto reads = cli::model_reads({index});
  EXPECT_EQ(reads, (std::vector<std::string>{index, (dir / "hf/a.safetensors").string(),
                                             (dir / "hf/b.safetensors").string(), (dir / "hf/config.json").string()}));
  // A folder given as the model is read whole, as before.
  EXPECT_EQ(cli::model_reads({(dir / "hf").string()}), std::vector<std::string>{(dir / "hf").string()});
  if (!kernel_has_landlock()) GTEST_SKIP() << "this kernel has no Landlock";
  const int status = in_child([&] {
    Confinement box = system_confinement();
    box.read.insert(box.read.end(), reads.begin(), reads.end());
    confine(box);
    if (!can_open(dir / "hf/a.safetensors", O_RDONLY)) return 1;
    if (!can_open(dir / "hf/config.json", O_RDONLY)) return 2;
    if (can_open(dir / "hf/id_rsa", O_RDONLY)) return 3;
    if (can_open(dir / "hf/new.txt", O_WRONLY | O_CREAT)) return 4;
    return 0;
  });
  EXPECT_EQ(status, 0);
  // The job itself still reads the whole checkpoint.
  const auto r = pevis({"bias", index, "--format", "none", "--data", "none", "--verbose"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// `pevis export MODEL FILE` may write FILE's temporary, made before the
// confinement, and nothing else: not a file beside FILE. The helper outside
// the box renames the temporary over FILE, or removes it when the job fails.
TEST(Confine, ExportWritesOnlyItsFileThroughItsTemporary) {
  if (!kernel_has_landlock()) GTEST_SKIP() << "this kernel has no Landlock";
  test::TempDir dir;
  fs::create_directories(dir / "home");
  test::write_file(dir / "home/copy.pt", "old copy");
  const std::string file = (dir / "home/copy.pt").string();
  for (const bool succeed : {true, false}) {
    const int status = in_child([&] {
      cli::enable_confinement();
      cli::JobFiles files;
      files.write_file = file;
      cli::SafetyOptions safety;
      safety.time_limit = 0;
      cli::enter_box(files, safety, false);
      if (can_open(dir / "home/sibling.txt", O_WRONLY | O_CREAT)) return 1;
      if (can_open(dir / "home/copy.pt", O_WRONLY)) return 2;
      try {
        cli::write_job_file(file, [&](const std::string& path) {
          test::write_file(path, succeed ? "new copy" : "newer copy");
          if (!succeed) throw std::runtime_error("disk full");
        });
      } catch (const Error& e) {
        cli::leave_box(false);
        return succeed ? 3 : std::string(e.what()).find("disk full") != std::string::npos ? 0 : 4;
      }
      cli::leave_box(true);
      return succeed ? 0 : 5;
    });
    EXPECT_EQ(status, 0) << (succeed ? "succeeding" : "failing");
    EXPECT_EQ(test::read_file(dir / "home/copy.pt"), "new copy") << "a failed export changed the file";
    EXPECT_FALSE(fs::exists(dir / "home/sibling.txt"));
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir / "home")) names.push_back(entry.path().filename().string());
    EXPECT_EQ(names, std::vector<std::string>{"copy.pt"}) << "a temporary was left behind";
  }
}

// A job that ends without finishing (its time limit, a kill) leaves none of
// the temporaries it was writing: the helper outside the box removes those of
// its process, in every folder of the output folder, and no other file.
TEST(Confine, AJobThatEndsAbruptlyLeavesNoTemporaries) {
  if (!kernel_has_landlock()) GTEST_SKIP() << "this kernel has no Landlock";
  test::TempDir dir;
  fs::create_directories(dir / "out/attention");
  test::write_file(dir / "out/keep.csv", "1");
  test::write_file(dir / "out/b.csv.tmp-1-2", "another process's");
  std::vector<std::string> temporaries;
  const int status = in_child([&] {
    cli::enable_confinement();
    cli::OutputOptions output;
    output.out_dir = (dir / "out").string();
    cli::JobFiles files;
    files.output = &output;
    cli::SafetyOptions safety;
    safety.time_limit = 0;
    cli::enter_box(files, safety, false);
    const std::string pid = std::to_string(::getpid());
    for (const std::string name : {"attention/h.0.csv.tmp-" + pid + "-77", "attention/h.0.png.part-" + pid,
                                   ".pevis-data-" + pid + "-0.gp", ".pevis-data-" + pid + "-0-0.bin"}) {
      test::write_file(dir / "out" / name, "half");
    }
    return 3;  // as _exit at the time limit: no word to the helper
  });
  EXPECT_EQ(status, 3);
  const auto left = [&] {
    std::vector<std::string> names;
    for (const auto& entry : fs::recursive_directory_iterator(dir / "out")) {
      if (entry.is_regular_file()) names.push_back(entry.path().lexically_relative(dir / "out").string());
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  const std::vector<std::string> expected = {"b.csv.tmp-1-2", "keep.csv"};
  for (int waited = 0; waited < 100 && left() != expected; ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(left(), expected);
}

// The time limit runs until the job ends, drawing included (it used to stop
// when publishing began, and then nothing bounded it). The gnuplot on PATH
// here takes its script and never finishes (tests/slow_gnuplot.cpp), as a
// real one drawing huge figures on a slow machine: the job is stopped while
// it draws, its gnuplot with it, and no temporary stays. (A real gnuplot
// drawing 8192x8192 figures was used before, and a fast machine finished
// within the limit.)
TEST(Confine, TheTimeLimitCoversWritingTheOutput) {
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30");
  const std::string path = std::string(PEVIS_SLOW_GNUPLOT_DIR) + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "");
  const auto started = std::chrono::steady_clock::now();
  const auto r = pevis({"attention", std::string(PEVIS_TEST_DATA) + "/corpus/gpt2.pt", "--input", "ids.txt", "--layout",
                        "batch-first", "--time-limit", "8", "-o", "out"},
                       dir, {{"PATH", path}});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("ran longer than its time limit of 8 s"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("wrote out/attention/h.0.head0.csv"), std::string::npos) << "stopped before publishing: " << r.out;
  EXPECT_LT(seconds, 40);
  const auto temporaries = [&] {
    int count = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir / "out")) {
      const std::string name = entry.path().filename().string();
      count += name.find(".part-") != std::string::npos || name.find(".tmp-") != std::string::npos ||
               name.find(".pevis-data-") != std::string::npos;
    }
    return count;
  };
  for (int waited = 0; waited < 100 && temporaries() > 0; ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(temporaries(), 0);
  EXPECT_FALSE(fs::exists(dir / "out/attention/h.0.png")) << "a figure was published after the limit";
  // Every gnuplot pevis started is gone (or a zombie nobody has reaped yet).
  const std::string pids = test::read_file(dir / "out/slow-gnuplot.pid");
  std::istringstream lines(pids);
  int count = 0;
  for (std::string pid; std::getline(lines, pid);) {
    ++count;
    const auto running = [&] {
      std::ifstream stat("/proc/" + pid + "/stat");
      std::string text;
      std::getline(stat, text);
      const auto close = text.rfind(')');
      return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
    };
    for (int waited = 0; waited < 100 && running(); ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_FALSE(running()) << "gnuplot " << pid << " outlived the job";
  }
  EXPECT_GE(count, 1) << "pevis never started the stand-in gnuplot";
}

TEST(Confine, AllowOpNeedsAQualifiedName) {
  test::TempDir dir;
  const auto r = pevis({"summary", "builtin:simple-net", "--allow-op", "from_file"}, dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("not a qualified operator name"), std::string::npos) << r.err;
}

// A model that runs longer than --time-limit is stopped with exit 3.
TEST(Confine, TheTimeLimitStopsALongForward) {
  test::TempDir dir;
  save_model(dir / "slow.pt",
             "    y = x\n    for i in range(100000000):\n        y = y + 1.0\n    return y\n");
  const auto started = std::chrono::steady_clock::now();
  const auto r = pevis({"summary", "slow.pt", "--input-shape", "1,4", "--time-limit", "2", "-o", "out"}, dir);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("time limit of 2 s"), std::string::npos) << r.err;
  EXPECT_LT(seconds, 30);
}

// warnings.warn in a model's code (aten::warn, which stock layers call) prints
// nothing: stderr keeps pevis's own lines.
TEST(Confine, AModelsWarningsAreNotPrinted) {
  test::TempDir dir;
  save_model(dir / "warns.pt", "    for i in range(1000):\n        torch.warn('spam from the model')\n    return x\n");
  const auto r = pevis({"summary", "warns.pt", "--input-shape", "1,4", "--format", "none", "--data", "none"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("spam"), std::string::npos) << r.err;
}

// A limit too far for the clock is no limit; a limit that is no number of
// seconds is a usage error.
TEST(Confine, TimeLimitsOutOfTheClocksRange) {
  test::TempDir dir;
  const std::vector<std::string> job = {"summary", "builtin:simple-net", "--format", "none", "--data", "none"};
  auto args = job;
  args.insert(args.end(), {"--time-limit", "1e99"});
  auto r = pevis(args, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const std::string bad : {"-1", "nan", "inf", "soon"}) {
    args = job;
    args.insert(args.end(), {"--time-limit", bad});
    r = pevis(args, dir);
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("is not a number of seconds"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace pevis

namespace pevis {
namespace {

// A token file from a pipe (bash's <(...)): Landlock takes no rule for a
// pipe and does not restrict it, so the confined job reads it.
TEST(Confine, APipeIsAnInputLikeAFile) {
  test::TempDir dir;
  const std::string command = std::string("'") + PEVIS_BINARY + "' attention '" + PEVIS_TEST_DATA +
                              "/corpus/gpt2.pt' --input <(echo 3 1 4 1 5) --layout batch-first --format none -o out";
  const auto r = test::run("/bin/bash", {"-c", command}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "out/attention/h.0.head0.csv"));
}

}  // namespace
}  // namespace pevis
