#pragma once
// Hugging Face folders: one model file, or an index of shards, and config.json.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pevis/io/model.h"

namespace pevis {

/// Reads one file of a folder (a shard, model.safetensors, pytorch_model.bin):
/// `load_model`, handed down by io/load.cpp, which knows every format.
using FileLoader = std::function<Model(const std::string& path)>;

/// Reads a Hugging Face folder (`model.safetensors`, or
/// `model.safetensors.index.json` and its shards, or `pytorch_model.bin` or
/// its index and shards) or a `*.index.json` file, each file by `load_file`.
/// Shards are checked against the index: a missing shard, a tensor the index
/// names that its shard lacks, or a tensor in two shards is `pevis::Error`
/// (exit 3). `config.json`, when present, fills `Model::config`.
Model read_folder(const std::string& path, const FileLoader& load_file);

/// The files reading the index `index_path` opens: the index, each shard it
/// names (paths beside it) and the config.json beside it when there is one.
/// Only the index when it cannot be parsed: reading it then says why.
std::vector<std::string> index_files(const std::string& index_path);

/// For a folder of the Hugging Face cache (`REPO/snapshots/REVISION/`, whose
/// files are links to `REPO/blobs/`): REPO, with links resolved. "" for any
/// other folder.
std::string hub_cache_repo(const std::string& folder);

/// True when a file of `size` bytes that begins with `head` (its first 16
/// bytes, or all of a shorter file) is JSON: an index of shards, not a
/// safetensors file.
bool is_index_head(const std::string& head, std::uint64_t size);

}  // namespace pevis
