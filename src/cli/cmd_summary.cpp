#include "commands.h"
#include "options.h"
#include "runners.h"
#include "pevis/base/error.h"

namespace pevis::cli {

void setup_summary(CLI::App& app) {
  auto options = std::make_shared<SummaryOptions>();
  CLI::App* command = app.add_subcommand("summary", "the model's structure: modules, shapes, parameters, mult-adds");
  command->add_option("MODEL", options->request.model,
                      "TorchScript, torch.export (.pt2), torch.save checkpoint, safetensors, a Hugging Face folder or "
                      "index of shards, or builtin:NAME")
      ->required();
  add_input_options(*command, options->input);
  command->add_option("--depth", options->request.depth, "fold modules deeper than this into their parent")->capture_default_str();
  command->add_flag("--ascii", options->request.ascii, "draw the tree with ASCII characters");
  command->add_flag("--fold-repeats", options->request.fold_repeats, "show repeated identical modules once, with (xN)");
  command->add_flag("-v,--verbose", options->request.verbose, "also show each module's input shapes, and the files and config.json read");
  add_safety_options(*command, options->safety, /*with_verbose=*/false);
  add_output_options(*command, options->output, /*page=*/true);
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
  command->callback([options] {
    // Usage errors are found here, before a job is handed to pevis-torch.
    SummaryRequest& request = options->request;
    if (request.depth < 0 || request.depth > 64) {
      throw Error(ExitCode::kUsage, "--depth " + std::to_string(request.depth), "must be from 0 to 64");
    }
    parse_output_options(options->output);
    request.input = input_request(options->input);
    request.wanted = wanted_of(options->output);
    run_summary(*options);
  });
}

}  // namespace pevis::cli
