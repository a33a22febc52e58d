#include "commands.h"
#include "options.h"
#include "runners.h"
#include "pevis/base/error.h"

namespace pevis::cli {

void setup_attention(CLI::App& app) {
  auto options = std::make_shared<AttentionOptions>();
  CLI::App* command =
      app.add_subcommand("attention", "capture the attention weights of a TorchScript model or torch.export program in a forward pass, and draw them");
  command->add_option("MODEL", options->request.model, "a TorchScript model (torch.jit.script(model).save(path)), a torch.export program (.pt2), or a Hugging Face folder of a family pevis builds from config.json")->required();
  add_input_options(*command, options->input);
  command->add_flag("--list", options->request.list, "print the attention sites found (path, heads, shape) and draw nothing");
  command->add_option("--head", options->head, "draw one head (a number from 0) or 'mean' instead of all");
  command->add_option("--layer", options->request.layer, "keep the sites whose name matches this regex");
  command->add_option("--batch-index", options->request.batch_index,
                      "which input of a batch to draw and write (batch and windows: see --list)")
      ->capture_default_str();
  command->add_flag("--rollout", options->request.rollout, "also compute attention rollout through the layers");
  command->add_flag("--timings", options->request.timings,
                    "also run the model three times without capturing, and print on stderr how long each step took");
  command
      ->add_option_function<std::string>(
          "--fusion",
          [options](const std::string& name) {
            options->request.fusion = name == "max" ? Fusion::kMax : name == "min" ? Fusion::kMin : Fusion::kMean;
          },
          "how rollout fuses heads: mean, max or min")
      ->check(CLI::IsMember({"mean", "max", "min"}))
      ->default_str("mean");
  command
      ->add_option_function<std::string>(
          "--scale",
          [options](const std::string& name) {
            options->request.scale = name == "max"      ? ColourScale::kMax
                                     : name == "range"  ? ColourScale::kRange
                                     : name == "robust" ? ColourScale::kRobust
                                     : name == "log"    ? ColourScale::kLog
                                                        : ColourScale::kAuto;
          },
          "colours of the weights: auto (range for near-uniform weights, robust where a few dwarf the rest, log where most "
          "are far below the largest, else max), "
          "max (0 to the largest), range (smallest to largest), robust (0 to the 99th percentile) or log; the colour "
          "bar shows true weights and the figure says which was used")
      ->check(CLI::IsMember({"auto", "max", "range", "robust", "log"}))
      ->default_str("auto");
  command
      ->add_option("--page-budget", options->request.page_budget_mb,
                   "largest size of the html page in MB, 1 to 1000; larger captures are stored in 16 or 8 bits, then in blocks")
      ->check(CLI::Range(1.0, 1000.0))
      ->capture_default_str();
  add_safety_options(*command, options->safety, /*with_verbose=*/true);
  add_output_options(*command, options->output, /*page=*/true);
  command->footer(
      "Writes, in OUT/attention/: SITE.png (one heatmap per head and their mean; queries down, keys across),\n"
      "SITE.headK.csv and SITE.mean.csv (the weights), overview.png (every site by every head), heads.csv and\n"
      "heads.png (each head's entropy, distance, sink, self, prev and induction scores), and with\n"
      "--rollout rollout.png and rollout.csv. SITE is the module path, e.g. encoder.layers.0.self_attn.\n"
      "With --format html (or png,html), also OUT/attention.html: one page to explore every site, head and input\n"
      "in a browser, offline (model view, head view, matrix view with exact weights on hover).\n"
      "With a batch, the figures and data are of input --batch-index. Windowed attention (Swin) is drawn as a\n"
      "mosaic of the windows in their place; its data has a row per window and query (window:query).\n\n"
      "Examples:\n"
      "  pevis attention model.pt --input seq.txt --vocab vocab.txt\n"
      "  pevis attention model.pt --input ids.txt --list\n"
      "  pevis attention model.pt --input seq.txt --vocab vocab.txt --layer 'layers\\.0\\.' --head mean\n"
      "  pevis attention vit.pt --input-shape 1,3,224,224 --rollout\n"
      "  pevis attention swin_t.pt --input-shape 2,3,224,224 --batch-index 1 --layer 'features.1.0'\n"
      "  pevis attention vit.pt --input-shape 1,3,224,224 --scale max    # colours from 0 to the largest weight\n"
      "  pevis attention model.pt2                  # a torch.export program, on the example it was exported with\n"
      "  pevis attention llama_folder --input ids.txt --dtype bfloat16   # a Hugging Face folder, computed in bfloat16\n"
      "  pevis attention gpt2_folder --repeat-random 32 --seed 1   # a random block twice: induction heads show\n"
      "  pevis attention model.pt --input seq.txt --vocab vocab.txt --format png,html   # and attention.html");
  command->callback([options] {
    // Usage errors and impossible values are found here, before a job is
    // handed to pevis-torch.
    AttentionRequest& request = options->request;
    pattern_option("--layer", request.layer);
    const std::string& head = options->head;
    if (!head.empty() && head != "mean" && (head.find_first_not_of("0123456789") != std::string::npos || head.size() > 6)) {
      throw Error(ExitCode::kUsage, "--head " + head, "expected a head number or 'mean'");
    }
    request.head.mean = head == "mean";
    if (!head.empty() && !request.head.mean) request.head.index = std::stoll(head);
    if (request.batch_index < 0) {
      throw bad_input("--batch-index " + std::to_string(request.batch_index), "inputs count from 0");
    }
    parse_output_options(options->output);
    request.input = input_request(options->input);
    request.wanted = wanted_of(options->output);
    run_attention(*options);
  });
}

}  // namespace pevis::cli
