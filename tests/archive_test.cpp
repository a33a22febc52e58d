// Reading only what is shown: the zip reader of PyTorch archives, and tensors
// whose data is read when an analysis asks for it.
#include "pevis/io/load.h"
#include "pevis/base/archive.h"

#include <ATen/ops/equal.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>

#include "pevis/bias/bias.h"
#include "pevis/encoding/encoding.h"
#include "pevis/base/error.h"
#include "pevis/io/model.h"
#include "pevis/summary/summary.h"
#include "test_util.h"

namespace pevis {
namespace {

const std::string kData = PEVIS_TEST_DATA;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    return e.what();
  }
  return "";
}

TEST(Zip, ReadsEveryRecordAsLibTorchDoes) {
  // A torch.save checkpoint and a TorchScript archive, both written by PyTorch.
  for (const std::string name : {"simple_net.state.pt", "simple_net.script.pt", "attn_encoder.pt"}) {
    const std::string path = kData + "/" + name;
    const ZipArchive zip(open_file(path), "PyTorch zip archive");
    caffe2::serialize::PyTorchStreamReader reader(path);
    const auto records = reader.getAllRecords();
    ASSERT_FALSE(records.empty());
    for (const auto& record : records) {
      const std::string* full = zip.find_suffix(record);
      ASSERT_NE(full, nullptr) << name << ": " << record;
      const auto [data, size] = reader.getRecord(record);
      EXPECT_EQ(zip.read(*full), std::string(static_cast<const char*>(data.get()), size)) << name << ": " << record;
    }
  }
}

