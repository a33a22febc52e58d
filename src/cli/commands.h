#pragma once

#include <CLI/CLI.hpp>

namespace pevis::cli {

/// Each adds one subcommand, with its options and the callback that runs it
/// (app.cpp lists them, in the order --help shows them). A subcommand's jobs
/// that need LibTorch are its runners (runners.h): pevis-torch links them,
/// the front hands them over (handover.cpp).
void setup_encoding(CLI::App& app);
void setup_bias(CLI::App& app);
void setup_attention(CLI::App& app);
void setup_builtins(CLI::App& app);
void setup_summary(CLI::App& app);
void setup_export(CLI::App& app);
void setup_tokenize(CLI::App& app);

}  // namespace pevis::cli
