#pragma once

// What each subcommand was asked to do, as parsed from the command line. The
// front executable parses these without LibTorch; the runners of jobs that
// need a model (runners.h) take them as they are.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "output_options.h"
#include "pevis/attention/fusion.h"
#include "pevis/positional/rope.h"
#include "pevis/positional/sinusoid.h"

namespace pevis::cli {

/// How a subcommand that runs a model gets its one input tensor.
struct InputOptions {
  std::string input;        ///< token file
  std::string vocab;
  std::string unk;
  bool batch_first = false;  ///< --layout batch-first: ids as [1, S], else [S, 1]
  std::string input_shape;  ///< a random float tensor instead
  std::uint64_t seed = 0;
};

/// Adds --input, --vocab, --unk, --layout, --input-shape and --seed.
void add_input_options(CLI::App& command, InputOptions& options);

/// What a job that reads a model may let it do, and for how long.
struct SafetyOptions {
  std::vector<std::string> allow_ops;  ///< operators allowed beyond pevis's list, by name
  double time_limit = 900;             ///< seconds the job may take before publishing (0: no limit)
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

/// Ends the process with exit 3 and one line when the job has run for
/// `seconds` (0: never); `disarm_time_limit` (called when publishing starts)
/// stops the clock.
void arm_time_limit(double seconds);
void disarm_time_limit();

enum class EncodingKind { kSinusoidal, kRope, kAlibi };

struct EncodingOptions {
  SafetyOptions safety;
  std::string model;
  std::string tensor;
  bool list = false;
  std::optional<double> fail_tolerance;
  std::optional<double> expect_rope_base;
  EncodingKind kind = EncodingKind::kSinusoidal;
  bool kind_given = false;
  std::optional<std::int64_t> d_model;
  std::optional<std::int64_t> max_len;
  std::optional<double> base;
  std::vector<std::int64_t> dims;
  std::string positions;
  std::int64_t window = 256;
  Similarity similarity = Similarity::kDot;
  // rope
  std::string config;
  std::optional<std::int64_t> d_head;
  std::optional<RopeScaling> scaling;
  std::optional<double> factor, beta_fast, beta_slow, low_freq_factor, high_freq_factor, attention_factor;
  std::optional<std::int64_t> original_max_position_embeddings;
  // alibi
  std::optional<std::int64_t> heads;
  // t5
  std::optional<std::int64_t> num_buckets, max_distance;
  bool causal = false, bidirectional = false;
  OutputOptions output;
};

struct BiasOptions {
  SafetyOptions safety;
  std::vector<std::string> models;
  std::string compare;
  std::string match;
  std::string layer;
  bool fail_on_nonfinite = false;
  bool verbose = false;
  int per_page = 12;
  OutputOptions output;
};

struct AttentionOptions {
  SafetyOptions safety;
  std::string model;
  InputOptions input;
  bool list = false;
  std::string head;
  std::string layer;
  bool rollout = false;
  Fusion fusion = Fusion::kMean;
  bool timings = false;
  std::int64_t batch_index = 0;
  OutputOptions output;
};

struct SummaryOptions {
  SafetyOptions safety;
  std::string model;
  InputOptions input;
  int depth = 3;
  bool ascii = false;
  bool fold_repeats = false;
  bool verbose = false;
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
