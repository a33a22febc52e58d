#include <map>
#include <memory>

#include "commands.h"
#include "output_options.h"
#include "pevis/encoding/encoding_job.h"
#include "runners.h"
#include "pevis/base/error.h"
#include "pevis/positional/rope.h"

namespace pevis::cli {
namespace {

void run_encoding(const EncodingOptions& options) {
  const EncodingRequest& request = options.request;
  if (!request.model.empty()) {
    if (request.kind_given || request.d_model) {
      throw Error(ExitCode::kUsage, "encoding", "give either a MODEL or --kind/--d-model (a computed encoding), not both",
                  "with MODEL, pick a tensor with --tensor NAME (--list shows them)");
    }
    return run_encoding_model(options);
  }
  publish(encoding_job(request, human_progress(options.output)), options.output);
}

void add_computed_options(CLI::App& command_ref, EncodingOptions& options_ref) {
  CLI::App* command = &command_ref;
  EncodingOptions* options = &options_ref;
  // Names become enums here, at the door; IsMember gives the usual one-line error.
  const std::map<std::string, EncodingKind> kinds = {
      {"sinusoidal", EncodingKind::kSinusoidal}, {"rope", EncodingKind::kRope}, {"alibi", EncodingKind::kAlibi}};
  command
      ->add_option_function<std::string>(
          "--kind",
          [options, kinds](const std::string& name) {
            options->request.kind = kinds.at(name);
            options->request.kind_given = true;
          },
          "computed family: sinusoidal (default), rope or alibi")
      ->check(CLI::IsMember({"sinusoidal", "rope", "alibi"}));
  command->add_option("--d-model", options->request.d_model, "sinusoidal: embedding width (even)");
  command->add_option("--max-len", options->request.max_len,
                      "positions: sinusoidal table (default 5000), rope context (default config's or 4096), "
                      "ALiBi/T5 matrices (default 64)");
  command->add_option("--base", options->request.base, "sinusoidal or rope: wavelength base, theta (default 10000)");
}

void add_model_options(CLI::App& command_ref, EncodingOptions& options_ref) {
  CLI::App* command = &command_ref;
  EncodingOptions* options = &options_ref;
  command->add_option("--tensor", options->request.tensor, "with MODEL: the tensor to draw, or config.json (default: the first candidate)");
  command->add_flag("--list", options->request.list, "with MODEL: list the positional tensors and their kinds");
  command->add_option("--fail-if-not-sinusoidal", options->request.fail_tolerance,
                      "with MODEL: exit 5 when the table deviates from the sinusoid by more than TOL");
  command->add_option("--expect-rope-base", options->request.expect_rope_base,
                      "with MODEL: exit 5 when inv_freq does not match base B (with its scaling) within 1e-6 relative");
}

void add_table_options(CLI::App& command_ref, EncodingOptions& options_ref) {
  CLI::App* command = &command_ref;
  EncodingOptions* options = &options_ref;
  command->add_option("--dims", options->request.dims, "sinusoidal: dimensions to draw as lines, e.g. 0,1,64,65 (default: fast to slow)")
      ->delimiter(',');
  command->add_option("--positions", options->request.positions,
                      "range of positions START:END (end excluded; default all; rope: the first 4096)");
  command->add_option("--window", options->request.window,
                      "sinusoidal: the line and similarity figures show the first N positions of the range (0: all)")
      ->capture_default_str();
  command
      ->add_option_function<std::string>(
          "--similarity",
          [options](const std::string& name) { options->request.similarity = name == "cosine" ? Similarity::kCosine : Similarity::kDot; },
          "sinusoidal: how to compare positions: dot or cosine")
      ->check(CLI::IsMember({"dot", "cosine"}))
      ->default_str("dot");
}

void add_rope_options(CLI::App& command_ref, EncodingOptions& options_ref) {
  CLI::App* command = &command_ref;
  EncodingOptions* options = &options_ref;
  const std::string rope = "Rotary (--kind rope)";
  command->add_option("--config", options->request.config, "a model's config.json: rope_theta, rope_scaling, head_dim, context")
      ->check(CLI::ExistingFile)
      ->group(rope);
  command->add_option("--d-head", options->request.d_head, "rotated width of one head (even)")->group(rope);
  const std::map<std::string, RopeScaling> scalings = {{"none", RopeScaling::kNone},
                                                       {"linear", RopeScaling::kLinear},
                                                       {"ntk", RopeScaling::kNtk},
                                                       {"yarn", RopeScaling::kYarn},
                                                       {"llama3", RopeScaling::kLlama3}};
  command
      ->add_option_function<std::string>(
          "--scaling", [options, scalings](const std::string& name) { options->request.scaling = scalings.at(name); },
          "context extension: none, linear, ntk, yarn or llama3")
      ->check(CLI::IsMember({"none", "linear", "ntk", "yarn", "llama3"}))
      ->group(rope);
  command->add_option("--factor", options->request.factor, "the scaling's factor")->group(rope);
  command->add_option("--original-max-position-embeddings", options->request.original_max_position_embeddings,
                      "the context before scaling (default max-len / factor)")
      ->group(rope);
  command->add_option("--beta-fast", options->request.beta_fast, "yarn: rotations below which pairs are interpolated (32)")->group(rope);
  command->add_option("--beta-slow", options->request.beta_slow, "yarn: rotations above which pairs are kept (1)")->group(rope);
  command->add_option("--attention-factor", options->request.attention_factor, "yarn: scale of cos and sin (0.1 ln(factor) + 1)")
      ->group(rope);
  command->add_option("--low-freq-factor", options->request.low_freq_factor, "llama3: pairs with wavelengths above original / this are interpolated (1)")
      ->group(rope);
  command->add_option("--high-freq-factor", options->request.high_freq_factor, "llama3: pairs with wavelengths below original / this are kept (4)")->group(rope);

}

void add_relative_options(CLI::App& command_ref, EncodingOptions& options_ref) {
  CLI::App* command = &command_ref;
  EncodingOptions* options = &options_ref;
  const std::string relative = "ALiBi and T5";
  command->add_option("--heads", options->request.heads, "alibi: number of heads")->group(relative);
  command->add_option("--num-buckets", options->request.num_buckets, "T5 table of MODEL: buckets (default: the table's rows)")
      ->group(relative);
  command->add_option("--max-distance", options->request.max_distance, "T5 table of MODEL: distance of the last bucket (config.json's, else 128)")
      ->group(relative);
  auto* causal = command->add_flag("--causal", options->request.causal, "T5 table of MODEL: decoder buckets (default for names with 'decoder')")
                     ->group(relative);
  command->add_flag("--bidirectional", options->request.bidirectional, "T5 table of MODEL: encoder buckets")
      ->excludes(causal)
      ->group(relative);
}

}  // namespace

void setup_encoding(CLI::App& app) {
  auto options = std::make_shared<EncodingOptions>();
  CLI::App* command = app.add_subcommand("encoding", "draw positional encodings: sinusoidal, rotary, ALiBi, or a model's own");
  command->add_option("MODEL", options->request.model,
                      "a model whose positional tensors to draw instead (file, folder or builtin:NAME)");
  add_computed_options(*command, *options);
  add_model_options(*command, *options);
  add_table_options(*command, *options);

  add_rope_options(*command, *options);
  add_relative_options(*command, *options);
  add_safety_options(*command, options->safety, /*with_verbose=*/true);
  add_output_options(*command, options->output);
  command->footer(
      "Computed (no MODEL):\n"
      "  sinusoidal: encoding.png (positions by dimensions), encoding-dims.png, encoding-similarity.png\n"
      "  rope:       rope-angles.png (cos and sin of position x pair; data rope-cos, rope-sin), rope-wavelengths.png\n"
      "              (each pair's wavelength against the context), rope-decay.png (score against distance)\n"
      "  alibi:      alibi-slopes.png, alibi-bias.png (query x key bias of up to four heads)\n"
      "With MODEL, draws what it holds: a [positions, dims] table (and how far it is from the sinusoid), rotary\n"
      "inv_freq (its base and scaling, fitted), a T5 relative_attention_bias (t5-bias.png, t5-matrix.png), a Swin\n"
      "relative_position_bias_table (swin-bias.png), or the rotary settings of a folder's config.json.\n"
      "Every figure comes with its data file (.csv or .json).\n\n"
      "Examples:\n"
      "  pevis encoding --d-model 512\n"
      "  pevis encoding --d-model 128 --max-len 1000 --dims 0,1,32,33 --positions 0:200\n"
      "  pevis encoding --d-model 64 --format txt --data none     # draw on the terminal\n"
      "  pevis encoding --kind rope --d-head 128 --base 500000 --max-len 131072 \\\n"
      "        --scaling llama3 --factor 8 --original-max-position-embeddings 8192\n"
      "  pevis encoding --kind rope --config config.json          # a Hugging Face model's settings\n"
      "  pevis encoding --kind rope --d-head 64 --max-len 8192 --scaling yarn --factor 4\n"
      "  pevis encoding --kind alibi --heads 12\n"
      "  pevis encoding builtin:transformer-lm --positions 0:200    # the pe buffer a model holds\n"
      "  pevis encoding model.pt --list\n"
      "  pevis encoding model.pt --fail-if-not-sinusoidal 1e-6      # a CI check\n"
      "  pevis encoding llama.pt --expect-rope-base 500000          # a CI check of inv_freq\n"
      "  pevis encoding t5.safetensors --tensor decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight\n"
      "  pevis encoding --d-model 512 --json -o out/pe            # machine-readable summary");
  command->callback([options] {
    parse_output_options(options->output);  // a malformed --size is a usage error, found before any work
    options->request.wanted = wanted_of(options->output);
    run_encoding(*options);
  });
}

}  // namespace pevis::cli
