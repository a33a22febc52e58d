#include "pevis/io/load.h"
#include "pevis/io/model.h"

#include <ATen/ops/zeros.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pevis/bias/bias.h"
#include "pevis/base/error.h"
#include "pevis/io/pickle.h"
#include "test_util.h"

namespace pevis {
namespace {

const std::string kData = PEVIS_TEST_DATA;

nlohmann::json expected() { return nlohmann::json::parse(test::read_file(kData + "/simple_net.expected.json")); }

// Every bias read from `file` equals what PyTorch reported, exactly.
void expect_biases(const std::string& file, const nlohmann::json& values, const std::string& prefix = "") {
  const Model model = load_model(kData + "/" + file);
  const auto biases = find_biases(model, {});
  ASSERT_EQ(biases.size(), values.size()) << file;
  for (const auto& b : biases) {
    const std::string key = b.name.substr(prefix.size());
    ASSERT_EQ(b.name.rfind(prefix, 0), 0u) << b.name;
    ASSERT_TRUE(values.contains(key)) << file << ": " << b.name;
    const auto& want = values[key];
    ASSERT_EQ(b.values.size(), want.size()) << b.name;
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(b.values[i], want[i].get<float>()) << file << " " << b.name << "[" << i << "]";
  }
}

TEST(Model, ReadsEveryFormatWithPyTorchsValues) {
  const auto e = expected();
  expect_biases("simple_net.script.pt", e["before"]);
  expect_biases("simple_net.state.pt", e["before"]);
  expect_biases("simple_net.safetensors", e["before"]);
  expect_biases("simple_net.after.ckpt.pt", e["after"], "model.");
  expect_biases("simple_net.after.list.pt", e["after"], "0.state_dict.");
  expect_biases("simple_net.half.pt", e["half"]);
  expect_biases("simple_net.half.safetensors", e["half"]);
}

TEST(Model, TellsFormatsAndKeepsOrderAndMetadata) {
  const Model script = load_model(kData + "/simple_net.script.pt");
  EXPECT_EQ(script.format, "TorchScript");
  EXPECT_TRUE(script.module);
  const Model state = load_model(kData + "/simple_net.state.pt");
  EXPECT_EQ(state.format, "PyTorch checkpoint");
  EXPECT_FALSE(state.module);
  ASSERT_EQ(state.tensors.size(), 4u);
  EXPECT_EQ(state.tensors[0].name, "fc1.weight");
  EXPECT_EQ(state.tensors[3].name, "fc2.bias");
  EXPECT_EQ(state.tensors[0].tensor().sizes(), (std::vector<std::int64_t>{20, 10}));
  const Model safe = load_model(kData + "/simple_net.safetensors");
  EXPECT_EQ(safe.format, "safetensors");
  ASSERT_EQ(safe.metadata.size(), 1u);
  EXPECT_EQ(safe.metadata[0], (std::pair<std::string, std::string>{"format", "pt"}));

  const Model ckpt = load_model(kData + "/simple_net.after.ckpt.pt");
  bool epoch = false;
  for (const auto& [key, value] : ckpt.metadata) epoch |= key == "epoch" && value == "5";
  EXPECT_TRUE(epoch);
  // The optimizer's momentum buffers are tensors of the checkpoint too.
  EXPECT_GT(ckpt.tensors.size(), 4u);

  const Model half = load_model(kData + "/simple_net.half.pt");
  EXPECT_EQ(half.tensors[0].tensor().scalar_type(), at::kHalf);
  EXPECT_EQ(half.tensors[1].tensor().scalar_type(), at::kBFloat16);
  EXPECT_EQ(as_float(half.tensors[1].tensor()).scalar_type(), at::kFloat);
}

// The error `load_model` gives for `path`, which must be a bad-input one.
std::string refusal(const std::string& path) {
  try {
    load_model(path);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    return e.what();
  }
  ADD_FAILURE() << path << " was accepted";
  return {};
}

// LibTorch's load errors start with a newline; the line after it says what
// went wrong (a message made of the text before it printed "()").
TEST(Model, ErrorsKeepTheFirstLineThatSaysSomething) {
  EXPECT_EQ(first_line("\nUnknown builtin op: aten::new_op.\nHere are some suggestions: ..."),
            "Unknown builtin op: aten::new_op.");
  EXPECT_EQ(first_line("  \n \n  archive is damaged\nmore"), "archive is damaged");
  EXPECT_EQ(first_line("one\ttwo"), "one two");
  EXPECT_EQ(first_line("\n \n"), "");
  try {
    load_model(kData + "/bad/newer_operator.pt");
    ADD_FAILURE() << "newer_operator.pt loaded";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("the operator aten::scaled_dot_product_attention_v9, which"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(Model, RefusesWhatItCannotReadWithAReason) {
  test::TempDir dir;
  EXPECT_NE(refusal(kData + "/simple_net.model.pt").find("save model.state_dict()"), std::string::npos);
  EXPECT_NE(refusal(kData + "/simple_net.legacy.pt").find("legacy"), std::string::npos);
  EXPECT_NE(refusal(kData + "/bad_truncated.pt").find("truncated"), std::string::npos);
  EXPECT_NE(refusal(kData + "/bad_short.safetensors").find("past the"), std::string::npos);
  EXPECT_NE(refusal(kData + "/bad_header_length.safetensors").find("header claims"), std::string::npos);
  EXPECT_NE(refusal((dir / "missing.pt").string()).find("cannot open"), std::string::npos);
  EXPECT_NE(refusal(dir.path().string()).find("folder"), std::string::npos);
  test::write_file(dir / "empty.pt", "");
  EXPECT_NE(refusal((dir / "empty.pt").string()).find("empty"), std::string::npos);
  std::string noise;
  for (int i = 0; i < 4096; ++i) noise += static_cast<char>((i * 7919 + 13) % 256);
  test::write_file(dir / "noise.bin", noise);
  EXPECT_NE(refusal((dir / "noise.bin").string()).find("not a model file"), std::string::npos);
}

TEST(Model, NeverRunsCodeFromAFile) {
  test::TempDir dir;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  const std::string system = refusal(kData + "/bad_os_system.pt");
  const std::string eval = refusal(kData + "/bad_eval.pt");
  std::filesystem::current_path(cwd);
  EXPECT_NE(system.find("posix.system"), std::string::npos) << system;
  EXPECT_NE(eval.find("eval"), std::string::npos) << eval;
  EXPECT_FALSE(std::filesystem::exists(dir / "SENTINEL"));
}

// ---- the restricted pickle reader, fed bytes directly

const pickle::StorageLoader zeros_storage{
    [](const pickle::StorageRef&) {},
    [](const pickle::StorageRef& ref) { return at::zeros({ref.numel}, at::TensorOptions().dtype(ref.dtype)); }};

std::string read_error(const std::string& bytes) {
  try {
    pickle::read_pickle(bytes, zeros_storage, "test.pkl");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    return e.what();
  }
  return "";
}

// Pieces of protocol-2 pickles, spelled out so no escape sequence runs into
// the next character.
std::string u32(std::int32_t n) { return std::string(reinterpret_cast<const char*>(&n), 4); }
std::string str(const std::string& s) { return "X" + u32(static_cast<std::int32_t>(s.size())) + s; }
std::string integer(std::int32_t n) { return "J" + u32(n); }
const std::string kProto = std::string("\x80\x02");

TEST(Pickle, ReadsPlainValues) {
  // {'a': [1, True, None, 2.5], 'b': 'x'}
  const std::string bytes = kProto + "}(" + str("a") + "](" + integer(1) + "\x88" + "N" +
                            std::string("G\x40\x04\x00\x00\x00\x00\x00\x00", 9) + "e" + str("b") + str("x") + "u.";
  const auto contents = pickle::read_pickle(bytes, zeros_storage, "test.pkl");
  ASSERT_EQ(contents.metadata.size(), 5u);
  EXPECT_EQ(contents.metadata[0], (std::pair<std::string, std::string>{"a.0", "1"}));
  EXPECT_EQ(contents.metadata[1].second, "True");
  EXPECT_EQ(contents.metadata[2].second, "None");
  EXPECT_EQ(contents.metadata[3].second, "2.5");
  EXPECT_EQ(contents.metadata[4], (std::pair<std::string, std::string>{"b", "x"}));
  EXPECT_TRUE(contents.tensors.empty());
}

TEST(Pickle, RefusesWhatAStateDictNeverHolds) {
  EXPECT_NE(read_error(kProto + "cos\nsystem\n" + str("touch SENTINEL") + "\x85R.").find("os.system"), std::string::npos);
  EXPECT_NE(read_error(kProto + "csubprocess\nPopen\n.").find("subprocess.Popen"), std::string::npos);
  EXPECT_NE(read_error(kProto + "cbuiltins\neval\n.").find("builtins.eval"), std::string::npos);
  EXPECT_NE(read_error(kProto + str("os") + str("system") + "\x93.").find("os.system"), std::string::npos);  // STACK_GLOBAL
  EXPECT_NE(read_error(kProto + "cnumpy\nfrombuffer\n.").find("numpy.frombuffer"), std::string::npos);
  EXPECT_NE(read_error(kProto + "cmymodel\nNet\n).").find("torch.save(model)"), std::string::npos);
  EXPECT_NE(read_error(kProto + "ccollections\nOrderedDict\n)\x81.").find("opcode 0x81"), std::string::npos);  // NEWOBJ
  EXPECT_NE(read_error(kProto + "X" + u32(0x7fffffff) + "abc.").find("past the end"), std::string::npos);
  EXPECT_NE(read_error(kProto + "}").find("truncated"), std::string::npos);
  EXPECT_NE(read_error(kProto + "h\x05.").find("memo"), std::string::npos);
  EXPECT_NE(read_error(kProto + "u.").find("MARK"), std::string::npos);
  EXPECT_NE(read_error("").find("truncated"), std::string::npos);
}

TEST(Pickle, SurvivesDeepNestingAndCycles) {
  // A million nested lists: ]]]]...aaaa. Refused (too deep) without
  // overflowing the stack, while building or freeing it.
  std::string deep = kProto;
  deep += std::string(1000000, ']');
  deep += std::string(999999, 'a');
  deep += '.';
  EXPECT_NE(read_error(deep).find("nests"), std::string::npos);
  // A list that contains itself: ] DUP APPEND.
  EXPECT_NE(read_error(kProto + "]2a.").find("nests"), std::string::npos);
}

// {'t': a tensor view (offset, size, stride) over a storage of `numel` floats}.
std::string tensor_pickle(std::int32_t numel, std::int32_t offset, std::int32_t size, std::int32_t stride) {
  return kProto + "}(" + str("t") + "ctorch._utils\n_rebuild_tensor_v2\n(" + "(" + str("storage") +
         "ctorch\nFloatStorage\n" + str("0") + str("cpu") + integer(numel) + "tQ" + integer(offset) + integer(size) +
         "\x85" + integer(stride) + "\x85" + "\x89" + "ccollections\nOrderedDict\n)RtRu.";
}

TEST(Pickle, TensorsStayInsideTheirStorage) {
  const auto ok = pickle::read_pickle(tensor_pickle(10, 2, 4, 2), zeros_storage, "t.pkl");
  ASSERT_EQ(ok.tensors.size(), 1u);
  EXPECT_EQ(ok.tensors[0].name, "t");
  EXPECT_EQ(ok.tensors[0].tensor().numel(), 4);
  EXPECT_NE(read_error(tensor_pickle(10, 2, 5, 2)).find("past the end of its storage"), std::string::npos);
  EXPECT_NE(read_error(tensor_pickle(10, -1, 2, 1)).find("negative"), std::string::npos);
  EXPECT_NE(read_error(tensor_pickle(10, 0, 2, 0x7fffffff)).find("past the end"), std::string::npos);
  // A view that repeats one element 2^30 x 2^30 times (stride 0) stays inside
  // its storage but is no tensor anyone saved.
  const std::string repeated = kProto + "}(" + str("t") + "ctorch._utils\n_rebuild_tensor_v2\n(" + "(" + str("storage") +
                               "ctorch\nFloatStorage\n" + str("0") + str("cpu") + integer(1) + "tQ" + integer(0) +
                               integer(1 << 30) + integer(1 << 30) + "\x86" + integer(0) + integer(0) + "\x86" + "\x89" +
                               "ccollections\nOrderedDict\n)RtRu.";
  EXPECT_NE(read_error(repeated).find("more elements than any tensor can"), std::string::npos) << read_error(repeated);
}

TEST(Checkpoint, RefusesStoragesLargerThanTheFile) {
  test::TempDir dir;
  const std::string path = (dir / "huge.pt").string();
  {
    caffe2::serialize::PyTorchStreamWriter writer(path);
    const std::string pkl = tensor_pickle(2000000000, 0, 2, 1);
    writer.writeRecord("data.pkl", pkl.data(), pkl.size());
    const float data[2] = {1, 2};
    writer.writeRecord("data/0", data, sizeof data);
  }
  EXPECT_NE(refusal(path).find("declares 2000000000 elements"), std::string::npos);
}

}  // namespace
}  // namespace pevis
