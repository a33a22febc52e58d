#include "pevis/summary/summary.h"

#include <torch/script.h>

#include <map>
#include <set>

#include "pevis/capture/forward.h"
#include "pevis/base/module_path.h"
#include "pevis/operators/attention_ops.h"

namespace pevis {
namespace {

std::int64_t numel(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

int depth_of(const std::string& path) {
  if (path.empty()) return 0;
  return 1 + static_cast<int>(std::count(path.begin(), path.end(), '.'));
}

std::int64_t einsum_mult_adds(const std::string& equation, const std::vector<std::vector<std::int64_t>>& inputs) {
  const std::string lhs = equation.substr(0, equation.find("->"));
  if (lhs.find("...") != std::string::npos) return 0;  // broadcast dimensions: not counted
  std::map<char, std::int64_t> sizes;
  std::size_t operand = 0, axis = 0;
  for (char c : lhs) {
    if (c == ',') {
      ++operand;
      axis = 0;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      if (operand < inputs.size() && axis < inputs[operand].size()) sizes[c] = inputs[operand][axis];
      ++axis;
    }
  }
  std::int64_t product = 1;
  for (const auto& [letter, size] : sizes) product *= size;
  return product;
}

}  // namespace

const std::vector<std::string>& counted_ops() {
  static const std::vector<std::string> ops = [] {
    std::vector<std::string> list = {"aten::linear", "aten::matmul", "aten::mm",     "aten::bmm",
                                     "aten::addmm",  "aten::baddbmm", "aten::einsum", "aten::conv1d",
                                     "aten::conv2d", "aten::conv3d",  "aten::_convolution", "aten::convolution"};
    for (const auto& op : attention_ops()) {
      if (op.mult_adds) list.emplace_back(op.name);
    }
    return list;
  }();
  return ops;
}

std::int64_t mult_adds_of(const std::string& op, const std::string& equation,
                          const std::vector<std::vector<std::int64_t>>& inputs, const std::vector<std::int64_t>& output) {
  const std::int64_t out = numel(output);
  const auto last = [&](std::size_t i) -> std::int64_t {
    return i < inputs.size() && !inputs[i].empty() ? inputs[i].back() : 0;
  };
  if (op == "aten::linear") {
    if (inputs.size() < 2 || inputs[1].empty()) return 0;
    return out * inputs[1].back();  // weight [out_features, in_features]
  }
  if (op == "aten::matmul" || op == "aten::mm" || op == "aten::bmm") return out * last(0);
  if (op == "aten::addmm" || op == "aten::baddbmm") return out * last(1);
  if (op == "aten::einsum") return einsum_mult_adds(equation, inputs);
  if (const AttentionOp* attention = attention_op(op); attention && attention->mult_adds) {
    return attention->mult_adds(inputs, output);
  }
  if (op.find("conv") != std::string::npos) {
    if (inputs.size() < 2 || inputs[1].size() < 2) return 0;
    std::int64_t per_output = 1;  // in_channels / groups x kernel size
    for (std::size_t i = 1; i < inputs[1].size(); ++i) per_output *= inputs[1][i];
    return out * per_output;
  }
  return 0;
}

namespace {

// Builds a summary step by step: the module tree and its parameters, the
// shapes and mult-adds of a forward pass, the subtree sums.
class SummaryBuilder {
 public:
  Summary summary;

  // The modules of a TorchScript file, with their own parameters, and its buffers.
  void add_module_tree(const torch::jit::Module& module) {
    for (const auto& item : module.named_modules()) {
      const auto& name = item.value.type()->name();
      SummaryRow& row = row_for(item.name, name ? name->name() : "");
      for (const auto& p : item.value.named_parameters(/*recurse=*/false)) {
        const std::string name = item.name.empty() ? p.name : item.name + "." + p.name;
        count_as(row, name, p.value.unsafeGetTensorImpl(), "", p.value.numel(), p.value.scalar_type(), p.value.requires_grad());
      }
    }
    for (const auto& b : module.named_buffers(/*recurse=*/true)) {
      summary.buffers.push_back({b.name, b.value.sizes().vec(), std::string(c10::toString(b.value.scalar_type()))});
      summary.totals.buffers += b.value.numel();
      summary.totals.buffer_bytes += static_cast<std::int64_t>(b.value.numel() * b.value.element_size());
    }
  }

  // No module tree in the file: one built from the dotted names. A
  // state_dict does not tell parameters from buffers: floating-point tensors
  // count as parameters, except those whose names say they are buffers
  // (buffer_by_role: masked_bias, inv_freq, running_mean, ...); bool and
  // integer ones (masks, position ids, counters) count as buffers.
  void add_named_tensors(const std::vector<NamedTensor>& tensors) {
    row_for("", "");
    for (const auto& t : tensors) {
      std::string path = parent_of(t.name);
      std::vector<std::string> chain;
      for (std::string p = path; !p.empty(); p = parent_of(p)) chain.push_back(p);
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) row_for(*it, "");
      const bool numbers = at::isFloatingType(t.dtype()) || at::isComplexType(t.dtype());
      // Formats that say so (torch.export programs), or no parameter.
      if (t.kind == "buffer" || !numbers || (t.kind != "parameter" && buffer_by_role(t.name))) {
        row_for(path, "");
        summary.buffers.push_back({t.name, t.shape(), std::string(c10::toString(t.dtype()))});
        summary.totals.buffers += t.numel();
        summary.totals.buffer_bytes += static_cast<std::int64_t>(t.nbytes());
        continue;
      }
      count_as(row_for(path, ""), t.name, t.identity(), t.view_key, t.numel(), t.dtype(), /*trainable=*/true);
    }
    order_tree();
  }

