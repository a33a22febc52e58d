#pragma once

// What each subcommand was asked to do, as parsed from the command line. The
// front executable parses these without LibTorch; the runners of jobs that
// need a model (runners.h) take them as they are.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "output_options.h"
#include "pevis/attention/attention_job.h"
#include "pevis/bias/bias_job.h"
#include "pevis/encoding/encoding_job.h"
#include "pevis/io/input_request.h"
#include "pevis/summary/summary_job.h"
#include "pevis/positional/rope.h"
#include "pevis/positional/sinusoid.h"

namespace CLI {
class App;  // CLI/CLI.hpp: only the files that add options include it
}  // namespace CLI

namespace pevis::cli {

/// How a subcommand that runs a model gets its one input tensor: the
/// request, and --input-shape as given, until `input_request` parses it.
struct InputOptions {
  InputRequest request;
  std::string shape;
};

/// Adds --input, --vocab, --unk, --layout, --input-shape and --seed.
void add_input_options(CLI::App& command, InputOptions& options);

/// The request with --input-shape parsed. Throws `pevis::Error`: exit 2 for
/// a malformed list, 3 for sizes out of range.
InputRequest input_request(const InputOptions& options);

/// What a job that reads a model may let it do, and for how long.
struct SafetyOptions {
  std::vector<std::string> allow_ops;  ///< operators allowed beyond pevis's list, by name
  double time_limit = 300;             ///< seconds the job may take, publishing included (0: no limit)
  bool verbose = false;                ///< say which confinement is in force
};

/// Adds --allow-op and --time-limit (and -v/--verbose when `with_verbose`:
/// subcommands that have their own -v set `verbose` themselves).
void add_safety_options(CLI::App& command, SafetyOptions& options, bool with_verbose);

/// Jobs of this process confine themselves (Landlock) and keep their time
/// limit: set by `main` of pevis-torch, never in a test's own process (a
/// confinement cannot be lifted).
void enable_confinement();
bool confinement_enabled();

/// Ends the process with exit 3 and one line when the job, publishing
/// included, has run for `seconds` (0: never). The temporaries of files it
/// was writing are removed by the helper outside the box (box.cpp).
void arm_time_limit(double seconds);

struct EncodingOptions {
  SafetyOptions safety;
  EncodingRequest request;
  OutputOptions output;
};

struct BiasOptions {
  SafetyOptions safety;
  BiasRequest request;  ///< its models: the MODEL arguments, then --compare
  std::string compare;
  OutputOptions output;
};

struct AttentionOptions {
  SafetyOptions safety;
  AttentionRequest request;
  InputOptions input;
  std::string head;  ///< --head as given, until the door parses it
  OutputOptions output;
};

struct SummaryOptions {
  SafetyOptions safety;
  SummaryRequest request;
  InputOptions input;
  OutputOptions output;
};

struct BuiltinsOptions {
  std::string write_dir;
  bool verbose = false;
  bool json = false;
};

struct ExportOptions {
  SafetyOptions safety;
  std::string model;
  std::string file;
};

}  // namespace pevis::cli
