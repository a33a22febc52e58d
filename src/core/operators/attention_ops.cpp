#include "pevis/operators/attention_ops.h"

#include <ATen/ops/_native_multi_head_attention.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>
#include <torch/csrc/jit/frontend/function_schema_parser.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>

namespace pevis {
namespace {

using Args = std::vector<c10::IValue>;

std::int64_t numel(const Shape& shape) {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

// The bytes of attention weights [.., queries, keys] formed from `query`
// ([..., L, E]) and `key` ([..., S, E]) over `heads` heads.
std::uint64_t bytes_of(const at::Tensor& query, const at::Tensor& key, std::int64_t heads) {
  if (query.dim() < 1 || key.dim() < 2 || query.size(-1) == 0) return 0;
  return static_cast<std::uint64_t>(query.numel() / query.size(-1)) * static_cast<std::uint64_t>(heads) *
         static_cast<std::uint64_t>(key.size(-2)) * 4u;
}

// The per-head weights [batch, heads, target, source] that
// aten::_native_multi_head_attention forms, by LibTorch's own kernel with
// need_weights=true, average_attn_weights=false.
at::Tensor native_mha_weights(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                              std::int64_t embed_dim, std::int64_t num_heads, const at::Tensor& qkv_weight,
                              const at::Tensor& qkv_bias, const at::Tensor& proj_weight, const at::Tensor& proj_bias,
                              const c10::optional<at::Tensor>& mask, c10::optional<std::int64_t> mask_type) {
  return std::get<1>(at::_native_multi_head_attention(query, key, value, embed_dim, num_heads, qkv_weight, qkv_bias,
                                                      proj_weight, proj_bias, mask, /*need_weights=*/true,
                                                      /*average_attn_weights=*/false, mask_type));
}

// scaled_dot_product_attention: query, key, attn_mask, is_causal, scale, enable_gqa.
at::Tensor sdpa_from(const Args& a) {
  return sdpa_weights(a[0].toTensor(), a[1].toTensor(), a[2].toOptional<at::Tensor>(), a[3].toBool(),
                      a[4].toOptional<double>(), a[5].toBool());
}

std::optional<std::uint64_t> sdpa_bytes(const Args& a) { return bytes_of(a[0].toTensor(), a[1].toTensor(), 1); }

// Q K^T: (query's elements) x S, then A V: (output's elements) x S.
std::int64_t sdpa_mult_adds(const std::vector<Shape>& inputs, const Shape& output) {
  const std::int64_t s = inputs.size() > 1 && inputs[1].size() >= 2 ? inputs[1][inputs[1].size() - 2] : 0;
  return (inputs.empty() ? 0 : numel(inputs[0]) + numel(output)) * s;
}

// _native_multi_head_attention: query, key, value, embed_dim, num_head,
// qkv_weight, qkv_bias, proj_weight, proj_bias, mask, mask_type.
at::Tensor mha_from(const Args& a) {
  return native_mha_weights(a[0].toTensor(), a[1].toTensor(), a[2].toTensor(), a[3].toInt(), a[4].toInt(),
                            a[5].toTensor(), a[6].toTensor(), a[7].toTensor(), a[8].toTensor(),
                            a[9].toOptional<at::Tensor>(), a[10].toOptional<std::int64_t>());
}

std::optional<std::uint64_t> mha_bytes(const Args& a) {
  if (a[0].toTensor().is_nested()) return std::nullopt;
  return bytes_of(a[0].toTensor(), a[1].toTensor(), a[4].toInt());
}

// _transformer_encoder_layer_fwd runs the same attention kernel on its
// input, after the first layer norm where the norm comes first: src,
// embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias,
// norm_first, eps, norm_weight_1, norm_bias_1, mask, mask_type.
at::Tensor encoder_layer_from(const Args& a) {
  const at::Tensor& src = a[0].toTensor();
  const std::int64_t embed_dim = a[1].toInt();
  const at::Tensor x = a[7].toBool() ? at::layer_norm(src, {embed_dim}, a[9].toTensor(), a[10].toTensor(), a[8].toDouble())
                                     : src;
  return native_mha_weights(x, x, x, embed_dim, a[2].toInt(), a[3].toTensor(), a[4].toTensor(), a[5].toTensor(),
                            a[6].toTensor(), a[11].toOptional<at::Tensor>(), a[12].toOptional<std::int64_t>());
}

std::optional<std::uint64_t> encoder_layer_bytes(const Args& a) {
  const at::Tensor& src = a[0].toTensor();
  if (src.is_nested()) return std::nullopt;
  return bytes_of(src, src, a[2].toInt());
}

// Tensors: query [B, T, E] (key, value [B, S, E] for the attention alone).
// Projections in (q, k, v) and out, Q K^T and A V over every head: E x S
// each per query element; the encoder layer adds its feed-forward pair
// (ffn_weight_1 [F, E], the 10th tensor).
std::int64_t mha_count(const std::vector<Shape>& inputs, bool layer) {
  const auto dim = [&](std::size_t i, std::size_t from_end) -> std::int64_t {
    return i < inputs.size() && inputs[i].size() >= from_end ? inputs[i][inputs[i].size() - from_end] : 0;
  };
  if (inputs.empty()) return 0;
  const std::int64_t queries = numel(inputs[0]) / std::max<std::int64_t>(1, dim(0, 1));  // B x T
  const std::int64_t e = dim(0, 1);
  const std::int64_t s = layer ? dim(0, 2) : dim(1, 2);
  const std::int64_t keys = layer ? queries : numel(inputs[1]) / std::max<std::int64_t>(1, e);  // B x S
  std::int64_t total = queries * e * e * 2 + keys * e * e * 2 + queries * s * e * 2;
  if (layer) total += queries * e * dim(9, 2) * 2;
  return total;
}

std::int64_t mha_mult_adds(const std::vector<Shape>& inputs, const Shape&) { return mha_count(inputs, false); }
std::int64_t encoder_layer_mult_adds(const std::vector<Shape>& inputs, const Shape&) { return mha_count(inputs, true); }

// An operator whose output is the weights: shown by its name without the namespace.
AttentionOp returning(std::string_view name) {
  AttentionOp op;
  op.name = name;
  op.display = name.substr(name.find("::") + 2);
  return op;
}

// An operator whose weights pevis forms with `weights` from the arguments its `recorder` takes.
AttentionOp forming(std::string_view name, std::string_view recorder, at::Tensor (*weights)(const Args&),
                    std::optional<std::uint64_t> (*weight_bytes)(const Args&),
                    std::int64_t (*mult_adds)(const std::vector<Shape>&, const Shape&)) {
  AttentionOp op = returning(name);
  op.formed = true;
  op.recorder = recorder;
  op.weights = weights;
  op.weight_bytes = weight_bytes;
  op.mult_adds = mult_adds;
  return op;
}

}  // namespace

const std::vector<AttentionOp>& attention_ops() {
  static const std::vector<AttentionOp> ops = [] {
    std::vector<AttentionOp> list = {returning("aten::softmax"), returning("aten::_softmax")};
    AttentionOp sdpa = forming("aten::scaled_dot_product_attention",
                               "pevis::record_sdpa(Tensor output, Tensor query, Tensor key, Tensor? attn_mask, "
                               "bool is_causal, float? scale, bool enable_gqa, int site) -> Tensor",
                               &sdpa_from, &sdpa_bytes, &sdpa_mult_adds);
    sdpa.query_arg = 0;
    sdpa.key_arg = 1;
    list.push_back(sdpa);
    list.push_back(forming("aten::_native_multi_head_attention",
                           "pevis::record_mha(Tensor output, Tensor query, Tensor key, Tensor value, int embed_dim, "
                           "int num_head, Tensor qkv_weight, Tensor qkv_bias, Tensor proj_weight, Tensor proj_bias, "
                           "Tensor? mask, int? mask_type, int site) -> Tensor",
                           &mha_from, &mha_bytes, &mha_mult_adds));
    AttentionOp layer = forming("aten::_transformer_encoder_layer_fwd",
                                "pevis::record_encoder_layer(Tensor output, Tensor src, int embed_dim, int num_heads, "
                                "Tensor qkv_weight, Tensor qkv_bias, Tensor proj_weight, Tensor proj_bias, "
                                "bool norm_first, float eps, Tensor norm_weight_1, Tensor norm_bias_1, Tensor? mask, "
                                "int? mask_type, int site) -> Tensor",
                                &encoder_layer_from, &encoder_layer_bytes, &encoder_layer_mult_adds);
    layer.site_child = "self_attn";
    list.push_back(layer);
    return list;
  }();
  return ops;
}

const AttentionOp* attention_op(std::string_view name) {
  const auto& ops = attention_ops();
  const auto found = std::find_if(ops.begin(), ops.end(), [&](const AttentionOp& op) { return op.name == name; });
  return found == ops.end() ? nullptr : &*found;
}

const std::vector<std::string>& attention_op_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const auto& op : attention_ops()) list.emplace_back(op.name);
    return list;
  }();
  return names;
}

