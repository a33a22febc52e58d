#pragma once
// The reader registry: every format pevis reads, each a reader that claims a
// path by its content (never by its file name) and reads it. `load_model`
// asks them in order. Adding a format is one file in io/ (its claim and its
// read) and one line in `readers()` (io/load.cpp).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pevis/base/archive.h"
#include "pevis/io/model.h"
#include "pevis/operators/allowed_ops.h"

namespace pevis {

/// What a path is, read once for every reader to look at.
struct Probe {
  std::string path;
  bool folder = false;                         ///< a directory
  std::shared_ptr<const ByteSource> file;      ///< the open file; null for a folder or a name that is no file
  std::uint64_t size = 0;                      ///< the file's bytes
  std::string head;                            ///< its first 16 bytes (all of a shorter file)
  std::shared_ptr<const ZipArchive> zip;       ///< the file as a zip archive; null when it is none
};

/// One format: its name, whether it claims a probe, how it reads it (or, for
/// formats pevis refuses, the one-line `pevis::Error`, exit 3, saying what to
/// do instead).
struct Reader {
  std::string_view format;
  bool (*claims)(const Probe& probe);
  Model (*read)(const Probe& probe);
};

/// Every reader, in the order they are asked: builtin:, a folder or an index
/// of shards, an empty file (refused), torch.export, TorchScript, torch.save
/// zip, another zip (refused), legacy torch.save (refused), safetensors, a
/// bare pickle (refused).
const std::vector<Reader>& readers();

/// Reads a model: the first reader that claims `path` reads it, then every
/// operator its code calls is checked against the allow-list (before any of
/// it runs). Only checkpoints' and safetensors files' indexes are read here:
/// tensor data is read when an analysis asks for it. Throws `pevis::Error`
/// (exit 3) with what to do for anything else: a missing or unreadable file,
/// a damaged archive, a pickled Python model (`torch.save(model)`), a pickle
/// that asks for any function a state_dict does not use, an operator not on
/// the list.
Model load_model(const std::string& path);

/// Every operator use in the model's code (TorchScript or torch.export);
/// empty for files that hold only weights.
std::vector<OperatorUse> model_operators(const Model& model);

}  // namespace pevis
