#pragma once
// TorchScript archives (torch.jit.save).

#include <cstdint>
#include <string>
#include <vector>

#include "pevis/base/archive.h"
#include "pevis/io/model.h"
#include "pevis/operators/allowed_ops.h"

namespace pevis {

/// True for a zip archive that holds TorchScript code or constants.
bool is_torchscript_archive(const ZipArchive& zip);

/// Refuses a TorchScript archive whose code (its `code/*.py` records) defines
/// `__setstate__`, before it is loaded: LibTorch runs that method while
/// loading, before any check could read it. `path` names it in messages.
void check_torchscript_sources(const ZipArchive& zip, const std::string& path);

/// Refuses a TorchScript archive any of whose pickles (data.pkl,
/// constants.pkl, traced_inputs.pkl, the code's .debug_pkl records)
/// pevis's restricted machine refuses, or whose tensors reach past their
/// storage records: LibTorch's unpickler checks neither.
void check_torchscript_pickles(const ZipArchive& zip, const std::string& path);

/// Loads the TorchScript archive `file` (opened at `path`) with LibTorch,
/// which reads it through that open file (check its sources and pickles
/// first). Throws `pevis::Error` (exit 3) in one line, saying when the file
/// needs a newer PyTorch.
Model read_torchscript(std::shared_ptr<const ByteSource> file, const std::string& path);

/// Every operator use in a module's code, once per (operator, place): every
/// method of every submodule, every function and method they call, the
/// bodies of loops, branches and forked tasks.
std::vector<OperatorUse> script_operators(const torch::jit::Module& module);

/// Saves the model's module (`pevis export`) as a TorchScript archive at
/// `path`, which the caller makes atomic (`write_via_temporary`). Throws
/// `pevis::Error` (exit 3) when the model (named `name`) has no module, and
/// LibTorch's exception when the file cannot be written.
void write_torchscript(const Model& model, const std::string& name, const std::string& path);

}  // namespace pevis
