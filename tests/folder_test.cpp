// Hugging Face folders and sharded checkpoints: what is read, and every way
// an index and its shards can disagree.
#include <gtest/gtest.h>

#include <filesystem>

#include "pevis/attention/attention_job.h"
#include "pevis/io/folder.h"
#include "pevis/io/load.h"
#include "pevis/base/archive.h"
#include "pevis/bias/bias.h"
#include "pevis/base/error.h"
#include "pevis/io/model.h"
#include "pevis/base/module_path.h"
#include "pevis/summary/summary.h"
#include "test_util.h"

namespace pevis {
namespace {

namespace fs = std::filesystem;
const std::string kData = PEVIS_TEST_DATA;

test::SafetensorsEntry vector_of(const std::string& name, std::vector<float> values) {
  const auto n = static_cast<std::int64_t>(values.size());
  return {name, "F32", {n}, test::float_bytes(values)};
}

// A model of 12 layers split over two shards as Hugging Face writes them:
// names sorted as text in each file and in the index.
void write_sharded(const fs::path& folder, float shift = 0) {
  fs::create_directories(folder);
  std::vector<test::SafetensorsEntry> first, second;
  std::string map;
  for (int layer : {0, 1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9}) {
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    auto& shard = layer < 6 ? first : second;
    const std::string file = layer < 6 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    shard.push_back(vector_of(p + "attn.q_proj.bias", {static_cast<float>(layer) + shift, 1.0f}));
    shard.push_back({p + "attn.q_proj.weight", "BF16", {2, 4}, ""});
    for (const std::string t : {"attn.q_proj.bias", "attn.q_proj.weight"}) {
      map += (map.empty() ? "" : ",") + std::string("\"") + p + t + "\":\"" + file + "\"";
    }
  }
  first.push_back({"lm_head.weight", "F16", {8, 2}, ""});
  map += ",\"lm_head.weight\":\"model-00001-of-00002.safetensors\"";
  test::write_safetensors(folder / "model-00001-of-00002.safetensors", first);
  test::write_safetensors(folder / "model-00002-of-00002.safetensors", second);
  test::write_file(folder / "model.safetensors.index.json",
                   "{\"metadata\": {\"total_size\": 272}, \"weight_map\": {" + map + "}}");
  test::write_file(folder / "config.json",
                   R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 4,
                       "num_hidden_layers": 12, "rope_scaling": {"type": "yarn", "factor": 4.0}, "auto_map": "x.y"})");
}

std::string refusal(const std::string& path) {
  try {
    load_model(path);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput) << path;
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    return e.what();
  }
  return "";
}

TEST(Folder, AFolderAndItsIndexAreTheSameModelInTheOrderPeopleCount) {
  test::TempDir dir;
  write_sharded(dir / "m");
  const std::uint64_t before = tensor_bytes_read();
  for (const fs::path& path : {dir / "m", dir / "m" / "model.safetensors.index.json"}) {
    const Model model = load_model(path.string());
    EXPECT_EQ(model.format, "safetensors") << path;
    EXPECT_EQ(model.shards, 2) << path;
    EXPECT_EQ(model.described(), "a folder of 2 safetensors shards") << path;
    ASSERT_EQ(model.tensors.size(), 25u);
    ASSERT_EQ(model.files.size(), 2u);
    EXPECT_NE(model.files[0].find("model-00001-of-00002"), std::string::npos);
    EXPECT_EQ(model.tensors[0].name, "lm_head.weight");
    EXPECT_EQ(model.tensors[1].name, "model.layers.0.attn.q_proj.bias");
    EXPECT_EQ(model.tensors[5].name, "model.layers.2.attn.q_proj.bias");
    EXPECT_EQ(model.tensors[23].name, "model.layers.11.attn.q_proj.bias");
    // config.json is shown, as data: nothing in it is used.
    const auto has = [&](const std::string& key, const std::string& value) {
      return std::find(model.config.begin(), model.config.end(), std::make_pair(key, value)) != model.config.end();
    };
    EXPECT_TRUE(has("architectures", "Qwen2ForCausalLM"));
    EXPECT_TRUE(has("num_hidden_layers", "12"));
    EXPECT_TRUE(has("rope_scaling", R"({"factor":4.0,"type":"yarn"})"));
    EXPECT_FALSE(std::any_of(model.config.begin(), model.config.end(), [](const auto& kv) { return kv.first == "auto_map"; }));
    const Summary s = summarize(model, nullptr);
    EXPECT_EQ(s.totals.params, 12 * (2 + 8) + 16);
    EXPECT_EQ(s.totals.param_bytes, 12 * (8 + 16) + 32);
  }
  EXPECT_EQ(tensor_bytes_read(), before);
  const Model model = load_model((dir / "m").string());
  const auto biases = find_biases(model, {});
  ASSERT_EQ(biases.size(), 12u);
  EXPECT_EQ(biases[11].values, (std::vector<float>{11.0f, 1.0f}));
  EXPECT_EQ(tensor_bytes_read() - before, 12u * 8);
}

