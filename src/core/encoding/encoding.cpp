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
#include "pevis/base/text.h"
#include "pevis/capture/forward.h"
#include "pevis/encoding/relative_bias.h"
#include "pevis/io/exported_program.h"

namespace pevis {

namespace {

std::vector<std::int64_t> non_unit(const std::vector<std::int64_t>& sizes) {
  std::vector<std::int64_t> dims;
  for (auto d : sizes) {
    if (d != 1) dims.push_back(d);
  }
  return dims;
}

bool positional_name(const std::string& original) {
  const std::string name = lower_case(original);
  const std::string last = last_part(name);
  return last == "pe" || name.find("position") != std::string::npos || name.find("pos_emb") != std::string::npos ||
         name.find("pos_enc") != std::string::npos || name.find("posemb") != std::string::npos ||
         last == "pos" || last.rfind("pos_", 0) == 0;
}

double max_abs(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

namespace {

// Names of relative-position tensors, which are not [positions, dims] tables.
bool swin_table_name(const std::string& name) { return ends_with(name, "relative_position_bias_table"); }
bool t5_table_name(const std::string& name) {
  return ends_with(name, "relative_attention_bias.weight") || ends_with(name, "relative_attention_bias");
}

}  // namespace

namespace {

std::string layer_of(const std::string& name) {
  return ends_with(name, ".weight") ? name.substr(0, name.size() - 7) : name;
}

// OPT's and BART's learned tables look positions up at row position + 2.
std::int64_t opt_offset(const Model& model, const std::string& name, std::int64_t rows) {
  const std::string layer = layer_of(name);
  const std::string kind = lower_case(module_class(model, layer));
  if (kind.find("learnedpositionalembedding") != std::string::npos) return 2;
  return ends_with(layer, "embed_positions") && rows > 2 && (rows - 2) % 8 == 0 && rows % 8 != 0 ? 2 : 0;
}

const NamedTensor* table_of(const Model& model, const std::string& layer) {
  const NamedTensor* t = model.find(layer + ".weight");
  return t && t->shape().size() == 2 && t->is_floating_point() ? t : nullptr;
}

// A program says each embedding's role: looked up with the user's input
// (tokens) or with indices it computes (positions).
std::vector<PositionalCandidate> program_position_tables(const Model& model) {
  std::vector<PositionalCandidate> found;
  const ExportedGraph& graph = exported_graph(model);
  for (const auto& node : graph.nodes) {
    if (node.op != "aten::embedding" || node.inputs.size() < 2) continue;
    if (std::find(graph.inputs.begin(), graph.inputs.end(), node.inputs[1]) != graph.inputs.end()) continue;
    const NamedTensor* t = table_of(model, node.path);
    if (!t || t->shape()[0] < 8 || positional_name(t->name)) continue;
    PositionalCandidate c{t->name, t->shape(), t->kind, PositionalFamily::kTable};
    c.offset = opt_offset(model, t->name, t->shape()[0]);
    c.note = "learned: an embedding the program looks up at computed positions";
    found.push_back(std::move(c));
  }
  return found;
}

// Learned absolute tables by role: an embedding beside a larger one of the
// same width (the tokens'), with at least 8 rows (not token types). Tables
// named for positions are found by name, and are never the token table.
std::vector<PositionalCandidate> learned_tables(const Model& model) {
  if (model.program) return program_position_tables(model);
  const auto tables = embedding_tables(model);
  std::vector<PositionalCandidate> found;
  for (const auto& [layer, rows] : tables) {
    const NamedTensor* t = table_of(model, layer);
    if (!t || rows < 8 || positional_name(t->name)) continue;
    std::string tokens;
    std::int64_t most = rows;
    for (const auto& [other, other_rows] : tables) {
      const NamedTensor* u = table_of(model, other);
      if (u && u->shape()[1] == t->shape()[1] && other_rows > most && !positional_name(u->name)) {
        most = other_rows, tokens = other;
      }
    }
    if (tokens.empty()) continue;
    PositionalCandidate c{t->name, t->shape(), t->kind, PositionalFamily::kTable};
    c.offset = opt_offset(model, t->name, rows);
    c.note = "learned: an embedding beside the token table " + tokens;
    found.push_back(std::move(c));
  }
  return found;
}

// wav2vec2's and HuBERT's positions: a grouped convolution over the features.
bool conv_positions(const NamedTensor& t) {
  const std::string name = lower_case(t.name);
  return t.shape().size() == 3 && t.is_floating_point() && ends_with(name, ".weight") &&
         name.find("pos") != std::string::npos && name.find("conv") != std::string::npos;
}

}  // namespace

std::string family_name(PositionalFamily family) {
  switch (family) {
    case PositionalFamily::kTable: return "table";
    case PositionalFamily::kRopeInvFreq: return "rope";
    case PositionalFamily::kT5Bias: return "t5";
    case PositionalFamily::kSwinBias: return "swin";
    case PositionalFamily::kConv: return "conv";
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
    PositionalCandidate c{t.name, t.shape(), t.kind, PositionalFamily::kTable};
    c.offset = opt_offset(model, t.name, dims[0]);
    if (c.offset) c.note = "rows 0-1 unused: positions start at row 2 (OPT's and BART's offset)";
    (t.kind == "buffer" ? buffers : others).push_back(std::move(c));
  }
  buffers.insert(buffers.end(), others.begin(), others.end());
  for (auto& c : learned_tables(model)) {
    bool known = false;
    for (const auto& b : buffers) known = known || b.name == c.name;
    if (!known) buffers.push_back(std::move(c));
  }
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
  // Swin V2's continuous position bias: a small network over log-spaced
  // coordinates, named by the network (its maps are computed).
  for (const auto& t : model.tensors) {
    if (!ends_with(t.name, ".0.weight") || t.shape().size() != 2 || t.shape()[1] != 2) continue;
    const std::string network = t.name.substr(0, t.name.size() - 9);
    const std::string mlp = continuous_bias_network(network);
    if (mlp.empty()) continue;
    PositionalCandidate c{network, t.shape(), t.kind, PositionalFamily::kSwinBias};
    c.note = "continuous position bias: 16 sigmoid(" + mlp + "(log-spaced coordinates)), computed";
    all.push_back(std::move(c));
  }
  for (const auto& t : model.tensors) {
    if (!conv_positions(t)) continue;
    PositionalCandidate c{t.name, t.shape(), t.kind, PositionalFamily::kConv};
    c.note = "a convolution over the features (kernel " + std::to_string(t.shape()[2]) + ", " +
             std::to_string(t.shape()[0] / std::max<std::int64_t>(1, t.shape()[1])) + " groups), not a table";
    all.push_back(std::move(c));
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
