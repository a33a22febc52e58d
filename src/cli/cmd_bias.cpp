#include "commands.h"
#include "options.h"
#include "runners.h"
#include "pevis/base/error.h"

namespace pevis::cli {

void setup_bias(CLI::App& app) {
  auto options = std::make_shared<BiasOptions>();
  CLI::App* command = app.add_subcommand("bias", "draw every bias vector of a model, or how training moved them");
  command->add_option("MODEL", options->request.models,
                      "model files: TorchScript, torch.export (.pt2), torch.save checkpoint, or safetensors; two or more are compared in order")
      ->required();
  command->add_option("--compare", options->compare, "a later checkpoint to compare the model with");
  command->add_option("--match", options->request.match, "choose the vectors by regex instead of names ending in 'bias'");
  command->add_option("--layer", options->request.layer, "keep only vectors whose name matches this regex");
  command->add_option("--per-page", options->request.per_page, "panels per figure page")->capture_default_str();
  command->add_flag("--fail-on-nonfinite", options->request.fail_on_nonfinite, "exit 5 when any value is NaN or Inf");
  command->add_flag("-v,--verbose", options->request.verbose,
                    "list each file's format, shards, config.json, tensors (name, dtype, shape) and other entries (e.g. epoch)");
  add_safety_options(*command, options->safety, /*with_verbose=*/false);
  add_output_options(*command, options->output);
  command->footer(
      "One file: bias.png (a scatter panel per vector; more pages as bias-2.png, ...), bias-hist.png (the\n"
      "distribution of each vector), bias.csv (layer,index,value) and bias-stats.csv; a stats table on stdout.\n"
      "Two files: bias-compare.png (before/after and delta per vector), bias-delta.csv, bias-changes.csv.\n"
      "Three or more: bias-drift.png and bias-drift.csv (each vector over the checkpoints), then first vs last.\n\n"
      "Examples:\n"
      "  pevis bias model.pt\n"
      "  pevis bias before.pt after.pt                    # what training changed\n"
      "  pevis bias ckpt-1.pt ckpt-2.pt ckpt-3.pt        # drift over checkpoints\n"
      "  pevis bias model.safetensors --match 'norm.*weight$'\n"
      "  pevis bias model.pt --fail-on-nonfinite --format none   # a CI gate");
  command->callback([options] {
    // Usage errors are found here, before a job is handed to pevis-torch.
    BiasRequest& request = options->request;
    if (request.per_page < 1 || request.per_page > 100) {
      throw Error(ExitCode::kUsage, "--per-page " + std::to_string(request.per_page), "must be from 1 to 100");
    }
    pattern_option("--match", request.match);
    pattern_option("--layer", request.layer);
    parse_output_options(options->output);
    if (!options->compare.empty()) request.models.push_back(options->compare);
    request.wanted = wanted_of(options->output);
    run_bias(*options);
  });
}

}  // namespace pevis::cli
