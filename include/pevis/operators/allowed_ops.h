#pragma once

// The operators a model file may call. A TorchScript archive or a torch.export
// program is a program: LibTorch runs whatever operator it names, and some
// operators reach the file system (`aten::from_file`, `aten::save`), storages
// and raw memory (`aten::set_`, `aten::_reshape_alias`) or the terminal
// (`prim::Print`). pevis walks every graph a model holds (io/load.h lists
// the uses) and checks every operator against this allow-list before
// anything of the model runs.

#include <string>
#include <vector>

namespace pevis {

/// One operator a model's code calls, and where.
struct OperatorUse {
  std::string op;     ///< "aten::linear", "prim::If", "_operator::add"
  std::string where;  ///< "forward of 'layers.0.attn'", "node 12 ('encoder')"
};

/// True when `op` is on pevis's allow-list (operators/allowed_ops.cpp).
bool operator_allowed(const std::string& op);

/// Operators the user allowed by name (`--allow-op`), for this process, in
/// addition to the list. Names must be qualified (`aten::from_file`); throws
/// `pevis::Error` (exit 2) for a name that is not.
void set_extra_allowed_operators(const std::vector<std::string>& ops);
const std::vector<std::string>& extra_allowed_operators();

/// Refuses a model that calls an operator neither on the list nor allowed by
/// the user: `pevis::Error` (exit 3) naming the model file `path`, the
/// operator and where it is called. Files without code have no uses.
void check_operators(const std::vector<OperatorUse>& uses, const std::string& path);

}  // namespace pevis
