// Hugging Face folders and sharded checkpoints: an index names, for every
// tensor, the shard that holds it; the shards are read as the files they are.
#include "pevis/io/folder.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "pevis/base/archive.h"
#include "pevis/base/error.h"
#include "pevis/base/json_depth.h"
#include "pevis/io/safetensors.h"
#include "pevis/base/module_path.h"

namespace pevis {
namespace {

using nlohmann::json;

constexpr std::uint64_t kMaxIndexBytes = 256ull << 20;  // a 1e6-tensor index is about 100 MB

// The path with every link resolved, or "" when it cannot be.
std::string real_path(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (!resolved) return "";
  std::string out(resolved);
  std::free(resolved);
  return out;
}

bool is_dir(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

std::string folder_of(const std::string& file) {
  const auto slash = file.rfind('/');
  return slash == std::string::npos ? "." : file.substr(0, slash == 0 ? 1 : slash);
}

std::string join(const std::string& folder, const std::string& name) {
  return folder.empty() || folder.back() == '/' ? folder + name : folder + "/" + name;
}

// What config.json declares that a reader of weights wants to see. The file
// is read as data only; nothing in it is trusted for sizes.
std::vector<std::pair<std::string, std::string>> read_config(const std::string& path) {
  std::vector<std::pair<std::string, std::string>> out;
  json config;
  try {
    const auto source = open_file(path);
    if (source->size() > kMaxIndexBytes) return {{"config.json", "too large to read"}};
    const std::string text = source->read_string(0, source->size());
    check_json_depth(text, path);
    config = json::parse(text);
  } catch (const json::exception&) {
    return {{"config.json", "not valid JSON (ignored)"}};
  } catch (const Error&) {
    return {{"config.json", "cannot be read (ignored)"}};
  }
  if (!config.is_object()) return {{"config.json", "not a JSON object (ignored)"}};
  static const char* keys[] = {"architectures", "model_type", "torch_dtype", "hidden_size", "intermediate_size",
                               "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
                               "vocab_size", "max_position_embeddings", "rope_theta", "rope_scaling",
                               "tie_word_embeddings"};
  for (const char* key : keys) {
    if (!config.contains(key) || config[key].is_null()) continue;
    const json& v = config[key];
    std::string text;
    if (v.is_string()) {
      text = v.get<std::string>();
    } else if (v.is_array() && std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_string(); })) {
      for (const auto& x : v) text += (text.empty() ? "" : ", ") + x.get<std::string>();
    } else {
      text = v.dump();
    }
    out.emplace_back(key, one_line(text.size() > 200 ? text.substr(0, 200) + "..." : text));
  }
  return out;
}

}  // namespace

bool is_index_head(const std::string& head, std::uint64_t size) {
  // A safetensors file whose header length starts with 0x7b also begins
  // with '{'; its header then begins at byte 8.
  return size >= 2 && size <= kMaxIndexBytes && !head.empty() && head[0] == '{' && !is_safetensors_head(head);
}

