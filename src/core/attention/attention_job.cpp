#include "pevis/attention/attention_job.h"

#include "pevis/architectures/architectures.h"

#include <algorithm>
#include <chrono>
#include <regex>

#include "pevis/attention/attention.h"
#include "pevis/attention/attention_page.h"
#include "pevis/attention/attention_views.h"
#include "pevis/attention/head_stats.h"
#include "pevis/base/error.h"
#include "pevis/base/parallel.h"
#include "pevis/base/pattern.h"
#include "pevis/capture/cpu_allocator.h"
#include "pevis/capture/forward.h"
#include "pevis/io/load.h"
#include "pevis/io/model_input.h"
#include "pevis/operators/attention_ops.h"

namespace pevis {
namespace {

// Seconds since the last call (or since construction).
class Stopwatch {
 public:
  double lap() {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return seconds;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// The plain forward pass, three times after the capture (so that the capture
// is timed as in any run; the model's code is compiled by then, which only
// makes the plain runs faster): the first run is what running the model once
// costs (TorchScript profiles and optimises its graph over the first two),
// the third what it costs warm.
void time_plain_runs(const Model& model, const ModelInput& input, Stopwatch& clock, nlohmann::json& seconds) {
  plain_forward(model, input.values);
  seconds["plain_forward"] = clock.lap();
  plain_forward(model, input.values);
  clock.lap();
  plain_forward(model, input.values);
  seconds["plain_forward_warm"] = clock.lap();
}

// The sites a run keeps: every site found, or those the layer pattern names;
// refuses an empty result, telling no match from no attention at all.
void keep_wanted(std::vector<AttentionSite>& sites, std::size_t skipped, const std::optional<std::regex>& layer,
                 const AttentionRequest& request) {
  if (sites.empty() && skipped > 0) {
    throw bad_input("--layer " + request.layer, "no attention site matches", "see the sites with --list");
  }
  if (sites.empty()) {
    throw bad_input(request.model,
                    "no attention was found: in the forward pass that ran, no softmax over the last dimension of a "
                    "tensor of 3 or more dimensions, and no " + formed_ops_text(),
                    "if the model has attention, it is computed some other way; see the sites pevis looks for in docs/attention.md");
  }
  if (!layer) return;
  sites.erase(std::remove_if(sites.begin(), sites.end(), [&](const AttentionSite& s) { return !std::regex_search(s.name, *layer); }),
              sites.end());
  if (sites.empty()) throw bad_input("--layer " + request.layer, "no attention site matches", "see the sites with --list");
}

nlohmann::json listed_sites(const std::vector<AttentionSite>& sites) {
  nlohmann::json listed = nlohmann::json::array();
  for (const auto& s : sites) {
    std::vector<std::int64_t> shape(s.weights.sizes().begin(), s.weights.sizes().end());
    // "files": the base of its figure's and data files' names, which a long name shortens.
    listed.push_back({{"name", s.name}, {"path", s.path}, {"heads", s.heads}, {"batch", s.batch},
                      {"windows", s.windows}, {"shape", shape}, {"files", "attention/" + site_file_name(s.name)}});
  }
  return listed;
}

// A padded batch of token lines: only the chosen input stays, cut to its
// real tokens (its padded queries and keys are not shown; the keys got 0).
void keep_padded_input(std::vector<AttentionSite>& sites, const ModelInput& input, std::int64_t index,
                       const Progress& progress) {
  const auto count = static_cast<std::int64_t>(input.lengths.size());
  if (index < 0 || index >= count) {
    throw bad_input("--batch-index " + std::to_string(index),
                    "the input has " + std::to_string(count) + " lines (inputs 0 to " + std::to_string(count - 1) + ")",
                    "pick one of them");
  }
  const std::int64_t padded = input.values[0].toTensor().size(1), real = input.lengths[static_cast<std::size_t>(index)];
  for (auto& site : sites) {
    const at::Tensor& w = site.weights;  // [batch * windows, heads, T, S]
    if (site.batch != count || site.windows != 1 || w.size(-1) != padded || w.size(-2) != padded) continue;
    site.weights = w.narrow(0, index, 1).narrow(2, 0, real).narrow(3, 0, real).contiguous();
    site.batch = 1;
  }
  progress.show("input " + std::to_string(index) + " of " + std::to_string(count) + " (one per line): its " +
                std::to_string(real) + " tokens; the batch is padded to " + std::to_string(padded) +
                " and no query sees a padded key\n");
}

// The token ids of input `index`, as the model read them (its real tokens
// in a padded batch); empty for other inputs.
std::vector<std::int64_t> token_ids(const ModelInput& input, std::int64_t index) {
  if (input.values.empty() || !input.values[0].isTensor()) return {};
  const at::Tensor ids = input.values[0].toTensor();
  if (ids.is_floating_point() || ids.dim() != 2) return {};
  at::Tensor row;
  if (!input.lengths.empty()) row = ids[index].narrow(0, 0, input.lengths[static_cast<std::size_t>(index)]);
  else if (ids.size(0) == 1) row = ids[0];
  else if (ids.size(1) == 1) row = ids.select(1, 0);
  else return {};
  row = row.to(at::kLong).contiguous();
  return std::vector<std::int64_t>(row.data_ptr<std::int64_t>(), row.data_ptr<std::int64_t>() + row.numel());
}

// Each site's heads' statistics, for the input drawn.
Product head_statistics_product(const std::vector<AttentionSite>& sites, const ModelInput& input, std::int64_t index,
                                std::int64_t element, bool figures, const Progress& progress) {
  StatisticsContext context;
  context.image = input.image;
  context.repeat = repeated_block(token_ids(input, index));
  if (context.repeat) {
    progress.show("the input repeats a block of " + std::to_string(context.repeat->period) + " tokens" +
                  (context.repeat->first ? " after its first token" : "") + ": heads.csv has each head's induction score\n");
  }
  std::vector<std::string> names;
  for (const auto& site : sites) names.push_back(site.name);
  std::vector<std::vector<HeadStatistics>> stats(sites.size());
  rethrow_first(for_each_index(sites.size(), [&](std::size_t i) {
    const AttentionSite& site = sites[i];
    stats[i] = head_statistics(site.weights.narrow(0, element * site.windows, site.windows), context);
  }));
  return head_product(names, stats, context.image, figures);
}

AttentionViewOptions view_options(const AttentionRequest& request, const ModelInput& input) {
  AttentionViewOptions view;
  view.mean_only = request.head.mean;
  view.head = request.head.index;
  view.batch_index = request.batch_index;
  view.data = request.wanted.data;
  view.figures = request.wanted.figures;
  view.size = request.wanted.size;
  view.tokens = input.labels;
  view.rollout = request.rollout;
  view.fusion = request.fusion;
  view.scale = request.scale;
  return view;
}

}  // namespace

JobResult attention_job(const AttentionRequest& request, const Progress& progress) {
  const std::optional<std::regex> layer = pattern_option("--layer", request.layer);
  Stopwatch clock;
  nlohmann::json seconds = nlohmann::json::object();
  const Model model = with_forward(load_model(request.model), /*logits=*/false,
                                   request.input.bfloat16 ? at::kBFloat16 : at::kFloat);
  const ModelInput input = make_input(request.input, &model);
  seconds["load"] = clock.lap();
  progress.say("running " + request.model + " and capturing attention");
  // Sites the layer pattern cannot match are not kept: they cost no memory.
  std::size_t skipped = 0;
  auto sites = capture_attention(model, input.values, nullptr, layer ? site_filter(*layer, request.layer) : SiteFilter{},
                                 &skipped);
  seconds["capture"] = clock.lap();
  if (request.timings) time_plain_runs(model, input, clock, seconds);
  stop_keeping_cpu_blocks();  // no more forward passes
  keep_wanted(sites, skipped, layer, request);
  // A causal LM given its ids as [S, 1] reads S sequences of one token: every
  // map is 1x1, which is no error, but rarely what was meant.
  const bool one_by_one = std::all_of(sites.begin(), sites.end(), [](const AttentionSite& s) {
    return s.weights.dim() >= 2 && s.weights.size(-1) == 1 && s.weights.size(-2) == 1;
  });
  if (!request.input.batch_first && input.labels.size() > 1 && !sites.empty() && one_by_one) {
    progress.show("note: every attention map is 1x1: the model read the " + std::to_string(input.labels.size()) +
                  " tokens as " + std::to_string(input.labels.size()) +
                  " sequences of one ([S, 1], --layout seq-first); --layout batch-first gives it one sequence [1, S]\n");
  }
  split_batches(sites, model, input.batch, input.image);
  const bool padded = !input.lengths.empty();
  if (padded) keep_padded_input(sites, input, request.batch_index, progress);
  JobResult result;
  result.summary = {{"command", "attention"}, {"model", request.model}, {"sites", listed_sites(sites)}};
  if (request.list) {
    result.text = sites_text(sites);
    return result;
  }
  AttentionViewOptions view = view_options(request, input);
  if (padded) {
    view.batch_index = 0;  // the one input kept
    view.tokens = input.line_labels[static_cast<std::size_t>(request.batch_index)];
  }
  Product page;
  if (request.wanted.page) {
    // Made first, while every site still holds its weights (the views let
    // them go); checked first, so that a wrong --head or --batch-index costs no page.
    check_attention_views(sites, view);
    progress.say("making the attention page");
    AttentionPageOptions options;
    options.model = request.model;
    options.tokens = view.tokens;
    options.batch_index = view.batch_index;
    options.scale = request.scale;
    options.palette = request.wanted.palette.value_or(plot::Palette::kViridis);
    options.budget_bytes = request.page_budget_mb * 1e6;
    page.documents.push_back(attention_page(sites, options));
  }
  check_attention_views(sites, view);
  Product heads = head_statistics_product(sites, input, padded ? request.batch_index : 0, view.batch_index,
                                          request.wanted.figures, progress);
  result.products = attention_views(sites, view);
  result.products.push_back(std::move(heads));
  if (!page.documents.empty()) result.products.push_back(std::move(page));
  result.summary["batch_index"] = request.batch_index;
  result.summary["tokens"] = view.tokens.size();
  if (padded) result.summary["inputs"] = input.lengths.size();
  if (!model.built.empty()) result.summary["built"] = {{"model_type", model.built},
                                                       {"dtype", request.input.bfloat16 ? "bfloat16" : "float32"}};
  if (request.timings) {
    seconds["prepare"] = clock.lap();
    result.summary["seconds"] = seconds;
  }
  return result;
}

}  // namespace pevis
