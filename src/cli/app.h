#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <ostream>

namespace pevis::cli {

/// The pevis command line with every subcommand; parsing it runs the one given.
std::unique_ptr<CLI::App> make_app();

/// The one-line message for a command line that could not be parsed.
std::string usage_message(const CLI::App& app, const CLI::ParseError& error, int argc, char** argv);

/// Parses one command line and runs its job: what `main` does, and what
/// tests call to run a job in their own process. Every failure is written to
/// `err` as one line `pevis: ...`; returns the exit code (README, "Exit codes").
int run_command_line(int argc, char** argv, std::ostream& err);

}  // namespace pevis::cli
