#pragma once

#include <CLI/CLI.hpp>

namespace pevis::cli {

/// Each adds one subcommand, with its options and the callback that runs it.
void setup_encoding(CLI::App& app);
void setup_bias(CLI::App& app);
void setup_attention(CLI::App& app);
void setup_builtins(CLI::App& app);
void setup_summary(CLI::App& app);

}  // namespace pevis::cli
