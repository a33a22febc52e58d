#include "pevis/architectures/architectures.h"

#include <torch/csrc/jit/api/module.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "bert.h"
#include "decoder.h"
#include "gpt2.h"
#include "vit.h"
#include "pevis/base/archive.h"
#include "pevis/base/error.h"
#include "pevis/base/json_depth.h"

namespace pevis {
namespace {

using json = nlohmann::json;

// One family: its model_type and how it is built from config.json.
struct Architecture {
  std::string model_type;
  std::function<torch::jit::Module(const Model&, const json&, at::ScalarType)> build;
  /// The rotary tables by transformers' buffer names; null for families without.
  std::function<std::vector<std::pair<std::string, at::Tensor>>(const json&, const std::string&)> rotary;
};

// A decoder of the Llama shape: what transformers' classes of that
// model_type fix, and their defaults for what config.json leaves out.
Architecture decoder(const architectures::Family& family) {
  const auto build = [family](const Model& weights, const json& config, at::ScalarType compute) {
    return architectures::build_decoder(weights, architectures::read_decoder_spec(family, config, weights.config_file),
                                        compute);
  };
  const auto rotary = [family](const json& config, const std::string& source) {
    const architectures::DecoderSpec spec = architectures::read_decoder_spec(family, config, source);
    std::vector<std::pair<std::string, at::Tensor>> tables;
    const std::string at = "model.rotary_emb.";
    for (std::size_t r = 0; r < spec.ropes.size(); ++r) {
      const std::string type = spec.ropes.size() == 1 ? "" : r == 0 ? "full_attention_" : "sliding_attention_";
      tables.emplace_back(at + type + "inv_freq", spec.ropes[r].inv_freq);
      if (spec.ropes[r].long_inv_freq.defined()) tables.emplace_back(at + type + "long_inv_freq", spec.ropes[r].long_inv_freq);
    }
    return tables;
  };
  return {family.model_type, build, rotary};
}

architectures::Family family(std::string model_type, std::string classes,
                             const std::function<void(architectures::Family&)>& set = nullptr) {
  architectures::Family f;
  f.model_type = std::move(model_type);
  f.classes = std::move(classes);
  if (set) set(f);
  return f;
}

const std::vector<Architecture>& registry() {
  using architectures::Windows;
  static const std::vector<Architecture> families = {
      decoder(family("llama", "Llama")),
      decoder(family("mistral", "Mistral", [](auto& f) { f.windows = Windows::kEvery, f.window = 4096; })),
      decoder(family("qwen2", "Qwen2", [](auto& f) { f.windows = Windows::kQwen2, f.window = 4096, f.qkv_bias = true; })),
      decoder(family("gemma", "Gemma", [](auto& f) {
        f.gemma = true, f.tie = true, f.activation = "gelu_pytorch_tanh";
      })),
      decoder(family("gemma2", "Gemma2", [](auto& f) {
        f.gemma = true, f.tie = true, f.activation = "gelu_pytorch_tanh", f.four_norms = true;
        f.pre_attn_scalar = true, f.attn_softcap = 50, f.final_softcap = 30;
        f.windows = Windows::kPattern, f.pattern = 2, f.window = 4096;
      })),
      decoder(family("gemma3_text", "Gemma3", [](auto& f) {
        f.gemma = true, f.tie = true, f.activation = "gelu_pytorch_tanh", f.four_norms = true, f.qk_norm = true;
        f.base = "Gemma3TextModel";
        f.pre_attn_scalar = true, f.theta = 1e6, f.local_theta = 1e4;
        f.windows = Windows::kPattern, f.pattern = 6, f.window = 4096;
      })),
      decoder(family("phi3", "Phi3", [](auto& f) { f.fused = true, f.windows = Windows::kEvery; })),
      {"gpt2", [](const Model& weights, const json& config, at::ScalarType compute) {
         return architectures::build_gpt2(weights, config, weights.config_file, compute);
       }},
      {"bert", [](const Model& weights, const json& config, at::ScalarType compute) {
         return architectures::build_bert("bert", weights, config, weights.config_file, compute);
       }},
      {"roberta", [](const Model& weights, const json& config, at::ScalarType compute) {
         return architectures::build_bert("roberta", weights, config, weights.config_file, compute);
       }},
      {"vit", [](const Model& weights, const json& config, at::ScalarType compute) {
         return architectures::build_vit(weights, config, weights.config_file, compute);
       }},
  };
  return families;
}

json read_config_json(const std::string& path) {
  constexpr std::uint64_t kMostBytes = 16u << 20;
  const auto file = open_file(path);
  if (file->size() > kMostBytes) throw bad_input(path, "larger than any config.json", "check the folder");
  const std::string text = file->read_string(0, file->size());
  check_json_depth(text, path);
  try {
    json config = json::parse(text);
    if (!config.is_object()) throw bad_input(path, "not a JSON object", "the config is damaged");
    return config;
  } catch (const json::exception&) {
    throw bad_input(path, "not valid JSON", "the config is damaged: download it again");
  }
}

}  // namespace

std::vector<std::string> built_model_types() {
  std::vector<std::string> types;
  for (const auto& a : registry()) types.push_back(a.model_type);
  return types;
}

std::vector<NamedTensor> computed_rotary_buffers(const Model& model, std::string* why) {
  std::vector<NamedTensor> buffers;
  if (model.config_file.empty()) return buffers;
  try {
    const json config = read_config_json(model.config_file);
    const std::string type = config.value("model_type", json()).is_string() ? config["model_type"].get<std::string>() : "";
    for (const auto& a : registry()) {
      if (a.model_type != type || !a.rotary) continue;
      for (auto& [name, table] : a.rotary(config, model.config_file)) {
        if (!model.find(name)) buffers.emplace_back(name, table.contiguous(), "buffer");
      }
    }
  } catch (const Error& e) {
    if (why) *why = e.what();
    buffers.clear();
  } catch (const json::exception& e) {
    if (why) *why = model.config_file + " : a value of the wrong type: " + first_line(e.what());
    buffers.clear();
  }
  return buffers;
}

Model with_forward(Model model, bool logits, at::ScalarType compute) {
  if (compute != at::kFloat && (model.runnable() || model.config_file.empty())) {
    throw Error(ExitCode::kUsage, "--dtype bfloat16",
                "it applies to the Hugging Face folders pevis builds from config.json, and " + model.path + " is not one",
                "a program computes in the dtypes it was saved with: leave --dtype out");
  }
  if (model.runnable() || model.config_file.empty()) return model;
  const json config = read_config_json(model.config_file);
  const std::string type = config.contains("model_type") && config["model_type"].is_string()
                               ? config["model_type"].get<std::string>()
                               : "";
  for (const auto& a : registry()) {
    if (a.model_type != type) continue;
    try {
      model.module = std::make_shared<torch::jit::Module>(a.build(model, config, compute));
    } catch (const Error&) {
      throw;
    } catch (const json::exception& e) {
      throw bad_input(model.config_file, "a value of the wrong type: " + first_line(e.what()), "the config is damaged");
    } catch (const std::exception& e) {
      // The code is pevis's own: its failing to compile or run is a bug.
      throw Error(ExitCode::kInternal, model.config_file, "building a " + type + " model failed: " + first_line(e.what()),
                  "please report this");
    }
    if (!logits && model.module->hasattr("logits")) model.module->setattr("logits", false);
    // A pad id outside the vocabulary (some configs name one) pads with 0:
    // padded positions are masked and not shown, so their ids change nothing shown.
    const json vocab = config.contains("vocab_size") ? config["vocab_size"] : json();
    if (config.contains("pad_token_id") && config["pad_token_id"].is_number_integer() &&
        config["pad_token_id"].get<std::int64_t>() >= 0 && vocab.is_number_integer() &&
        config["pad_token_id"].get<std::int64_t>() < vocab.get<std::int64_t>()) {
      model.built_pad = config["pad_token_id"].get<std::int64_t>();
    }
    model.built = type;
    return model;
  }
  std::string known;
  for (const auto& t : built_model_types()) known += (known.empty() ? "" : ", ") + t;
  throw bad_input(model.config_file,
                  "pevis does not build model_type '" + one_line(type.empty() ? "(none)" : type) + "' (it builds " +
                      known + ")",
                  "give a TorchScript or torch.export program of the model instead");
}

}  // namespace pevis
