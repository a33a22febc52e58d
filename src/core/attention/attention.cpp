#include "pevis/attention/attention.h"

#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "pevis/capture/forward.h"
#include "pevis/base/error.h"
#include "pevis/base/module_path.h"
#include "pevis/base/text.h"
#include "pevis/operators/attention_ops.h"

namespace pevis {
namespace {

// The first attribute among `names` that `usable` accepts, on the module at
// `path` or on its nearest ancestor that has one; None when none has.
template <typename Usable>
c10::IValue nearest_attribute(const torch::jit::Module& root, const std::string& path,
                              std::initializer_list<const char*> names, Usable usable) {
  std::map<std::string, torch::jit::Module> by_path;
  for (const auto& item : root.named_modules()) by_path.emplace(item.name, item.value);
  for (std::string p = path;; p = parent_of(p)) {
    const auto found = by_path.find(p);
    if (found != by_path.end()) {
      for (const char* name : names) {
        if (!found->second.hasattr(name)) continue;
        c10::IValue value = found->second.attr(name);
        if (usable(value)) return value;
      }
    }
    if (p.empty()) return {};
  }
}

// num_heads of the module at `path`, or of its nearest ancestor that has it; 0 when none has.
std::int64_t heads_attribute(const torch::jit::Module& root, const std::string& path) {
  const c10::IValue heads = nearest_attribute(root, path, {"num_heads", "n_heads", "nhead", "heads"},
                                              [](const c10::IValue& v) { return v.isInt() && v.toInt() > 0; });
  return heads.isInt() ? heads.toInt() : 0;
}

// The int or list-of-ints attribute `name` of the module at `path` or its
// nearest ancestor that has it; empty when none has.
std::vector<std::int64_t> ints_attribute(const torch::jit::Module& root, const std::string& path, const char* name) {
  const c10::IValue value =
      nearest_attribute(root, path, {name}, [](const c10::IValue& v) { return v.isIntList() || v.isInt(); });
  if (value.isIntList()) return value.toIntVector();
  if (value.isInt()) return {value.toInt()};
  return {};
}

// A fused encoder layer forms its attention inside itself: name the site
// after its attention module, as the explicit path does.
std::string attention_child(const torch::jit::Module& root, const std::string& path, std::string_view child) {
  for (const auto& item : root.named_modules()) {
    if (item.name == (path.empty() ? "" : path + ".") + std::string(child)) return item.name;
  }
  return path;
}

// A window attention by its class (Swin's ShiftedWindowAttention, kept in
// traces) or by its path (MaxViT's "window_attention"), on the path or above it.
bool window_attention(const Model& model, const std::string& path) {
  for (std::string p = path;; p = parent_of(p)) {
    const std::string kind = lower_case(module_class(model, p)), last = lower_case(last_part(p));
    if (kind.find("windowattention") != std::string::npos || last.find("window_attention") != std::string::npos ||
        last.find("window_attn") != std::string::npos) {
      return true;
    }
    if (p.empty()) return false;
  }
}

bool rows_sum_to_one(const at::Tensor& w) {
  // Summed in float32; a 16-bit softmax's values are rounded each to 8 (bfloat16) or 11 (float16) bits, so
  // their rows sum to 1 within a few of those steps only.
  const at::Tensor sums = w.to(at::kFloat).sum(/*dim=*/-1);
  const at::Tensor finite = sums.isfinite();
  if (!finite.any().item<bool>()) return false;
  const float tolerance = w.element_size() < 4 ? 2e-2f : 1e-3f;
  return (sums.masked_select(finite) - 1).abs().max().item<float>() < tolerance;
}

}  // namespace

const std::vector<std::string>& attention_operators() { return attention_op_names(); }

SiteFilter site_filter(const std::regex& pattern, const std::string& source) {
  if (source.find('#') != std::string::npos) return {};
  return [pattern](const std::string& path) {
    const std::string name = path.empty() ? "model" : path;
    if (std::regex_search(name, pattern)) return true;
    // A site named after a child of the module that ran it is wanted by that name too.
    for (const auto& op : attention_ops()) {
      if (!op.site_child.empty() && std::regex_search(name + "." + std::string(op.site_child), pattern)) return true;
    }
    return false;
  };
}

std::vector<AttentionSite> capture_attention(const Model& model, const std::vector<c10::IValue>& inputs,
                                             c10::IValue* output, const SiteFilter& wanted, std::size_t* skipped) {
  CaptureResult result = capture_forward(model, inputs, attention_operators(), /*explicit_paths=*/true, wanted);
  if (output) *output = result.output;
  if (skipped) *skipped = result.skipped;
  std::vector<AttentionSite> sites;
  std::map<std::string, int> seen;
  for (const auto& captured : result.captured) {
    for (std::size_t call = 0; call < captured.values.size(); ++call) {
      const at::Tensor& raw = captured.values[call];
      // The fused operators' weights are attention by construction (a row
      // whose keys are all masked sums to 0); a softmax must show it is one.
      const AttentionOp* op = attention_op(captured.op);
      const bool formed = op && op->formed;
      if (raw.dim() < 3 || !raw.is_floating_point() || (!formed && !rows_sum_to_one(raw))) continue;
      AttentionSite site;
      site.path = captured.path;
      if (op && !op->site_child.empty() && model.module) site.path = attention_child(*model.module, site.path, op->site_child);
      const std::string base = site.path.empty() ? "model" : site.path;
      const int n = ++seen[base];
      site.name = n == 1 ? base : base + "#" + std::to_string(n);
      at::Tensor w = raw.to(at::kFloat);
      const std::int64_t t = w.size(-2), s = w.size(-1);
      if (w.dim() == 3) {
        // The graph's own sizes first: a trace keeps no num_heads attribute.
        std::int64_t heads = captured.heads;
        if ((heads <= 0 || w.size(0) % heads != 0) && model.module) heads = heads_attribute(*model.module, captured.path);
        if (heads <= 0 || w.size(0) % heads != 0) heads = w.size(0);
        w = w.reshape({w.size(0) / heads, heads, t, s});
      } else if (w.dim() > 4) {
        w = w.reshape({-1, w.size(-3), t, s});
      }
      site.heads = w.size(1);
      site.weights = w.contiguous();
      sites.push_back(std::move(site));
    }
  }
  if (sites.empty() && result.forked > 0 && result.skipped == 0) {
    throw bad_input(model.path,
                    "no attention formed outside the " + std::to_string(result.forked) +
                        " task(s) the model starts with torch.jit.fork, and pevis does not look into forked work",
                    "script the attention without torch.jit.fork to see it");
  }
  return sites;
}

void split_batches(std::vector<AttentionSite>& sites, const Model& model, std::int64_t input_batch, bool image_input) {
  for (auto& site : sites) {
    const std::int64_t leading = site.weights.size(0);
    site.batch = leading, site.windows = 1, site.grid_rows = site.grid_cols = 0, site.shift = -1, site.neighbours = false;
    if (input_batch < 1 || leading % input_batch != 0) continue;
    const std::vector<std::int64_t> window =
        model.module ? ints_attribute(*model.module, site.path, "window_size") : std::vector<std::int64_t>{};
    const bool windowed = !window.empty() || (image_input && leading > input_batch);
    if (!windowed) {
      site.batch = leading;
      continue;
    }
    site.batch = input_batch;
    site.windows = leading / input_batch;
    site.neighbours = !window.empty() || window_attention(model, site.path);
    const auto side = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(site.windows))));
    if (site.neighbours && side * side == site.windows) site.grid_rows = site.grid_cols = side;
    const std::vector<std::int64_t> shift =
        model.module ? ints_attribute(*model.module, site.path, "shift_size") : std::vector<std::int64_t>{};
    // Swin does not shift a window that covers its whole feature map.
    if (!shift.empty()) site.shift = site.windows == 1 ? 0 : *std::max_element(shift.begin(), shift.end());
  }
}

at::Tensor fuse_heads(const at::Tensor& heads, Fusion fusion) {
  switch (fusion) {
    case Fusion::kMax: return std::get<0>(heads.max(/*dim=*/0));
    case Fusion::kMin: return std::get<0>(heads.min(/*dim=*/0));
    case Fusion::kMean: break;
  }
  return heads.mean(/*dim=*/0);
}

at::Tensor attention_rollout(const std::vector<at::Tensor>& layers) {
  if (layers.empty()) throw bad_input("--rollout", "there is no attention to roll out");
  const std::int64_t n = layers[0].size(0);
  at::Tensor rollout;
  for (const auto& layer : layers) {
    if (layer.dim() != 2 || layer.size(0) != n || layer.size(1) != n) {
      throw bad_input("--rollout", "rollout needs self-attention maps of one size in every layer",
                      "select layers of the same sequence with --layer");
    }
    at::Tensor a = layer.to(at::kDouble) + torch::eye(n, at::kDouble);
    a = a / a.sum(/*dim=*/-1, /*keepdim=*/true);
    rollout = rollout.defined() ? at::matmul(a, rollout) : a;
  }
  return rollout.to(at::kFloat);
}

}  // namespace pevis
