#pragma once

// The jobs that need LibTorch. `pevis-torch` links their implementations
// (run_*.cpp); the front executable `pevis` links handover.cpp instead, whose
// versions start `pevis-torch` on the same command line.

#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "options.h"

namespace pevis::cli {

/// `pevis encoding MODEL`: the positional tensors a model holds.
void run_encoding_model(const EncodingOptions& options);
void run_bias(const BiasOptions& options);
void run_attention(const AttentionOptions& options);
void run_summary(const SummaryOptions& options);
/// `pevis builtins -v`: the listing with builtin:reverse loaded (trained
/// once) and measured.
void run_builtins_verbose(const BuiltinsOptions& options);
void run_export(const ExportOptions& options);

/// `pevis builtins`: lists the built-ins and writes the sample inputs;
/// `check`, when given, adds to the listing (on `out`) and to the summary.
void builtins_job(const BuiltinsOptions& options,
                  const std::function<void(std::ostream& out, nlohmann::json& summary)>& check = {});

/// The command line as `main` received it, kept for the hand-over.
void keep_command_line(int argc, char** argv);
const std::vector<std::string>& kept_command_line();

}  // namespace pevis::cli
