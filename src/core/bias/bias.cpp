#include "pevis/bias/bias.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "pevis/base/memory.h"

namespace pevis {

std::vector<BiasVector> find_biases(const Model& model, const BiasSelection& selection) {
  static const std::regex kBias("bias$");
  std::vector<const NamedTensor*> chosen;
  long double need = 0;
  for (const auto& t : model.tensors) {
    if (t.dim() != 1) continue;
    const bool match = selection.match ? std::regex_search(t.name, *selection.match) : std::regex_search(t.name, kBias);
    if (!match || (selection.layer && !std::regex_search(t.name, *selection.layer))) continue;
    chosen.push_back(&t);
    // The file's bytes, their float32 copy, and the vector kept.
    need += static_cast<long double>(t.nbytes()) + 8.0L * static_cast<long double>(t.numel());
  }
  check_memory(need, model.path,
               chosen.size() == 1 ? std::string("reading the selected vector")
                                  : "reading the " + std::to_string(chosen.size()) + " selected vectors",
               "select fewer with --match REGEX or --layer REGEX");
  std::vector<BiasVector> out;
  for (const NamedTensor* t : chosen) {
    const at::Tensor values = as_float(t->tensor()).contiguous();  // read now, and only these
    const float* data = values.data_ptr<float>();
    out.push_back({t->name, std::vector<float>(data, data + values.numel())});
  }
  return out;
}

namespace {

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return std::nan("");
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - static_cast<double>(below));
}

}  // namespace

BiasStats bias_stats(const std::vector<float>& values) {
  BiasStats s;
  s.size = values.size();
  std::vector<double> finite;
  finite.reserve(values.size());
  for (float v : values) {
    if (std::isfinite(v)) finite.push_back(v);
    else ++s.nonfinite;
  }
  if (finite.empty()) {
    s.mean = s.std = s.min = s.max = s.l2 = s.p5 = s.p25 = s.p50 = s.p75 = s.p95 = std::nan("");
    return s;
  }
  double sum = 0, squares = 0;
  for (double v : finite) sum += v, squares += v * v;
  s.mean = sum / static_cast<double>(finite.size());
  double deviations = 0;
  for (double v : finite) deviations += (v - s.mean) * (v - s.mean);
  s.std = finite.size() > 1 ? std::sqrt(deviations / static_cast<double>(finite.size() - 1)) : 0.0;
  s.l2 = std::sqrt(squares);
  std::sort(finite.begin(), finite.end());
  s.min = finite.front();
  s.max = finite.back();
  s.p5 = quantile(finite, 0.05);
  s.p25 = quantile(finite, 0.25);
  s.p50 = quantile(finite, 0.5);
  s.p75 = quantile(finite, 0.75);
  s.p95 = quantile(finite, 0.95);
  return s;
}

std::string canonical_name(const std::string& name) {
  static const char* wrappers[] = {"model", "state_dict", "model_state_dict", "module", "net", "network", "ema"};
  std::string rest = name;
  while (true) {
    const auto dot = rest.find('.');
    if (dot == std::string::npos || rest.find('.', dot + 1) == std::string::npos) return rest;  // keep "layer.bias"
    const std::string head = rest.substr(0, dot);
    const bool index = !head.empty() && std::all_of(head.begin(), head.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!index && std::none_of(std::begin(wrappers), std::end(wrappers), [&](const char* w) { return head == w; })) return rest;
    rest = rest.substr(dot + 1);
  }
}

BiasComparison compare_biases(const std::vector<BiasVector>& before, const std::vector<BiasVector>& after) {
  BiasComparison out;
  std::map<std::string, const BiasVector*> later;
  for (const auto& b : after) later.emplace(canonical_name(b.name), &b);
  std::map<std::string, bool> seen;
  for (const auto& a : before) {
    const std::string key = canonical_name(a.name);
    const auto found = later.find(key);
    if (found == later.end()) {
      out.only_before.push_back(a.name);
      continue;
    }
    seen[key] = true;
    if (found->second->values.size() != a.values.size()) {
      out.resized.push_back(a.name + ": " + std::to_string(a.values.size()) + " -> " +
                            std::to_string(found->second->values.size()));
      continue;
    }
    out.common.push_back({a.name, a.values, found->second->values});
  }
  for (const auto& b : after) {
    if (!seen.count(canonical_name(b.name))) out.only_after.push_back(b.name);
  }
  return out;
}

std::vector<BiasTrack> track_biases(const std::vector<std::vector<BiasVector>>& sets) {
  std::vector<BiasTrack> tracks;
  if (sets.empty()) return tracks;
  for (const auto& b : sets[0]) {
    BiasTrack t{b.name, {}};
    const std::string name = canonical_name(b.name);
    for (const auto& set : sets) {
      const auto found =
          std::find_if(set.begin(), set.end(), [&](const BiasVector& v) { return canonical_name(v.name) == name; });
      t.stats.push_back(found == set.end() ? BiasStats{} : bias_stats(found->values));
    }
    tracks.push_back(std::move(t));
  }
  return tracks;
}

}  // namespace pevis