// Attention on weights alone is refused in words that say what the folder is
// (without a config.json: with one, pevis builds the model or says why not).
// The refusal of `pevis attention FOLDER --input-shape 1,4`, or an empty
// message when it was captured (a test failure already).
std::string attention_refusal(const fs::path& folder, ExitCode expected) {
  AttentionRequest request;
  request.model = folder.string();
  request.input.shape = {1, 4};
  request.wanted.figures = request.wanted.data = false;
  try {
    attention_job(request);
    ADD_FAILURE() << "a folder of weights was captured";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), expected);
    return e.what();
  }
  return "";
}

TEST(Folder, AttentionOnShardsSaysItIsAFolderOfShards) {
  test::TempDir dir;
  write_sharded(dir / "m");
  fs::remove(dir / "m" / "config.json");
  const std::string message = attention_refusal(dir / "m", ExitCode::kBadInput);
  EXPECT_NE(message.find("a folder of 2 safetensors shards holds tensors but no forward pass"), std::string::npos)
      << message;
}

TEST(Folder, SingleFilesAndTorchSaveShardsAreRead) {
  test::TempDir dir;
  fs::create_directories(dir / "safe");
  fs::copy_file(kData + "/simple_net.safetensors", dir / "safe" / "model.safetensors");
  EXPECT_EQ(load_model((dir / "safe").string()).format, "safetensors");
  fs::create_directories(dir / "bin");
  fs::copy_file(kData + "/simple_net.state.pt", dir / "bin" / "pytorch_model.bin");
  const Model single = load_model((dir / "bin").string());
  EXPECT_EQ(single.format, "PyTorch checkpoint");
  // The same checkpoint as the one shard of an index.
  std::string map;
  for (const auto& t : single.tensors) map += (map.empty() ? "\"" : ",\"") + t.name + "\":\"part-1.bin\"";
  fs::create_directories(dir / "sharded");
  fs::copy_file(kData + "/simple_net.state.pt", dir / "sharded" / "part-1.bin");
  test::write_file(dir / "sharded" / "pytorch_model.bin.index.json", "{\"weight_map\": {" + map + "}}");
  const Model sharded = load_model((dir / "sharded").string());
  EXPECT_EQ(sharded.described(), "a folder of 1 PyTorch checkpoint shard");
  EXPECT_EQ(sharded.tensors.size(), single.tensors.size());
  EXPECT_NE(refusal(dir.path().string()).find("a folder without a model"), std::string::npos);
}

TEST(Folder, EveryDisagreementBetweenIndexAndShardsIsRefused) {
  test::TempDir dir;
  const auto index_of = [&](const std::string& name) { return dir / name / "model.safetensors.index.json"; };
  const auto edit_index = [&](const std::string& name, const std::string& from, const std::string& to) {
    std::string text = test::read_file(index_of(name));
    const auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    test::write_file(index_of(name), text);
  };

  write_sharded(dir / "missing");
  fs::remove(dir / "missing" / "model-00002-of-00002.safetensors");
  EXPECT_NE(refusal((dir / "missing").string()).find("names the shard model-00002-of-00002.safetensors, which is not in the folder"),
            std::string::npos);

  write_sharded(dir / "absent");
  edit_index("absent", "\"lm_head.weight\"", "\"lm_head.bias\":\"model-00001-of-00002.safetensors\",\"lm_head.weight\"");
  EXPECT_NE(refusal((dir / "absent").string()).find("puts the tensor lm_head.bias in model-00001-of-00002.safetensors, which lacks it"),
            std::string::npos);

  write_sharded(dir / "twice");
  test::write_safetensors(dir / "twice" / "model-00002-of-00002.safetensors",
                          {vector_of("lm_head.weight", {1, 2}), vector_of("model.layers.9.attn.q_proj.bias", {1, 2})});
  EXPECT_NE(refusal((dir / "twice").string()).find("lm_head.weight is in two shards"), std::string::npos);

  write_sharded(dir / "moved");
  edit_index("moved", "\"lm_head.weight\":\"model-00001", "\"lm_head.weight\":\"model-00002");
  EXPECT_NE(refusal((dir / "moved").string()).find("but it is in model-00001-of-00002.safetensors"), std::string::npos);

  // Shard names that leave the folder, or point at the index itself.
  for (const std::string hostile : {"../outside.safetensors", "/etc/passwd", "model.safetensors.index.json", ""}) {
    write_sharded(dir / "hostile");
    edit_index("hostile", "\"lm_head.weight\":\"model-00001-of-00002.safetensors\"", "\"lm_head.weight\":\"" + hostile + "\"");
    const std::string message = refusal((dir / "hostile").string());
    EXPECT_TRUE(message.find("not a file name in its folder") != std::string::npos ||
                message.find("is a folder or an index") != std::string::npos)
        << hostile << ": " << message;
    fs::remove_all(dir / "hostile");
  }

  for (const std::string text : {"", "{", "[]", "{\"weight_map\": []}", "{\"weight_map\": {}}", "{\"weight_map\": {\"a\": 3}}"}) {
    write_sharded(dir / "bad");
    test::write_file(index_of("bad"), text);
    EXPECT_FALSE(refusal((dir / "bad").string()).empty()) << text;
    fs::remove_all(dir / "bad");
  }

  // A config.json that is not JSON is said to be ignored; the weights still read.
  write_sharded(dir / "config");
  test::write_file(dir / "config" / "config.json", "{ not json `touch x`");
  const Model model = load_model((dir / "config").string());
  ASSERT_EQ(model.config.size(), 1u);
  EXPECT_EQ(model.config[0].second, "not valid JSON (ignored)");
}

