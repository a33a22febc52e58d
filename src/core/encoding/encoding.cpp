#include "pevis/encoding/encoding.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include <algorithm>
#include <cctype>
#include <cassert>
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>

#include "pevis/base/error.h"
#include "pevis/base/memory.h"
#include "pevis/base/module_path.h"

namespace pevis {

namespace {

std::vector<std::int64_t> non_unit(const std::vector<std::int64_t>& sizes) {
  std::vector<std::int64_t> dims;
  for (auto d : sizes) {
    if (d != 1) dims.push_back(d);
  }
  return dims;
}

bool positional_name(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string last = last_part(name);
  return last == "pe" || name.find("position") != std::string::npos || name.find("pos_emb") != std::string::npos ||
         name.find("pos_enc") != std::string::npos || name.find("posemb") != std::string::npos ||
         last == "pos" || last.rfind("pos_", 0) == 0;
}

double max_abs(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

namespace {

bool ends_with(const std::string& text, const std::string& end) {
  return text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0;
}

// Names of relative-position tensors, which are not [positions, dims] tables.
bool swin_table_name(const std::string& name) { return ends_with(name, "relative_position_bias_table"); }
bool t5_table_name(const std::string& name) {
  return ends_with(name, "relative_attention_bias.weight") || ends_with(name, "relative_attention_bias");
}

}  // namespace

std::string family_name(PositionalFamily family) {
  switch (family) {
    case PositionalFamily::kTable: return "table";
    case PositionalFamily::kRopeInvFreq: return "rope";
    case PositionalFamily::kT5Bias: return "t5";
    case PositionalFamily::kSwinBias: return "swin";
  }
  return "table";
}

std::vector<PositionalCandidate> find_positional_tables(const Model& model) {
  std::vector<PositionalCandidate> buffers, others;
  for (const auto& t : model.tensors) {
    const auto dims = non_unit(t.shape());
    if (dims.size() != 2 || dims[0] < 2 || dims[1] < 2 || !t.is_floating_point() || !positional_name(t.name) ||
        swin_table_name(t.name)) {
      continue;
    }
    (t.kind == "buffer" ? buffers : others).push_back({t.name, t.shape(), t.kind, PositionalFamily::kTable});
  }
  buffers.insert(buffers.end(), others.begin(), others.end());
  return buffers;
}

std::vector<PositionalCandidate> find_positional_tensors(const Model& model) {
  std::vector<PositionalCandidate> all = find_positional_tables(model);
  for (PositionalFamily family : {PositionalFamily::kRopeInvFreq, PositionalFamily::kT5Bias, PositionalFamily::kSwinBias}) {
    for (const auto& t : model.tensors) {
      if (!t.is_floating_point()) continue;
      const auto& shape = t.shape();
      const bool found =
          family == PositionalFamily::kRopeInvFreq ? ends_with(t.name, "inv_freq") && shape.size() == 1 && shape[0] >= 2
          : family == PositionalFamily::kT5Bias    ? t5_table_name(t.name) && shape.size() == 2 && shape[0] >= 2
                                                   : swin_table_name(t.name) && shape.size() == 2 && shape[0] >= 1;
      if (found) all.push_back({t.name, shape, t.kind, family});
    }
  }
  return all;
}

at::Tensor positional_table(const Model& model, const std::string& name, const TableCopies& copies) {
  for (const auto& t : model.tensors) {
    if (t.name != name) continue;
    const auto dims = non_unit(t.shape());
    if (dims.size() != 2 || !t.is_floating_point()) {
      throw bad_input(name, "this tensor is not a 2-D table of floats once its size-1 dimensions are dropped",
                      "pick a [positions, dims] table; --list shows the candidates");
    }
    // The file's bytes, the float32 table and its contiguous copy, then what the caller makes of it.
    const std::int64_t window = copies.window > 0 ? std::min(copies.window, dims[0]) : dims[0];
    check_memory(static_cast<long double>(t.nbytes()) + 8.0L * static_cast<long double>(t.numel()) +
                     encoding_copies_bytes(dims[0], dims[1], window, copies.data, copies.figures),
                 model.path, "reading and drawing " + name, "use --positions A:B, --window N, --data none or --format none");
    return as_float(t.tensor()).reshape(dims).contiguous();
  }
  throw bad_input(name, "the model has no tensor of that name", "--list shows the candidates");
}

SinusoidCheck compare_with_sinusoid(const at::Tensor& table, double base) {
  SinusoidCheck check;
  const std::int64_t positions = table.size(0), dims = table.size(1);
  if (dims % 2 != 0) return check;
  check.comparable = true;
  const at::Tensor ideal = sinusoidal_table({dims, positions, base});
  check.deviation = max_abs(table, ideal);
  check.mean_deviation = (table - ideal).abs().mean().item<double>();
  check.closest = "interleaved";
  check.closest_deviation = check.deviation;
  const auto consider = [&](const std::string& layout, const at::Tensor& candidate) {
    const double d = max_abs(table, candidate);
    if (d < check.closest_deviation) check.closest = layout, check.closest_deviation = d;
  };
  const at::Tensor sines = ideal.slice(1, 0, dims, 2), cosines = ideal.slice(1, 1, dims, 2);
  consider("halves", at::cat({sines, cosines}, 1));
  consider("swapped", at::stack({cosines, sines}, 2).reshape({positions, dims}));
  if (positions % 2 == 0) consider("transposed", sinusoidal_table({positions, dims, base}).t());
  return check;
}

}  // namespace pevis
