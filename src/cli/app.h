#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace pevis::cli {

/// The pevis command line with every subcommand; parsing it runs the one given.
std::unique_ptr<CLI::App> make_app();

/// The one-line message for a command line that could not be parsed.
std::string usage_message(const CLI::App& app, const CLI::ParseError& error, int argc, char** argv);

}  // namespace pevis::cli