  // Shapes at module boundaries and the mult-adds of one forward pass.
  void add_trace(const ForwardTrace& trace) {
    summary.totals.forward = true;
    for (auto& row : summary.rows) {
      const auto out = trace.module_outputs.find(row.path);
      if (out != trace.module_outputs.end()) {
        row.outputs = out->second;
        row.called = true;
        if (!row.path.empty())
          for (const auto& shape : row.outputs) summary.totals.activation_bytes += numel(shape) * 4;
      }
      const auto in = trace.module_inputs.find(row.path);
      if (in != trace.module_inputs.end()) {
        row.inputs = in->second;
        row.called = true;
      }
    }
    for (const auto& op : trace.ops) {
      const std::int64_t m = mult_adds_of(op.op, op.equation, op.inputs, op.output);
      summary.totals.mult_adds += m;
      auto found = index_.find(op.path);
      if (found != index_.end()) {
        summary.rows[found->second].own_mult_adds += m;
        summary.rows[found->second].called = true;
      }
    }
  }

  // Subtree sums: every row adds itself to its ancestors.
  void add_subtree_sums() {
    std::map<std::string, std::set<std::string>> subtree_dtypes;
    for (auto& row : summary.rows) {
      row.subtree_params += row.own_params;
      row.subtree_bytes += row.own_bytes;
      row.subtree_mult_adds += row.own_mult_adds;
      const auto& mine = own_dtypes_[row.path];
      subtree_dtypes[row.path].insert(mine.begin(), mine.end());
      for (std::string p = row.path; !p.empty();) {
        p = parent_of(p);
        auto& ancestor = summary.rows[index_[p]];
        ancestor.subtree_params += row.own_params;
        ancestor.subtree_bytes += row.own_bytes;
        ancestor.subtree_mult_adds += row.own_mult_adds;
        subtree_dtypes[p].insert(mine.begin(), mine.end());
      }
    }
    for (auto& row : summary.rows) {
      const auto& set = subtree_dtypes[row.path];
      row.dtypes.assign(set.begin(), set.end());
    }
  }

 private:
  SummaryRow& row_for(const std::string& path, const std::string& type) {
    auto found = index_.find(path);
    if (found != index_.end()) return summary.rows[found->second];
    index_[path] = summary.rows.size();
    SummaryRow row;
    row.path = path;
    row.type = type;
    row.depth = depth_of(path);
    summary.rows.push_back(std::move(row));
    return summary.rows.back();
  }

  // Counts a tensor once, however many names it has: by identity in memory,
  // and by the storage region it views where the file says (`view_key`).
  void count_as(SummaryRow& row, const std::string& name, const void* identity, const std::string& view_key,
                std::int64_t n, at::ScalarType dtype, bool trainable) {
    const auto first = counted_.emplace(identity, name);
    if (!first.second) {
      if (first.first->second != name) summary.shared.emplace_back(name, first.first->second);
      return;
    }
    if (!view_key.empty()) {
      const auto viewed = counted_views_.emplace(view_key, name);
      if (!viewed.second) {
        if (viewed.first->second != name) summary.shared.emplace_back(name, viewed.first->second);
        return;
      }
    }
    const auto bytes = static_cast<std::int64_t>(static_cast<std::uint64_t>(n) * c10::elementSize(dtype));
    row.own_params += n;
    row.own_bytes += bytes;
    own_dtypes_[row.path].insert(c10::toString(dtype));
    if (trainable) row.own_trainable += n;
    summary.totals.params += n;
    summary.totals.param_bytes += bytes;
    (trainable ? summary.totals.trainable : summary.totals.non_trainable) += n;
  }


  // The tree from dotted names: children after their parent, in the order
  // first seen (a file may list a child's tensors before its parent's).
  void order_tree() {
    std::map<std::string, std::vector<std::size_t>> children;
    for (std::size_t i = 1; i < summary.rows.size(); ++i) children[parent_of(summary.rows[i].path)].push_back(i);
    std::vector<SummaryRow> ordered;
    std::vector<std::size_t> stack = {0};
    while (!stack.empty()) {
      const std::size_t i = stack.back();
      stack.pop_back();
      ordered.push_back(std::move(summary.rows[i]));
      const auto& kids = children[ordered.back().path];
      for (auto it = kids.rbegin(); it != kids.rend(); ++it) stack.push_back(*it);
    }
    summary.rows = std::move(ordered);
    index_.clear();
    for (std::size_t i = 0; i < summary.rows.size(); ++i) index_[summary.rows[i].path] = i;
  }

  std::map<std::string, std::size_t> index_;  // path -> row
  std::map<const void*, std::string> counted_;        // tensors already counted, by the name counted under
  std::map<std::string, std::string> counted_views_;  // storage regions already counted
  std::map<std::string, std::set<std::string>> own_dtypes_;
};

}  // namespace

Summary summarize(const Model& model, const std::vector<c10::IValue>* inputs) {
  SummaryBuilder builder;
  if (model.module) {
    builder.add_module_tree(*model.module);
  } else {
    builder.add_named_tensors(model.tensors);
  }
  if (inputs && model.runnable()) builder.add_trace(trace_forward(model, *inputs, counted_ops()));
  builder.add_subtree_sums();
  return std::move(builder.summary);
}

}  // namespace pevis
