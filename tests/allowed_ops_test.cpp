// The operator allow-list: every operator of every real model pevis has is
// allowed, and programs that reach files, storages, raw memory or the
// terminal are refused before any of their code runs.
#include <gtest/gtest.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/script.h>

#include <functional>

#include "pevis/io/load.h"
#include "pevis/operators/allowed_ops.h"
#include "pevis/io/builtin_info.h"
#include "pevis/base/error.h"
#include "test_util.h"

namespace pevis {
namespace {

const std::string kData = PEVIS_TEST_DATA;
namespace fs = std::filesystem;

// Restores the process's --allow-op list when a test ends.
struct ExtraOps {
  explicit ExtraOps(const std::vector<std::string>& ops) { set_extra_allowed_operators(ops); }
  ~ExtraOps() { set_extra_allowed_operators({}); }
};

// The message of loading `path`, or "" when it loads.
std::string load_message(const std::string& path) {
  try {
    load_model(path);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

TEST(AllowedOps, EveryOperatorOfTheSurveyIsAllowed) {
  const auto ops = test::survey_operators();
  ASSERT_GT(ops.size(), 150u);
  for (const auto& op : ops) EXPECT_TRUE(operator_allowed(op)) << op;
}

// Every model file among the fixtures (TorchScript of PyTorch 1.13 and 2.6,
// torch.export programs, and the built-ins) passes the check: whatever else
// may stop one on this LibTorch, it is never the allow-list.
TEST(AllowedOps, EveryFixtureAndBuiltinPasses) {
  std::vector<std::string> files;
  for (const std::string dir : {"", "/torch2", "/positions"}) {
    for (const auto& entry : fs::directory_iterator(kData + dir)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".pt" || ext == ".pt2")) files.push_back(entry.path().string());
    }
  }
  for (const auto& info : builtin_list()) files.push_back(kBuiltinPrefix + info.name);
  ASSERT_GT(files.size(), 60u);
  std::size_t with_code = 0;
  for (const auto& file : files) {
    const std::string message = load_message(file);
    EXPECT_EQ(message.find("pevis does not run"), std::string::npos) << message;
    if (message.empty()) {
      const Model model = load_model(file);
      with_code += !model_operators(model).empty();
    }
  }
  EXPECT_GT(with_code, 30u);
}

// A TorchScript module whose forward is `code`, saved to `path`.
void save_module(const fs::path& path, const std::string& code, const std::string& extra_method = "") {
  torch::jit::Module m("Evil");
  m.register_buffer("w", torch::ones({4}));
  m.define(extra_method + code);
  m.save(path.string());
}

struct Hostile {
  std::string name, op, code, extra;
};

std::vector<Hostile> hostile_modules(const std::string& victim) {
  return {
      {"from_file", "aten::from_file",
       "def forward(self, x):\n    t = torch.from_file('" + victim + "', True, 8, dtype=0)\n"
       "    t.fill_(88)\n    return x + t.sum()\n"},
      {"save", "aten::save", "def forward(self, x):\n    torch.save(x, '" + victim + "')\n    return x\n"},
      {"print", "prim::Print", "def forward(self, x):\n    print('hello')\n    return x\n"},
      {"reshape_alias", "aten::_reshape_alias",
       "def forward(self, x):\n    return torch._reshape_alias(self.w, [1000000], [1])\n"},
      {"as_strided", "aten::as_strided", "def forward(self, x):\n    return torch.as_strided(self.w, [4], [1])\n"},
      // Out of the forward's sight: a method forward calls, and one nobody calls.
      {"in_a_method", "aten::from_file", "def forward(self, x):\n    return self.helper(x)\n",
       "def helper(self, x):\n    return x + torch.from_file('" + victim + "', False, 4)\n"},
      {"unused_method", "aten::save", "def forward(self, x):\n    return x\n",
       "def other(self, x):\n    torch.save(x, '" + victim + "')\n    return x\n"},
      {"in_a_loop", "aten::from_file",
       "def forward(self, x):\n    for i in range(2):\n        if i == 1:\n"
       "            x = x + torch.from_file('" + victim + "', False, 4)\n    return x\n"},
  };
}

TEST(AllowedOps, HostileProgramsAreRefusedNamingTheOperator) {
  test::TempDir dir;
  const std::string victim = (dir / "victim.txt").string();
  test::write_file(victim, "precious");
  for (const auto& h : hostile_modules(victim)) {
    const fs::path file = dir / (h.name + ".pt");
    save_module(file, h.code, h.extra);
    const std::string message = load_message(file.string());
    EXPECT_NE(message.find("calls " + h.op + " (in "), std::string::npos) << h.name << ": " << message;
    EXPECT_NE(message.find("--allow-op " + h.op), std::string::npos) << message;
  }
  EXPECT_EQ(test::read_file(victim), "precious");
}

// PyTorch's torch.jit.fork: the task's code is a subgraph of its own.
TEST(AllowedOps, ForkedTasksAreWalked) {
  const Model model = load_model(kData + "/attn_forked.pt");
  bool fork = false, inside = false;
  for (const auto& use : model_operators(model)) {
    fork |= use.op == "prim::fork";
    inside |= use.where.find("(a forked task)") != std::string::npos;
  }
  EXPECT_TRUE(fork);
  EXPECT_TRUE(inside);
}

TEST(AllowedOps, AnOperatorAllowedByNameLoads) {
  test::TempDir dir;
  const fs::path file = dir / "from_file.pt";
  save_module(file, "def forward(self, x):\n    return x + torch.from_file('/nonexistent', False, 4)\n");
  EXPECT_NE(load_message(file.string()), "");
  {
    ExtraOps allow({"aten::from_file"});
    EXPECT_EQ(load_message(file.string()), "");
  }
  EXPECT_NE(load_message(file.string()), "");
}

TEST(AllowedOps, AllowOpTakesQualifiedNamesOnly) {
  for (const std::string bad : {"from_file", "aten::", "::x", "aten::a b", ""}) {
    try {
      set_extra_allowed_operators({bad});
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kUsage) << bad;
    }
  }
  set_extra_allowed_operators({});
}

TEST(AllowedOps, SetstateIsRefusedBeforeLoading) {
  test::TempDir dir;
  torch::jit::Module m("State");
  m.register_attribute("n", c10::IntType::get(), c10::IValue(int64_t{1}));
  m.define(R"(
def __getstate__(self):
    return self.n

def __setstate__(self, n: int):
    self.n = n

def forward(self, x):
    return x
)");
  const fs::path file = dir / "setstate.pt";
  m.save(file.string());
  EXPECT_NE(load_message(file.string()).find("defines __setstate__"), std::string::npos);

  // The same archive rewritten record by record, with `change` applied to
  // each record's name and text.
  const auto rewritten = [&](const std::string& name, const std::function<void(std::string&, std::string&)>& change) {
    const fs::path out = dir / name;
    caffe2::serialize::PyTorchStreamReader reader(file.string());
    caffe2::serialize::PyTorchStreamWriter writer(out.string());
    for (const auto& record : reader.getAllRecords()) {
      if (record == ".data/version" || record == "version") continue;  // the writer adds its own
      auto [data, size] = reader.getRecord(record);
      std::string text(static_cast<const char*>(data.get()), size);
      std::string renamed = record;
      change(renamed, text);
      writer.writeRecord(renamed, text.data(), text.size());
    }
    writer.writeEndOfFile();
    return out.string();
  };
  const auto in_code = [](const std::string& from, const std::string& to) {
    return [from, to](std::string& record, std::string& text) {
      if (record.rfind("code/", 0) != 0) return;
      for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
      }
    };
  };
  // Other whitespace between def and the name, a line continuation, and a
  // code record whose name's case differs from what LibTorch asks for.
  for (const auto& [name, path] : std::vector<std::pair<std::string, std::string>>{
           {"two spaces", rewritten("spaces.pt", in_code("def __setstate__", "def  __setstate__"))},
           {"a tab", rewritten("tab.pt", in_code("def __setstate__", "def\t__setstate__"))},
           {"a continuation", rewritten("continued.pt", in_code("def __setstate__", "def \\\n    __setstate__"))},
           {"upper-case .PY", rewritten("upper.pt", [](std::string& record, std::string&) {
              if (record == "code/__torch__.py") record = "code/__torch__.PY";
            })}}) {
    EXPECT_NE(load_message(path).find("__setstate__, which LibTorch runs while loading"), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace pevis
