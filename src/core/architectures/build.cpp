#include "build.h"

#include <cmath>
#include <cstdio>

#include "pevis/base/error.h"
#include "stored.h"

namespace pevis::architectures {

using json = nlohmann::json;
using torch::jit::Module;

double number(const std::string& source, const json& config, const std::string& key, double fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  if (!config[key].is_number()) throw bad_input(source, "'" + key + "' is not a number", "the config is damaged");
  return config[key].get<double>();
}

std::int64_t whole(const std::string& source, const json& config, const std::string& key, std::int64_t fallback) {
  const double v = number(source, config, key, static_cast<double>(fallback));
  if (v < 0 || v != std::floor(v) || v > 1e9) {
    throw bad_input(source, "'" + key + "' is " + (v < 0 && fallback < 0 ? "missing" : "not a size"),
                    "a config.json of this family names it");
  }
  return static_cast<std::int64_t>(v);
}

std::string text(const std::string& source, const json& config, const std::string& key, const std::string& fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  if (!config[key].is_string()) throw bad_input(source, "'" + key + "' is not a string", "the config is damaged");
  return config[key].get<std::string>();
}

bool flag(const std::string& source, const json& config, const std::string& key, bool fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  if (!config[key].is_boolean()) throw bad_input(source, "'" + key + "' is not true or false", "the config is damaged");
  return config[key].get<bool>();
}

double positive(const std::string& source, const json& config, const std::string& key, double fallback) {
  const double v = number(source, config, key, fallback);
  if (!(v > 0) || !std::isfinite(v)) {
    throw bad_input(source, "'" + key + "' is " + std::to_string(v) + ": it must be above 0", "the config is damaged");
  }
  return v;
}

// Each define compiles into the module's own unit.
Module module(const std::string& cls) { return Module(c10::QualifiedName("__torch__.pevis.built." + cls)); }

void define(Module& m, const std::string& code) { m.define(code, stored_resolver()); }

std::string literal(double v) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", v);
  std::string s = text;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string lowest(at::ScalarType compute) {
  return compute == at::kBFloat16 ? "-3.3895313892515355e+38" : "-3.4028234663852886e+38";
}

std::string dtype_code(at::ScalarType compute) { return std::to_string(static_cast<int>(compute)); }

std::string activation(const std::string& name, const std::string& x) {
  if (name == "silu" || name == "swish") return "torch.silu(" + x + ".float()).to(" + x + ".dtype)";
  if (name == "gelu") return "torch.gelu(" + x + ".float()).to(" + x + ".dtype)";
  if (name == "gelu_pytorch_tanh") return "torch.gelu(" + x + ".float(), approximate='tanh').to(" + x + ".dtype)";
  if (name == "gelu_new") {  // written out in Python by transformers, in this order
    return "(0.5 * " + x + " * (1.0 + torch.tanh(0.7978845608028654 * (" + x + " + 0.044715 * torch.pow(" + x +
           ", 3.0)))))";
  }
  return "";
}

namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

const NamedTensor* Weights::find(const std::string& name) const {
  const NamedTensor* t = model_.find(name);
  if (!t && name.rfind(prefix_, 0) == 0) t = model_.find(name.substr(prefix_.size()));
  if (!t && file_name_) t = model_.find(file_name_(name));
  return t;
}

at::Tensor Weights::take(const std::string& name, const std::vector<std::int64_t>& shape) {
  const NamedTensor* t = find(name);
  if (!t) {
    throw bad_input(model_.path, "the weights lack " + (file_name_ ? file_name_(name) : name) + " " + shape_text(shape),
                    "the folder is incomplete or of another architecture than its config.json says");
  }
  if (t->shape() != shape) {
    throw bad_input(model_.path, t->name + " is " + shape_text(t->shape()) + ", not the " + shape_text(shape) +
                                     " its config.json implies",
                    "the folder's weights and config.json disagree");
  }
  used_.insert(t->name);
  return stored_parameter(*t, compute_).set_requires_grad(true);  // a trained parameter, as in the model
}

bool Weights::has(const std::string& name) const { return find(name) != nullptr; }

void Weights::check_all_used(const std::string& family, const std::function<bool(const NamedTensor&)>& ignored) const {
  for (const auto& t : model_.tensors) {
    if (used_.count(t.name) || t.name.find("rotary_emb.inv_freq") != std::string::npos || (ignored && ignored(t))) {
      continue;
    }
    throw bad_input(model_.path, "the weights hold " + one_line(t.name) + ", which a " + family + " model as its "
                                     "config.json describes does not use",
                    "the config.json does not describe these weights");
  }
}

namespace {

c10::intrusive_ptr<c10::ivalue::Object> same_object(const c10::intrusive_ptr<c10::ivalue::Object>& like, Weights& w,
                                                    const std::string& name) {
  const c10::ClassTypePtr type = like->type();
  auto object = c10::ivalue::Object::create(c10::StrongTypePtr(like->compilation_unit(), type), type->numAttributes());
  for (std::size_t i = 0; i < type->numAttributes(); ++i) {
    const c10::IValue& slot = like->getSlot(i);
    const std::string attribute = name + "." + type->getAttributeName(i);
    if (slot.isObject() && slot.toObjectRef().type()->is_module()) {
      object->setSlot(i, same_object(slot.toObject(), w, attribute));
    } else if (type->is_parameter(i)) {
      object->setSlot(i, w.take(attribute, slot.toTensor().sizes().vec()));
    } else {
      object->setSlot(i, slot);  // sizes and factors, the same for every layer
    }
  }
  return object;
}

}  // namespace

Module linear(Weights& w, const std::string& name, std::int64_t in, std::int64_t out, bool bias) {
  Module m = module("Linear");
  m.register_parameter("weight", w.take(name + ".weight", {out, in}), false);
  if (bias) {
    m.register_parameter("bias", w.take(name + ".bias", {out}), false);
    define(m, "def forward(self, x):\n"
              "    return torch.linear(x.float(), pevis.weight(self.weight).float(), pevis.weight(self.bias).float())"
              ".to(x.dtype)\n");
  } else {
    define(m, "def forward(self, x):\n    return torch.linear(x.float(), pevis.weight(self.weight).float()).to(x.dtype)\n");
  }
  return m;
}

Module layer_norm(Weights& w, const std::string& name, std::int64_t d, double eps) {
  Module m = module("LayerNorm");
  m.register_parameter("weight", w.take(name + ".weight", {d}), false);
  m.register_parameter("bias", w.take(name + ".bias", {d}), false);
  m.register_attribute("d", c10::IntType::get(), d);
  m.register_attribute("eps", c10::FloatType::get(), eps);
  define(m, "def forward(self, x):\n"
            "    return torch.layer_norm(x.float(), [self.d], pevis.weight(self.weight).float(), "
            "pevis.weight(self.bias).float(), self.eps).to(x.dtype)\n");
  return m;
}

Module embedding(Weights& w, const std::string& name, std::int64_t rows, std::int64_t d) {
  Module m = module("Embedding");
  m.register_parameter("weight", w.take(name + ".weight", {rows, d}), false);
  define(m, "def forward(self, ids):\n    return pevis.weight_rows(self.weight, ids)\n");
  return m;
}

Module layer_list(const Module& first, Weights& w, const std::string& prefix, std::int64_t count) {
  Module layers = module("ModuleList");
  layers.register_module("0", first);
  for (std::int64_t i = 1; i < count; ++i) {
    layers.register_module(std::to_string(i), Module(same_object(first._ivalue(), w, prefix + std::to_string(i))));
  }
  return layers;
}

}  // namespace pevis::architectures
