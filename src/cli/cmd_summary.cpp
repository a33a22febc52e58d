#include <map>
#include <set>
#include <cmath>
#include <iostream>
#include <memory>

#include "commands.h"
#include "model_input.h"
#include "output_options.h"
#include "pevis/error.h"
#include "pevis/model.h"
#include "pevis/module_path.h"
#include "pevis/summary.h"
#include "pevis/summary_views.h"

namespace pevis::cli {
namespace {

struct SummaryOptions {
  std::string model;
  InputOptions input;
  int depth = 3;
  bool ascii = false;
  bool fold_repeats = false;
  bool verbose = false;
  OutputOptions output;
};

void run_summary(const SummaryOptions& options) {
  if (options.depth < 0 || options.depth > 64) {
    throw Error(ExitCode::kUsage, "--depth " + std::to_string(options.depth), "must be from 0 to 64");
  }
  const Model model = load_model(options.model);
  const bool with_input = !options.input.input.empty() || !options.input.input_shape.empty() || model.program;
  ModelInput input;
  if (with_input) input = make_input(options.input, &model);
  std::ostream& out = human(options.output);
  if (options.verbose) print_model_details(out, options.model, model, /*tensors=*/false);
  if (with_input && !model.runnable()) {
    out << "note: " << model.format << " files have no forward pass: parameters only\n";
  }
  const Summary s = summarize(model, with_input && model.runnable() ? &input.values : nullptr);
  SummaryViewOptions view;
  view.depth = options.depth;
  view.fold_repeats = options.fold_repeats;
  view.ascii = options.ascii;
  view.verbose = options.verbose;
  view.weights_only = !model.runnable();
  view.root_name = file_label(options.model);
  const auto rows = shown_rows(s, view);
  out << summary_text(s, rows, view, model.format);
  nlohmann::json summary = {{"command", "summary"}, {"model", options.model}, {"forward", s.totals.forward}};
  for (const auto& [name, value] : named_totals(s.totals)) summary[name] = value;
  publish(summary_products(s, rows, view, options.output.figures()), options.output, std::move(summary));
}

}  // namespace

void setup_summary(CLI::App& app) {
  auto options = std::make_shared<SummaryOptions>();
  CLI::App* command = app.add_subcommand("summary", "the model's structure: modules, shapes, parameters, mult-adds");
  command->add_option("MODEL", options->model,
                      "TorchScript, torch.export (.pt2), torch.save checkpoint, safetensors, a Hugging Face folder or "
                      "index of shards, or builtin:NAME")
      ->required();
  add_input_options(*command, options->input);
  command->add_option("--depth", options->depth, "fold modules deeper than this into their parent")->capture_default_str();
  command->add_flag("--ascii", options->ascii, "draw the tree with ASCII characters");
  command->add_flag("--fold-repeats", options->fold_repeats, "show repeated identical modules once, with (xN)");
  command->add_flag("-v,--verbose", options->verbose, "also show each module's input shapes, and the files and config.json read");
  add_output_options(*command, options->output);
  command->footer(
      "Writes summary.csv (every module: path, type, depth, shapes, its own and its subtree's parameters and\n"
      "mult-adds), summary-totals.csv, and summary.png (parameters, and mult-adds after a forward pass, per module).\n"
      "Shapes and mult-adds come from one forward pass on the input; without one (or for checkpoints and\n"
      "safetensors) the table has parameters only.\n\n"
      "Examples:\n"
      "  pevis summary model.pt --input seq.txt --vocab vocab.txt\n"
      "  pevis summary vit.pt --input-shape 1,3,224,224 --depth 2 --fold-repeats\n"
      "  pevis summary checkpoint.pt                        # parameters only\n"
      "  pevis summary Qwen2-7B/ -v                         # a Hugging Face folder: reads no weights\n"
      "  pevis summary model.pt --input-shape 1,3,224,224 --json --format none | jq .total_params");
  command->callback([options] { run_summary(*options); });
}

}  // namespace pevis::cli