// Little-endian fields of a zip archive written by hand.
std::string le(std::uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

TEST(Zip, ReadsZip64Archives) {
  // One stored entry whose sizes and offset live in ZIP64 fields, as writers
  // put them for archives over 4 GB, and ZIP64's end records.
  const std::string name = "archive/data/0", data = "hello";
  const std::uint32_t crc = 0x3610a686;  // CRC-32 of "hello"
  std::string zip = "PK\x03\x04" + le(45, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(crc, 4) + le(0xffffffffu, 4) +
                    le(0xffffffffu, 4) + le(name.size(), 2) + le(20, 2) + name + le(1, 2) + le(16, 2) + le(5, 8) + le(5, 8) + data;
  const std::uint64_t dir_at = zip.size();
  zip += "PK\x01\x02" + le(45, 2) + le(45, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(crc, 4) + le(0xffffffffu, 4) +
         le(0xffffffffu, 4) + le(name.size(), 2) + le(28, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) +
         le(0xffffffffu, 4) + name + le(1, 2) + le(24, 2) + le(5, 8) + le(5, 8) + le(0, 8);
  const std::uint64_t dir_size = zip.size() - dir_at, record_at = zip.size();
  zip += "PK\x06\x06" + le(44, 8) + le(45, 2) + le(45, 2) + le(0, 4) + le(0, 4) + le(1, 8) + le(1, 8) + le(dir_size, 8) +
         le(dir_at, 8);
  zip += "PK\x06\x07" + le(0, 4) + le(record_at, 8) + le(1, 4);
  zip += "PK\x05\x06" + le(0, 2) + le(0, 2) + le(0xffff, 2) + le(0xffff, 2) + le(0xffffffffu, 4) + le(0xffffffffu, 4) + le(0, 2);
  const ZipArchive archive(memory_source(zip, "zip64.pt"), "PyTorch zip archive");
  ASSERT_NE(archive.find(name), nullptr);
  EXPECT_EQ(archive.find(name)->size, 5u);
  EXPECT_EQ(archive.read(name), "hello");
  // The same with a wrong checksum is refused when read.
  std::string flipped = zip;
  flipped[flipped.find("hello")] = 'j';
  const ZipArchive damaged(memory_source(flipped, "zip64.pt"), "PyTorch zip archive");
  EXPECT_NE(error_of([&] { damaged.read(name); }).find("fails its checksum"), std::string::npos);
}

TEST(Zip, DamagedArchivesAreOneLineErrors) {
  const std::string bytes = test::read_file(kData + "/simple_net.state.pt");
  // Cut anywhere: no directory, or a directory that points past the end.
  for (std::size_t keep : {std::size_t{0}, std::size_t{21}, bytes.size() / 2, bytes.size() - 1}) {
    const std::string message =
        error_of([&] { ZipArchive(memory_source(bytes.substr(0, keep), "cut.pt"), "PyTorch zip archive"); });
    EXPECT_NE(message.find("cut.pt : not a readable PyTorch zip archive"), std::string::npos) << keep << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

// Two entries whose names differ only in letter case: LibTorch's lookup
// ignores case, so pevis could not know which one LibTorch would read.
TEST(Zip, EntriesNamedAlikeButForCaseAreRefused) {
  test::TempDir dir;
  const std::string path = (dir / "twice.pt").string();
  {
    caffe2::serialize::PyTorchStreamWriter writer(path);
    writer.writeRecord("code/__torch__.py", "x", 1);
    writer.writeRecord("code/__torch__.PY", "y", 1);
    writer.writeEndOfFile();
  }
  const std::string message = error_of([&] { ZipArchive(open_file(path), "PyTorch zip archive"); });
  EXPECT_NE(message.find("two entries are named twice/code/__torch__.PY (letter case aside)"), std::string::npos)
      << message;
}

TEST(Zip, ATensorRecordThatFailsItsChecksumIsRefusedWhenRead) {
  // One byte of a weight's data changed: the index still reads (nothing of
  // the data is read then), the tensor is refused when it is read.
  test::TempDir dir;
  std::string bytes = test::read_file(kData + "/simple_net.state.pt");
  const ZipArchive zip(memory_source(bytes, "x"), "PyTorch zip archive");
  const std::string* record = zip.find_suffix("data/0");
  ASSERT_NE(record, nullptr);
  const std::string original = zip.read(*record);
  const auto at = bytes.find(original);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 3] = static_cast<char>(bytes[at + 3] ^ 0x40);
  const auto path = dir / "flipped.pt";
  test::write_file(path, bytes);
  const Model model = load_model(path.string());
  std::string message;
  for (const auto& t : model.tensors) {
    if (message.empty()) message = error_of([&] { t.tensor(); });
  }
  EXPECT_NE(message.find("fails its checksum"), std::string::npos) << message;
}

TEST(Lazy, LoadingReadsNoTensorDataAndBiasesReadOnlyTheirs) {
  for (const std::string name : {"simple_net.state.pt", "simple_net.safetensors", "simple_net.half.safetensors"}) {
    const std::uint64_t before = tensor_bytes_read();
    const Model model = load_model(kData + "/" + name);
    EXPECT_EQ(tensor_bytes_read(), before) << name;
    std::uint64_t bias_bytes = 0;
    for (const auto& t : model.tensors) {
      EXPECT_FALSE(t.loaded()) << name << ": " << t.name;
      if (t.dim() == 1 && t.name.size() > 4 && t.name.substr(t.name.size() - 4) == "bias") bias_bytes += t.nbytes();
    }
    const Summary summary = summarize(model, nullptr);
    EXPECT_GT(summary.totals.param_bytes, 0);
    EXPECT_EQ(tensor_bytes_read(), before) << name << ": summary read data";
    const auto biases = find_biases(model, {});
    ASSERT_FALSE(biases.empty());
    EXPECT_EQ(tensor_bytes_read() - before, bias_bytes) << name;
    for (const auto& t : model.tensors) {
      const bool is_bias = std::any_of(biases.begin(), biases.end(), [&](const BiasVector& b) { return b.name == t.name; });
      EXPECT_EQ(t.loaded(), is_bias) << name << ": " << t.name;
    }
  }
}

TEST(Lazy, ReadTensorsEqualWhatTheFileHolds) {
  // The same network saved by torch.save and as safetensors: same values,
  // whichever way each was read.
  const Model state = load_model(kData + "/simple_net.state.pt");
  const Model safe = load_model(kData + "/simple_net.safetensors");
  for (const auto& t : state.tensors) {
    const auto other = std::find_if(safe.tensors.begin(), safe.tensors.end(), [&](const NamedTensor& s) { return s.name == t.name; });
    ASSERT_NE(other, safe.tensors.end()) << t.name;
    EXPECT_EQ(t.shape(), other->shape()) << t.name;
    EXPECT_TRUE(at::equal(t.tensor(), other->tensor())) << t.name;
  }
}

// A safetensors file of 6.4 GB whose weight is a hole: reading it would take
// more memory than the test allows; only the biases are there to read.
test::SafetensorsEntry bias(const std::string& name, std::vector<float> values) {
  const auto n = static_cast<std::int64_t>(values.size());
  return {name, "F32", {n}, test::float_bytes(values)};
}

std::vector<test::SafetensorsEntry> sparse_model() {
  return {{"layers.0.weight", "F32", {40000, 40000}, ""},
          bias("layers.0.bias", {1.5f, -2.0f, 0.25f}),
          {"layers.1.weight", "F32", {16, 3}, ""},
          bias("layers.1.bias", {4.0f, 8.0f})};
}

TEST(Lazy, ASparseMultiGigabyteFileShowsItsBiasesReadingOnlyThem) {
  test::TempDir dir;
  const auto path = dir / "sparse.safetensors";
  test::write_safetensors(path, sparse_model());
  ASSERT_GT(std::filesystem::file_size(path), 6'000'000'000u);
  const std::uint64_t before = tensor_bytes_read();
  const Model model = load_model(path.string());
  const auto biases = find_biases(model, {});
  ASSERT_EQ(biases.size(), 2u);
  EXPECT_EQ(biases[0].values, (std::vector<float>{1.5f, -2.0f, 0.25f}));
  EXPECT_EQ(biases[1].values, (std::vector<float>{4.0f, 8.0f}));
  EXPECT_EQ(tensor_bytes_read() - before, 20u);
  EXPECT_EQ(summarize(model, nullptr).totals.params, 40000LL * 40000 + 3 + 48 + 2);

  // The binary, under an address-space limit smaller than the hole.
  if (test::kSanitized) GTEST_SKIP() << "AddressSanitizer cannot run under an address-space limit";
  const auto run = test::run(PEVIS_BINARY, {"bias", path.string(), "--format", "none", "-o", "out"}, dir.path(), {},
                             3'000'000'000ull);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(test::read_file(dir / "out" / "bias.csv").find("layers.1.bias"), std::string::npos);

  // A 1-D tensor larger than the budget: refused before it is read.
  auto entries = sparse_model();
  entries.push_back({"huge.bias", "F32", {1'600'000'000}, ""});
  test::write_safetensors(dir / "huge.safetensors", entries);
  const auto refused = test::run(PEVIS_BINARY, {"bias", "huge.safetensors", "--format", "none", "-o", "out2"}, dir.path(), {},
                                 3'000'000'000ull);
  EXPECT_EQ(refused.exit_code, 3) << refused.err;
  EXPECT_EQ(test::count_lines(refused.err), 1) << refused.err;
  EXPECT_NE(refused.err.find("reading the 3 selected vectors would need about 19.2 GB"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("ulimit -v"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--match"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out2"));
}

}  // namespace
}  // namespace pevis