namespace {

// True for a file whose content is an index (a shard that is one would
// make the index read itself).
bool index_on_disk(const std::string& path) {
  try {
    const auto source = open_file(path);
    return is_index_head(source->read_string(0, std::min<std::uint64_t>(source->size(), 16)), source->size());
  } catch (const Error&) {
    return false;
  }
}

// A shard file's name as an index gives it: a plain name in the index's folder.
bool plain_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// An index: its JSON, its shards in natural order (each checked to be a
// plain file name of its folder that is there), and each tensor's shard.
struct Index {
  json doc;
  std::vector<std::string> shards;
  std::map<std::string, std::string> shard_of;
};

Index parse_index(const std::string& index_path) {
  const auto source = open_file(index_path);
  if (source->size() > kMaxIndexBytes) throw bad_input(index_path, "the index is larger than any index of a checkpoint", "check the path");
  const std::string text = source->read_string(0, source->size());
  check_json_depth(text, index_path);
  Index index;
  try {
    index.doc = json::parse(text);
  } catch (const json::exception&) {
    throw bad_input(index_path, "the index is not valid JSON", "the file is damaged: download it again");
  }
  if (!index.doc.is_object() || !index.doc.contains("weight_map") || !index.doc["weight_map"].is_object()) {
    throw bad_input(index_path, "not an index of a sharded checkpoint (no weight_map object)",
                    "give a model.safetensors.index.json or pytorch_model.bin.index.json, or the folder");
  }
  // Shards in the order the index first names them; each tensor's shard.
  for (const auto& [tensor, file] : index.doc["weight_map"].items()) {
    if (!file.is_string() || !plain_name(file.get<std::string>())) {
      throw bad_input(index_path, "the index gives tensor '" + one_line(tensor) + "' a shard that is not a file name in its folder",
                      "the index is damaged or hostile");
    }
    const std::string name = file.get<std::string>();
    if (std::find(index.shards.begin(), index.shards.end(), name) == index.shards.end()) index.shards.push_back(name);
    index.shard_of[tensor] = name;
  }
  if (index.shards.empty()) throw bad_input(index_path, "the index names no tensors", "the index is damaged");
  std::sort(index.shards.begin(), index.shards.end(), natural_less);
  const std::string folder = folder_of(index_path);
  for (const auto& shard : index.shards) {
    if (!exists(join(folder, shard))) {
      throw bad_input(index_path, "the index names the shard " + one_line(shard) + ", which is not in the folder",
                      "download the missing shard, or check that every shard is in " + folder);
    }
  }
  return index;
}

// A shard is a file of the folder: a link that leads elsewhere is refused,
// except into the blobs of a Hugging Face cache, where every file of a
// snapshot is such a link. Neither a folder nor an index.
void check_shard(const std::string& index_path, const std::string& shard, const std::string& shard_path,
                 const std::string& real_folder, const std::string& repo) {
  const std::string real = real_path(shard_path);
  const auto inside = [&real](const std::string& dir) {
    return !dir.empty() && real.substr(0, real.rfind('/')) == (dir == "/" ? "" : dir);
  };
  if (real.empty() || !(inside(real_folder) || (!repo.empty() && inside(repo + "/blobs")))) {
    throw bad_input(index_path, "the shard " + one_line(shard) + " is a link that leads outside the folder",
                    "copy the shard into the folder instead of linking to it");
  }
  if (is_dir(shard_path) || index_on_disk(shard_path)) {
    throw bad_input(index_path, "the index names " + one_line(shard) + " as a shard, but it is a folder or an index",
                    "the index is damaged or hostile");
  }
}

// Every tensor the index names is in the shard it names.
void check_shard_contents(const std::string& index_path, const Index& index,
                          const std::map<std::string, std::string>& found_in) {
  for (const auto& [tensor, shard] : index.shard_of) {
    const auto found = found_in.find(tensor);
    if (found == found_in.end()) {
      throw bad_input(index_path, "the index puts the tensor " + one_line(tensor) + " in " + one_line(shard) + ", which lacks it",
                      "the shard is damaged or from another version: download it again");
    }
    if (found->second != shard) {
      throw bad_input(index_path, "the index puts the tensor " + one_line(tensor) + " in " + one_line(shard) + ", but it is in " +
                                      one_line(found->second),
                      "the index and shards are from different versions: download them again");
    }
  }
}

Model read_index(const std::string& index_path, const FileLoader& load_file) {
  const Index index = parse_index(index_path);
  const std::string folder = folder_of(index_path);
  Model model;
  model.path = index_path;
  std::map<std::string, std::string> found_in;  // tensor -> the shard it was found in
  std::set<std::string> formats;
  const std::string real_folder = real_path(folder.empty() ? "." : folder);
  const std::string repo = hub_cache_repo(folder.empty() ? "." : folder);
  for (const auto& shard : index.shards) {
    const std::string shard_path = join(folder, shard);
    check_shard(index_path, shard, shard_path, real_folder, repo);
    Model part = load_file(shard_path);
    if (part.runnable()) {
      throw bad_input(shard_path, "a shard holds a runnable model (" + part.format + "), not tensors",
                      "shards are safetensors files or torch.save state_dicts");
    }
    formats.insert(part.format);
    for (auto& t : part.tensors) {
      const auto [at, fresh] = found_in.emplace(t.name, shard);
      if (!fresh) {
        throw bad_input(index_path, "the tensor " + one_line(t.name) + " is in two shards, " + one_line(at->second) + " and " +
                                        one_line(shard),
                        "the checkpoint is damaged: remove the stale shard or download it again");
      }
      model.tensors.push_back(std::move(t));
    }
    for (auto& [key, value] : part.metadata) model.metadata.emplace_back(shard + ": " + key, std::move(value));
    model.files.push_back(shard_path);
  }
  check_shard_contents(index_path, index, found_in);
  std::stable_sort(model.tensors.begin(), model.tensors.end(),
                   [](const NamedTensor& a, const NamedTensor& b) { return natural_less(a.name, b.name); });
  model.format = formats.size() == 1 ? *formats.begin() : "mixed";
  model.shards = static_cast<int>(index.shards.size());
  if (index.doc.contains("metadata") && index.doc["metadata"].is_object()) {
    for (const auto& [key, value] : index.doc["metadata"].items()) {
      model.metadata.emplace_back(key, one_line(value.is_string() ? value.get<std::string>() : value.dump()));
    }
  }
  return model;
}

}  // namespace

std::vector<std::string> index_files(const std::string& index_path) {
  std::vector<std::string> files = {index_path};
  try {
    const std::string folder = folder_of(index_path);
    for (const auto& shard : parse_index(index_path).shards) files.push_back(join(folder, shard));
    if (const std::string config = join(folder, "config.json"); exists(config)) files.push_back(config);
  } catch (const Error&) {
    // The job's own reading of the index says what is wrong with it.
  }
  return files;
}

std::string hub_cache_repo(const std::string& folder) {
  const std::string real = real_path(folder);
  const auto cut = real.rfind('/');
  if (real.empty() || cut == std::string::npos || cut == 0) return "";
  const std::string snapshots = real.substr(0, cut);
  const auto cut2 = snapshots.rfind('/');
  if (cut2 == std::string::npos || snapshots.substr(cut2 + 1) != "snapshots") return "";
  const std::string repo = snapshots.substr(0, cut2);
  return is_dir(repo + "/blobs") ? repo : "";
}

Model read_folder(const std::string& path, const FileLoader& load_file) {
  if (!is_dir(path)) {
    Model model = read_index(path, load_file);
    const std::string config = join(folder_of(path), "config.json");
    if (exists(config)) model.config = read_config(config), model.config_file = config;
    return model;
  }
  static const char* candidates[] = {"model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json",
                                     "pytorch_model.bin"};
  for (const char* name : candidates) {
    const std::string file = join(path, name);
    if (!exists(file)) continue;
    Model model = std::string(name).find(".index.json") != std::string::npos ? read_index(file, load_file) : load_file(file);
    model.path = path;
    const std::string config = join(path, "config.json");
    if (exists(config)) model.config = read_config(config), model.config_file = config;
    return model;
  }
  throw bad_input(path, "a folder without a model: it has no model.safetensors, pytorch_model.bin, or an index of their shards",
                  "give the folder of a Hugging Face model, or the path of a model file");
}

}  // namespace pevis
