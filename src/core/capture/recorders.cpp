#include "recorders.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <string>

#include "pevis/base/memory.h"

namespace pevis::recorders {

std::mutex recording;
Records* active_records = nullptr;
ShapeRecords* active_shapes = nullptr;
std::map<std::int64_t, std::int64_t>* active_heads = nullptr;

void keep_formed(Records& records, const AttentionOp& op, const std::vector<c10::IValue>& args, std::int64_t site) {
  const auto bytes = op.weight_bytes(args);
  if (!bytes) return;
  records.keep(site, *bytes, [&] { return op.weights(args); });
}

std::uint64_t capture_limit() { return memory_budget().bytes / 4 * 3; }

Error capture_too_large(const Model& model, const Records& records) {
  return bad_input(model.path,
                   "the attention weights of this input would need at least " +
                       human_bytes(static_cast<long double>(records.held + records.dropped)) + " of memory, more than the " +
                       human_bytes(static_cast<long double>(records.limit)) + " a capture may hold (" +
                       memory_budget().limited_by + " sets the budget)",
                   "choose sites with --layer REGEX, or give fewer tokens (weights grow with their square) or a smaller batch");
}

namespace {

at::Tensor record(const at::Tensor& value, std::int64_t site) {
  const std::lock_guard<std::mutex> lock(recording);
  if (active_records) active_records->keep(site, value.nbytes(), [&] { return value; });
  return value;
}

at::Tensor record_shape(const at::Tensor& value, std::int64_t site) {
  const std::lock_guard<std::mutex> lock(recording);
  if (active_shapes) active_shapes->push_back({site, {value.sizes().vec()}});
  return value;
}

at::Tensor record_op(const std::vector<at::Tensor>& inputs, const at::Tensor& output, std::int64_t site) {
  const std::lock_guard<std::mutex> lock(recording);
  if (active_shapes) {
    std::vector<std::vector<std::int64_t>> shapes;
    for (const auto& t : inputs) shapes.push_back(t.sizes().vec());
    shapes.push_back(output.sizes().vec());
    active_shapes->push_back({site, std::move(shapes)});
  }
  return output;
}

// After the view that splits the values into heads: embed_dim / head_dim.
at::Tensor record_heads(const at::Tensor& split, const at::Tensor& whole, std::int64_t site) {
  const std::lock_guard<std::mutex> lock(recording);
  if (active_heads && split.dim() >= 1 && whole.dim() >= 1 && split.size(-1) > 0 &&
      whole.size(-1) % split.size(-1) == 0) {
    (*active_heads)[site] = whole.size(-1) / split.size(-1);
  }
  return split;
}

// The formed attention operator whose recorder is `recorder` ("pevis::record_sdpa").
const AttentionOp& op_recorded_by(const std::string& recorder) {
  static const std::map<std::string, const AttentionOp*> by_recorder = [] {
    std::map<std::string, const AttentionOp*> map;
    for (const auto& op : attention_ops()) {
      if (op.formed) map[recorder_name(op)] = &op;
    }
    return map;
  }();
  return *by_recorder.at(recorder);
}

// One kernel for every formed operator's recorder: the last entries of its
// stack are the operator's output, the arguments its entry names, and the
// site; it keeps the weights the entry forms and passes the output on. The
// stack is the interpreter's: entries below the recorder's own belong to
// the code that runs around it and stay as they are.
void record_formed(const c10::OperatorHandle& handle, torch::jit::Stack* stack) {
  const AttentionOp& op = op_recorded_by(handle.schema().name());
  const std::size_t count = handle.schema().arguments().size();
  TORCH_CHECK(count >= 2 && stack->size() >= count, handle.schema().name(), " was called with ", stack->size(),
              " values for its ", count, " arguments");
  const auto first = stack->end() - static_cast<std::ptrdiff_t>(count);
  const std::int64_t site = stack->back().toInt();
  const std::vector<c10::IValue> args(first + 1, stack->end() - 1);
  {
    const std::lock_guard<std::mutex> lock(recording);
    if (active_records) keep_formed(*active_records, op, args, site);
  }
  c10::IValue output = std::move(*first);
  torch::jit::drop(*stack, count);
  stack->push_back(std::move(output));
}

TORCH_LIBRARY(pevis, m) {
  const auto conservative = c10::AliasAnalysisKind::CONSERVATIVE;
  m.def(torch::schema("pevis::record(Tensor value, int site) -> Tensor", conservative), &record);
  m.def(torch::schema("pevis::record_shape(Tensor value, int site) -> Tensor", conservative), &record_shape);
  m.def(torch::schema("pevis::record_op(Tensor[] inputs, Tensor output, int site) -> Tensor", conservative), &record_op);
  m.def(torch::schema("pevis::record_heads(Tensor split, Tensor whole, int site) -> Tensor", conservative),
        &record_heads);
  for (const auto& op : attention_ops()) {
    if (!op.formed) continue;
    m.def(torch::schema(std::string(op.recorder).c_str(), conservative),
          torch::CppFunction::makeFromBoxedFunction<&record_formed>());
  }
}

}  // namespace

}  // namespace pevis::recorders