TEST(Folder, BiasesOfABaseModelAndItsFineTuneArePaired) {
  test::TempDir dir;
  write_sharded(dir / "base");
  write_sharded(dir / "tuned", /*shift=*/0.5f);
  const auto before = find_biases(load_model((dir / "base").string()), {});
  const auto after = find_biases(load_model((dir / "tuned").string()), {});
  const BiasComparison cmp = compare_biases(before, after);
  ASSERT_EQ(cmp.common.size(), 12u);
  EXPECT_TRUE(cmp.only_before.empty());
  EXPECT_TRUE(cmp.only_after.empty());
  const auto run = test::run(PEVIS_BINARY, {"bias", "base", "tuned", "--format", "none", "-v"}, dir.path());
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("base: a folder of 2 safetensors shards, 25 tensors"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("config.json architectures = Qwen2ForCausalLM"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("lm_head.weight  Half [8, 2]"), std::string::npos) << run.out;
  // The tree from the names: alike numbered layers fold, with their bytes and dtypes.
  const auto summary = test::run(PEVIS_BINARY, {"summary", "base", "--fold-repeats", "--format", "none"}, dir.path());
  EXPECT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_NE(summary.out.find("0 (x12, each)"), std::string::npos) << summary.out;
  EXPECT_NE(summary.out.find("BFloat16,Float"), std::string::npos) << summary.out;
  EXPECT_NE(summary.out.find("No tensor data was read"), std::string::npos) << summary.out;
}

TEST(ModulePath, NaturalOrderCountsDigitRunsByValue) {
  EXPECT_TRUE(natural_less("layers.2.bias", "layers.10.bias"));
  EXPECT_FALSE(natural_less("layers.10.bias", "layers.2.bias"));
  EXPECT_TRUE(natural_less("a.9", "b.1"));
  EXPECT_TRUE(natural_less("layers.2", "layers.2.bias"));
  EXPECT_FALSE(natural_less("x", "x"));
  EXPECT_TRUE(natural_less("h.02", "h.3"));
}

// The Hugging Face cache keeps a snapshot's files as links into the repo's
// blobs (REPO/snapshots/REV/x -> ../../blobs/SHA): such a folder is read,
// also by the confined pevis-torch, while a link out of an ordinary folder
// is refused (Hostile.AShardLinkedFromOutsideTheFolderIsRefused).
TEST(Folder, ASnapshotOfTheHubCacheIsRead) {
  test::TempDir dir;
  write_sharded(dir / "plain");
  const fs::path repo = dir / "models--org--model", snapshot = repo / "snapshots" / "abc123";
  fs::create_directories(repo / "blobs");
  fs::create_directories(snapshot);
  int blob = 0;
  for (const auto& entry : fs::directory_iterator(dir / "plain")) {
    const std::string sha = "sha" + std::to_string(blob++);
    fs::copy_file(entry.path(), repo / "blobs" / sha);
    fs::create_symlink("../../blobs/" + sha, snapshot / entry.path().filename());
  }
  EXPECT_EQ(hub_cache_repo(snapshot.string()), fs::canonical(repo).string());
  EXPECT_EQ(hub_cache_repo((dir / "plain").string()), "");
  const Model model = load_model(snapshot.string());
  EXPECT_EQ(model.files.size(), 2u);
  const auto r = test::run(PEVIS_BINARY, {"bias", snapshot.string(), "--format", "none", "--data", "none", "-v"}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("model.layers.11.attn.q_proj.bias"), std::string::npos) << r.out;
}

// With a config.json of a family pevis builds, what the config lacks is said,
// naming the file.
TEST(Folder, AttentionOnShardsWithAnIncompleteConfigSaysWhatItLacks) {
  test::TempDir dir;
  write_sharded(dir / "m");
  const std::string message = attention_refusal(dir / "m", ExitCode::kBadInput);
  EXPECT_NE(message.find((dir / "m" / "config.json").string() + " : '"), std::string::npos) << message;
  EXPECT_NE(message.find("is missing"), std::string::npos) << message;
}

}  // namespace
}  // namespace pevis
