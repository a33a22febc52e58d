#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "pevis/base/matrix.h"
#include "pevis/base/memory.h"
#include "pevis/io/model.h"
#include "pevis/positional/sinusoid.h"

namespace pevis {

/// `sinusoid_values(spec)` as a [max_len, d_model] float32 tensor.
/// Call `check_sinusoidal_spec` first; this one only asserts.
at::Tensor sinusoidal_table(const SinusoidalSpec& spec);

/// Copies a 2-D tensor into a labelled matrix (converted to float32).
LabeledMatrix to_matrix(const at::Tensor& values, std::string name, std::string row_title,
                        std::vector<std::string> row_labels, std::vector<std::string> col_labels);

/// What a tensor that holds a positional encoding is.
enum class PositionalFamily {
  kTable,        ///< a [positions, dims] table (pe, pos_embedding, ...)
  kRopeInvFreq,  ///< rotary frequencies (`inv_freq`)
  kT5Bias,       ///< T5's `relative_attention_bias` [buckets, heads]
  kSwinBias,     ///< Swin's `relative_position_bias_table` [(2W-1)^2, heads]
  kConv,         ///< a convolutional positional embedding (wav2vec2's `pos_conv_embed`): no table
};

/// "table", "rope", "t5", "swin": as `--list` shows them.
std::string family_name(PositionalFamily family);

/// A tensor of a model that holds positions.
struct PositionalCandidate {
  std::string name;
  std::vector<std::int64_t> shape;  ///< as stored
  std::string kind;                 ///< "buffer", "parameter" or "tensor"
  PositionalFamily family = PositionalFamily::kTable;
  /// Rows before position 0 (OPT's and BART's learned tables start at row 2).
  std::int64_t offset = 0;
  std::string note;  ///< how it was recognised, for --list: "learned, beside the token table wte"
};

/// Tensors whose name speaks of positions (`pe`, `pos_embedding`,
/// `position_embeddings.weight`, ...) and that are a 2-D table once their
/// size-1 dimensions are dropped (`[5000, 1, d]`, `[1, L, d]`, `[L, d]`).
/// Buffers first, then in model order. Then, by role and shape, learned
/// absolute tables under any name: an embedding table (a module whose class
/// or name says embedding) with at least 8 rows beside a larger one of the
/// same width (the token table), as GPT-2's `wpe`. A table of a
/// `LearnedPositionalEmbedding` class, or named `embed_positions` with two
/// rows more than a multiple of 8, has OPT's and BART's offset of 2.
std::vector<PositionalCandidate> find_positional_tables(const Model& model);

/// Every positional tensor: the tables above, then rotary `inv_freq`
/// vectors, T5 `relative_attention_bias` tables ([buckets, heads], floats)
/// and Swin `relative_position_bias_table`s ([(2W-1)^2, heads]), each in
/// model order, and convolutional positional embeddings (a 3-D weight of a
/// module whose path speaks of positions and convolution, as wav2vec2's
/// `pos_conv_embed.conv`).
std::vector<PositionalCandidate> find_positional_tensors(const Model& model);

/// The copies a caller will make of a table it draws: as data, as a figure,
/// and the similarity of `window` positions (0: all of them).
struct TableCopies {
  std::int64_t window = 0;
  bool data = false;
  bool figures = false;
};

/// The named tensor of `model` as a float32 [positions, dims] table (size-1
/// dimensions dropped), read only now. Throws `pevis::Error` (exit 3) when
/// there is no such tensor, it is not a 2-D table, or it and `copies` would
/// not fit the memory budget (checked before anything is read).
at::Tensor positional_table(const Model& model, const std::string& name, const TableCopies& copies = {});

/// How a table compares with the ideal sinusoid of its size.
struct SinusoidCheck {
  bool comparable = false;   ///< false for an odd width (no sinusoid to compare)
  double deviation = 0;      ///< largest |table - ideal| for PyTorch's interleaved layout
  double mean_deviation = 0;
  std::string closest;       ///< the closest layout: "interleaved", "halves", "swapped", or "transposed"
  double closest_deviation = 0;
};

/// Compares `table` ([L, D]) with `sinusoidal_table({D, L, base})` and with
/// the usual other layouts: sin and cos halves (tensor2tensor), cos before sin,
/// and the table stored transposed.
SinusoidCheck compare_with_sinusoid(const at::Tensor& table, double base);

}  // namespace pevis