const std::vector<std::string>& recorder_arguments(const AttentionOp& op) {
  static std::mutex guard;
  static std::map<std::string_view, std::vector<std::string>> parsed;
  const std::lock_guard<std::mutex> lock(guard);
  auto [at, added] = parsed.try_emplace(op.name);
  if (added && !op.recorder.empty()) {
    const auto schema = torch::jit::parseSchema(std::string(op.recorder));
    const auto& args = schema.arguments();
    for (std::size_t i = 1; i + 1 < args.size(); ++i) at->second.push_back(args[i].name());
  }
  return at->second;
}

std::string recorder_name(const AttentionOp& op) { return std::string(op.recorder.substr(0, op.recorder.find('('))); }

std::string formed_ops_text() {
  std::vector<std::string_view> names;
  for (const auto& op : attention_ops()) {
    if (op.formed) names.push_back(op.display);
  }
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    text += std::string(i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + std::string(names[i]);
  }
  return text;
}

at::Tensor repeat_heads(const at::Tensor& kv, std::int64_t query_heads) {
  const std::int64_t heads = kv.size(-3);
  TORCH_CHECK(heads > 0 && query_heads % heads == 0, "scaled_dot_product_attention: ", query_heads,
              " query heads cannot be shared by ", heads, " key/value heads");
  return heads == query_heads ? kv : kv.repeat_interleave(query_heads / heads, /*dim=*/-3);
}

