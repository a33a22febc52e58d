#pragma once

// The operators a model file may call. A TorchScript archive or a torch.export
// program is a program: LibTorch runs whatever operator it names, and some
// operators reach the file system (`aten::from_file`, `aten::save`), storages
// and raw memory (`aten::set_`, `aten::_reshape_alias`) or the terminal
// (`prim::Print`). pevis walks every graph a model holds and checks every
// operator against an allow-list before anything of the model runs.

#include <string>
#include <vector>

#include "pevis/base/archive.h"
#include "pevis/io/model.h"

namespace pevis {

/// One operator a model's code calls, and where.
struct OperatorUse {
  std::string op;     ///< "aten::linear", "prim::If", "_operator::add"
  std::string where;  ///< "forward of 'layers.0.attn'", "node 12 ('encoder')"
};

/// Every operator use in the model's code, once per (operator, place): for
/// TorchScript every method of every submodule, every function and method
/// they call, the bodies of loops, branches and forked tasks; for torch.export
/// every node. Empty for files that hold only weights.
std::vector<OperatorUse> model_operators(const Model& model);

/// True when `op` is on pevis's allow-list (operators/allowed_ops.cpp).
bool operator_allowed(const std::string& op);

/// Operators the user allowed by name (`--allow-op`), for this process, in
/// addition to the list. Names must be qualified (`aten::from_file`); throws
/// `pevis::Error` (exit 2) for a name that is not.
void set_extra_allowed_operators(const std::vector<std::string>& ops);
const std::vector<std::string>& extra_allowed_operators();

/// Refuses a model that calls an operator neither on the list nor allowed by
/// the user: `pevis::Error` (exit 3) naming the operator and where it is
/// called. Files without code pass.
void check_operators(const Model& model);

/// Refuses a TorchScript archive whose code (its `code/*.py` records) defines
/// `__setstate__`, before it is loaded: LibTorch runs that method while
/// loading, before any check could read it. `path` names it in messages.
void check_torchscript_sources(const ZipArchive& zip, const std::string& path);

}  // namespace pevis