at::Tensor sdpa_weights(const at::Tensor& query, const at::Tensor& key, const c10::optional<at::Tensor>& attn_mask,
                        bool is_causal, c10::optional<double> scale, bool enable_gqa) {
  TORCH_CHECK(query.dim() >= 2 && key.dim() >= 2, "scaled_dot_product_attention: query and key need at least 2 "
              "dimensions, got ", query.sizes(), " and ", key.sizes());
  TORCH_CHECK(query.size(-1) == key.size(-1), "scaled_dot_product_attention: query ", query.sizes(), " and key ",
              key.sizes(), " differ in their last dimension");
  const bool mask_given = attn_mask.has_value() && attn_mask->defined();
  TORCH_CHECK(!(is_causal && mask_given),
              "scaled_dot_product_attention: an explicit attn_mask should not be set when is_causal=True");
  const at::Tensor k = enable_gqa && query.dim() >= 3 ? repeat_heads(key, query.size(-3)) : key;
  const double factor = scale.has_value() ? *scale : 1.0 / std::sqrt(static_cast<double>(query.size(-1)));
  at::Tensor scores = at::matmul(query, k.transpose(-2, -1)).mul(factor);
  const std::int64_t target = scores.size(-2), source = scores.size(-1);
  c10::optional<at::Tensor> keep;  // bool, true where a key may be attended to
  if (is_causal) keep = at::ones({target, source}, query.options().dtype(at::kBool)).tril();
  if (mask_given) {
    if (attn_mask->scalar_type() == at::kBool) keep = *attn_mask;
    else scores = scores.add(*attn_mask);
  }
  if (keep) scores = scores.masked_fill(keep->logical_not(), -std::numeric_limits<double>::infinity());
  at::Tensor weights = at::softmax(scores, /*dim=*/-1);
  // A row with no key to attend to: zeros, not 0/0.
  const at::Tensor dead = scores.eq(-std::numeric_limits<double>::infinity()).all(/*dim=*/-1, /*keepdim=*/true);
  return at::where(dead, at::zeros_like(weights), weights);
}

}  // namespace pevis
