// Rotary, ALiBi, T5 and Swin positions against the values that
// tests/data/positions/make_positions.py computed with python3-torch from
// the published formulas (and, for Swin, with torchvision's own swin_t).
#include <gtest/gtest.h>

#include <ATen/ops/arange.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/tensor.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "pevis/io/load.h"
#include "pevis/encoding/encoding.h"
#include "pevis/base/error.h"
#include "pevis/io/model.h"
#include "pevis/encoding/position_views.h"
#include "pevis/encoding/relative_bias.h"
#include "pevis/encoding/relative_views.h"
#include "pevis/positional/rope.h"
#include "product_util.h"
#include "test_util.h"

namespace pevis {
namespace {

using json = nlohmann::json;
using test::matrix_named;
using test::table_named;
using test::tensor_of;

std::string data_path(const std::string& name) { return std::string(PEVIS_TEST_DATA) + "/positions/" + name; }

const json& reference() {
  static const json ref = [] {
    std::ifstream in(data_path("reference.json"));
    return json::parse(in);
  }();
  return ref;
}

RopeSpec spec_of(const json& c) {
  RopeSpec spec;
  spec.d_head = c["d_head"];
  spec.base = c["base"];
  spec.max_len = c["max_len"];
  const json& s = c["scaling"];
  static const std::map<std::string, RopeScaling> names = {{"none", RopeScaling::kNone},   {"linear", RopeScaling::kLinear},
                                                           {"ntk", RopeScaling::kNtk},     {"yarn", RopeScaling::kYarn},
                                                           {"llama3", RopeScaling::kLlama3}};
  spec.scaling = names.at(s.value("scaling", "none"));
  spec.factor = s.value("factor", 1.0);
  if (s.contains("original")) spec.original_max_position_embeddings = s["original"].get<std::int64_t>();
  spec.beta_fast = s.value("beta_fast", 32.0);
  spec.beta_slow = s.value("beta_slow", 1.0);
  spec.low_freq_factor = s.value("low_freq_factor", 1.0);
  spec.high_freq_factor = s.value("high_freq_factor", 4.0);
  if (s.contains("attention_factor")) spec.attention_factor = s["attention_factor"].get<double>();
  return spec;
}

double cell(const Cell& c) {
  if (const auto* d = std::get_if<double>(&c)) return *d;
  if (const auto* f = std::get_if<float>(&c)) return *f;
  if (const auto* i = std::get_if<std::int64_t>(&c)) return static_cast<double>(*i);
  return NAN;
}

std::vector<double> tensor_values(const Model& model, const std::string& name) {
  for (const auto& t : model.tensors) {
    if (t.name == name) {
      const at::Tensor v = as_float(t.tensor()).to(at::kDouble).contiguous();
      return {v.data_ptr<double>(), v.data_ptr<double>() + v.numel()};
    }
  }
  throw std::runtime_error("no tensor " + name);
}

TEST(Rope, FrequenciesOfEveryScalingMatchTheReference) {
  std::size_t cases = 0;
  for (const auto& c : reference()["rope"]) {
    const RopeSpec spec = spec_of(c);
    ASSERT_NO_THROW(check_rope_spec(spec)) << c["name"];
    const auto inv = rope_inv_freq(spec);
    const auto& want = c["inv_freq"];
    ASSERT_EQ(inv.size(), want.size()) << c["name"];
    for (std::size_t i = 0; i < inv.size(); ++i) {
      EXPECT_NEAR(inv[i], want[i].get<double>(), 1e-12 * want[i].get<double>()) << c["name"] << " pair " << i;
    }
    EXPECT_NEAR(rope_attention_factor(spec), c["attention_factor"].get<double>(), 1e-12) << c["name"];
    ++cases;
  }
  EXPECT_EQ(cases, 6u);
}

TEST(Rope, EveryNumberWrittenMatchesTheReferenceTo1e6) {
  for (const auto& c : reference()["rope"]) {
    const RopeSpec spec = spec_of(c);
    const std::string name = c["name"];
    // The angle table, one position at a time (positions reach 131071).
    const auto& positions = c["positions"];
    for (std::size_t k = 0; k < positions.size(); ++k) {
      const std::int64_t p = positions[k];
      const auto products = rope_products(rope_view_of(spec, name, p, p + 1), /*figures=*/false);
      const auto& cos = matrix_named(products, "rope-cos");
      const auto& sin = matrix_named(products, "rope-sin");
      ASSERT_EQ(cos.rows, 1u);
      ASSERT_EQ(cos.row_labels[0], std::to_string(p));
      for (std::size_t i = 0; i < cos.cols; ++i) {
        EXPECT_NEAR(cos.at(0, i), c["cos"][k][i].get<double>(), 1e-6) << name << " position " << p << " pair " << i;
        EXPECT_NEAR(sin.at(0, i), c["sin"][k][i].get<double>(), 1e-6) << name << " position " << p << " pair " << i;
      }
      if (k + 1 < positions.size()) continue;
      // Wavelengths and decay, once per case.
      const Table& lengths = table_named(products, "rope-wavelengths");
      ASSERT_EQ(lengths.rows.size(), c["wavelength"].size());
      for (std::size_t i = 0; i < lengths.rows.size(); ++i) {
        const double want = c["wavelength"][i];
        EXPECT_NEAR(cell(lengths.rows[i][2]), want, 1e-9 * want) << name << " pair " << i;
        EXPECT_EQ(cell(lengths.rows[i][4]), spec.max_len >= want ? 1.0 : 0.0) << name << " pair " << i;
      }
      const Table& decay = table_named(products, "rope-decay");
      std::map<std::int64_t, double> score;
      for (const auto& row : decay.rows) score[static_cast<std::int64_t>(cell(row[0]))] = cell(row[1]);
      for (std::size_t j = 0; j < c["distances"].size(); ++j) {
        const std::int64_t d = c["distances"][j];
        ASSERT_TRUE(score.count(d)) << name << " distance " << d;
        EXPECT_NEAR(score[d], c["decay"][j].get<double>(), 1e-6) << name << " distance " << d;
      }
      // A scaled view overlays the unscaled frequencies.
      EXPECT_EQ(lengths.columns.size(), spec.scaling == RopeScaling::kNone ? 5u : 7u) << name;
    }
  }
}

TEST(Rope, ConfigsOfQwen2AndLlama3) {
  const RopeSpec qwen = read_rope_config(data_path("qwen2-7b.config.json"));
  EXPECT_EQ(qwen.d_head, 128);  // 3584 / 28
  EXPECT_EQ(qwen.base, 1000000.0);
  EXPECT_EQ(qwen.max_len, 131072);
  EXPECT_EQ(qwen.scaling, RopeScaling::kNone);

  const RopeSpec llama = read_rope_config(data_path("llama3.1-8b.config.json"));
  EXPECT_EQ(llama.d_head, 128);
  EXPECT_EQ(llama.base, 500000.0);
  EXPECT_EQ(llama.scaling, RopeScaling::kLlama3);
  EXPECT_EQ(llama.factor, 8.0);
  EXPECT_EQ(llama.original_max_position_embeddings, 8192);
  EXPECT_EQ(llama.low_freq_factor, 1.0);
  EXPECT_EQ(llama.high_freq_factor, 4.0);
  EXPECT_EQ(llama.max_len, 131072);
  // The same frequencies as the reference computed for Llama 3.1.
  for (const auto& c : reference()["rope"]) {
    if (c["name"] != "llama3") continue;
    const auto inv = rope_inv_freq(llama);
    for (std::size_t i = 0; i < inv.size(); ++i) EXPECT_NEAR(inv[i], c["inv_freq"][i].get<double>(), 1e-12 * inv[i]);
  }
}

TEST(Rope, ConfigsPevisCannotUseAreOneLineErrors) {
  const auto refused = [](const std::string& text, const std::string& says) {
    try {
      rope_from_config(text, "config.json");
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kBadInput) << text;
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  };
  refused("{not json", "not valid JSON");
  refused("[1, 2]", "not a JSON object");
  refused(R"({"rope_theta": 10000})", "head_dim");
  refused(R"({"head_dim": "128"})", "head_dim is not a number");
  refused(R"({"head_dim": 64.5})", "whole number");
  refused(R"({"head_dim": 64, "rope_scaling": {"rope_type": "dynamic", "factor": 2}})", "dynamic");
  refused(R"({"head_dim": 64, "rope_scaling": {"type": "longrope`touch x`"}})", "longrope");
  refused(R"({"head_dim": 64, "rope_scaling": 3})", "rope_scaling is not an object");
  refused(R"({"head_dim": 64, "rope_scaling": {"rope_type": "yarn", "factor": "4"}})", "rope_scaling.factor");
  refused(R"({"head_dim": 64, "partial_rotary_factor": 2})", "partial_rotary_factor");
  // A YaRN config takes its own context as the original one, as Hugging Face does.
  const RopeSpec yarn =
      rope_from_config(R"({"head_dim": 128, "max_position_embeddings": 32768, "rope_theta": 1000000,
                           "rope_scaling": {"rope_type": "yarn", "factor": 4}})", "config.json");
  EXPECT_EQ(yarn.original_max_position_embeddings, 32768);
  EXPECT_EQ(yarn.max_len, 131072);
  const RopeSpec deepseek = rope_from_config(R"({"head_dim": 64, "rope_scaling": {"type": "yarn", "factor": 40,
      "mscale": 1.0, "mscale_all_dim": 0.707, "original_max_position_embeddings": 4096}})", "config.json");
  EXPECT_NEAR(rope_attention_factor(deepseek), (0.1 * std::log(40.0) + 1) / (0.1 * 0.707 * std::log(40.0) + 1), 1e-12);
  const RopeSpec partial = rope_from_config(R"({"hidden_size": 2560, "num_attention_heads": 32,
                                                "partial_rotary_factor": 0.25})", "config.json");
  EXPECT_EQ(partial.d_head, 20);
}

TEST(Rope, SpecsThatCannotBeComputedAreRefused) {
  const auto refused = [](RopeSpec spec, const std::string& says) {
    try {
      check_rope_spec(spec);
      ADD_FAILURE() << "accepted " << says;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kBadInput);
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  RopeSpec spec;
  spec.d_head = 63;
  refused(spec, "--d-head 63");
  spec = {};
  spec.base = 1;
  refused(spec, "--base 1");
  spec = {};
  spec.base = NAN;
  refused(spec, "--base nan");
  spec = {};
  spec.max_len = 0;
  refused(spec, "--max-len 0");
  spec = {};
  spec.scaling = RopeScaling::kLinear;
  spec.factor = 0.5;
  refused(spec, "--factor 0.5");
  spec = {};
  spec.scaling = RopeScaling::kYarn;
  spec.factor = 2;
  spec.beta_fast = 1, spec.beta_slow = 32;
  refused(spec, "beta_fast above beta_slow");
  spec = {};
  spec.scaling = RopeScaling::kLlama3;
  spec.factor = 8;
  spec.low_freq_factor = 4, spec.high_freq_factor = 1;
  refused(spec, "low_freq_factor < high_freq_factor");
}

TEST(Rope, StoredFrequenciesAreFittedWithTheirBaseAndScaling) {
  const Model model = load_model(data_path("rope_buffers.pt"));
  const auto families = find_positional_tensors(model);
  ASSERT_EQ(families.size(), 5u);
  for (const auto& c : families) EXPECT_EQ(c.family, PositionalFamily::kRopeInvFreq) << c.name;

  RopeFit fit = fit_inv_freq(tensor_values(model, "base500k.rotary_emb.inv_freq"));
  EXPECT_EQ(fit.base, 500000.0);
  EXPECT_EQ(fit.scaling, RopeScaling::kNone);
  EXPECT_TRUE(fit.matches) << fit.max_relative_deviation;
  EXPECT_EQ(fit_inv_freq(tensor_values(model, "qwen2.rotary_emb.inv_freq")).base, 1000000.0);

  fit = fit_inv_freq(tensor_values(model, "llama3.rotary_emb.inv_freq"));
  EXPECT_EQ(fit.base, 500000.0);
  EXPECT_EQ(fit.scaling, RopeScaling::kLlama3);
  EXPECT_EQ(fit.factor, 8.0);
  EXPECT_NEAR(fit.smooth_from, 2048, 1e-6);  // 8192 / high_freq_factor 4
  EXPECT_NEAR(fit.smooth_to, 8192, 1e-6);    // 8192 / low_freq_factor 1
  EXPECT_TRUE(fit.matches) << fit.max_relative_deviation;
  EXPECT_NE(fit.description.find("llama3 scaling x8"), std::string::npos) << fit.description;

  fit = fit_inv_freq(tensor_values(model, "linear.rotary_emb.inv_freq"));
  EXPECT_EQ(fit.base, 10000.0);
  EXPECT_EQ(fit.scaling, RopeScaling::kLinear);
  EXPECT_EQ(fit.factor, 4.0);
  EXPECT_TRUE(fit.matches);

  fit = fit_inv_freq(tensor_values(model, "yarn.rotary_emb.inv_freq"));
  EXPECT_EQ(fit.base, 10000.0);
  EXPECT_EQ(fit.scaling, RopeScaling::kYarn);
  EXPECT_EQ(fit.factor, 4.0);
  EXPECT_TRUE(fit.matches) << fit.max_relative_deviation;

  // The check a CI job makes: the right base passes, a wrong one does not.
  EXPECT_TRUE(fit_inv_freq(tensor_values(model, "llama3.rotary_emb.inv_freq"), 500000.0).matches);
  EXPECT_FALSE(fit_inv_freq(tensor_values(model, "llama3.rotary_emb.inv_freq"), 10000.0).matches);
  EXPECT_FALSE(fit_inv_freq(tensor_values(model, "base500k.rotary_emb.inv_freq"), 499000.0).matches);
  EXPECT_FALSE(fit_inv_freq(tensor_values(model, "qwen2.rotary_emb.inv_freq"), 500000.0).matches);
}

TEST(Rope, NtkScalingIsReportedAsItsBase) {
  for (const auto& c : reference()["rope"]) {
    if (c["name"] != "ntk") continue;
    const RopeFit fit = fit_inv_freq(c["inv_freq"].get<std::vector<double>>());
    EXPECT_EQ(fit.scaling, RopeScaling::kNone);
    EXPECT_NEAR(fit.base, 10000 * std::pow(4.0, 64.0 / 62.0), 1e-6 * fit.base);
    EXPECT_NE(fit.description.find("NTK-aware scaling x4 of base 10000"), std::string::npos) << fit.description;
  }
}

TEST(Rope, FrequenciesThatAreNotRotaryAreRefused) {
  for (const std::vector<double>& bad : std::vector<std::vector<double>>{{1.0}, {1.0, 2.0}, {1.0, -0.5}, {1.0, NAN}, {1.0, 1.0}}) {
    try {
      fit_inv_freq(bad);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kBadInput);
    }
  }
}

TEST(Rope, DecayDistancesReachTheContext) {
  EXPECT_EQ(decay_distances(10).size(), 10u);
  const auto d = decay_distances(131072);
  EXPECT_EQ(d.front(), 0);
  EXPECT_EQ(d.back(), 131071);
  for (std::size_t i = 1; i < d.size(); ++i) ASSERT_LT(d[i - 1], d[i]);
  EXPECT_LT(d.size(), 65536u + 4097u);
}

TEST(TableViews, ASinusoidSaysWhichColumnsAreSinAndShowsFastWavesWhole) {
  const std::vector<float> pe = sinusoid_values({512, 1000, 10000.0});
  TableView view;
  view.about = "sinusoid";
  view.window = 256;
  view.dims = default_dims(512);
  view.sinusoid = true;
  const auto products = table_products(pe.data(), 1000, 512, view);
  ASSERT_EQ(products.size(), 3u);
  ASSERT_EQ(products[0].figure.notes.size(), 1u);
  EXPECT_NE(products[0].figure.notes[0].find("even dimensions hold sin, odd ones cos"), std::string::npos);
  const auto& dims = products[1].figure;
  ASSERT_EQ(dims.panels.size(), view.dims.size());
  // Dimension 0 turns every 2*pi positions: its panel shows eight turns, the data all 256 rows.
  EXPECT_EQ(std::get<plot::XYPlot>(dims.panels[0].content).series[0].x.size(), 50u);
  EXPECT_NE(dims.panels[0].title.find("(first 50)"), std::string::npos) << dims.panels[0].title;
  EXPECT_EQ(std::get<plot::XYPlot>(dims.panels.back().content).series[0].x.size(), 256u);
  EXPECT_EQ(products[1].data[0].rows, 256u);
  // A stored table is not assumed to be a sinusoid.
  view.sinusoid = false;
  const auto stored = table_products(pe.data(), 1000, 512, view);
  EXPECT_TRUE(stored[0].figure.notes.empty());
  EXPECT_EQ(std::get<plot::XYPlot>(stored[1].figure.panels[0].content).series[0].x.size(), 256u);
  EXPECT_TRUE(table_products(pe.data(), 1000, 512, view, /*figures=*/false)[2].figure.panels.empty());
}

TEST(Alibi, SlopesAndBiasesMatchTheReference) {
  for (const auto& c : reference()["alibi"]) {
    const std::int64_t heads = c["heads"];
    const auto slopes = alibi_slopes(heads);
    ASSERT_EQ(slopes.size(), c["slopes"].size()) << heads;
    for (std::size_t h = 0; h < slopes.size(); ++h) EXPECT_NEAR(slopes[h], c["slopes"][h].get<double>(), 1e-15) << heads;
    const std::int64_t n = c["positions"];
    const auto products = alibi_products(heads, n, /*figures=*/true);
    const Table& table = table_named(products, "alibi-slopes");
    ASSERT_EQ(table.rows.size(), static_cast<std::size_t>(heads));
    for (std::int64_t h : heads_to_draw(heads, 4)) {
      const auto& m = matrix_named(products, "alibi-bias-head" + std::to_string(h));
      for (std::int64_t q = 0; q < n; ++q) {
        for (std::int64_t k = 0; k < n; ++k) {
          const json& want = c["bias"][h][q][k];
          if (want.is_null()) {
            EXPECT_TRUE(std::isnan(m.at(q, k))) << heads << " head " << h;
          } else {
            EXPECT_NEAR(m.at(q, k), want.get<double>(), 1e-6) << heads << " head " << h;
          }
        }
      }
    }
    EXPECT_EQ(products[1].figure.panels.size(), heads_to_draw(heads, 4).size());
  }
  EXPECT_THROW(alibi_slopes(0), Error);
  EXPECT_THROW(alibi_slopes(70000), Error);
}

TEST(Alibi, HeadsDrawnIncludeTheFirstAndTheLast) {
  EXPECT_EQ(heads_to_draw(3, 4), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(heads_to_draw(12, 4), (std::vector<std::int64_t>{0, 4, 7, 11}));
}

TEST(T5, BucketsAreT5s) {
  for (const auto& c : reference()["t5_buckets"]) {
    const auto relative = c["relative"].get<std::vector<std::int64_t>>();
    const at::Tensor got = t5_bucket(at::tensor(relative, at::kLong), c["bidirectional"], c["num_buckets"], c["max_distance"]);
    const auto want = c["bucket"].get<std::vector<std::int64_t>>();
    ASSERT_EQ(got.numel(), static_cast<std::int64_t>(want.size()));
    const std::int64_t* g = got.data_ptr<std::int64_t>();
    for (std::size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(g[i], want[i]) << "relative " << relative[i] << " bidirectional " << c["bidirectional"] << " buckets "
                               << c["num_buckets"];
    }
  }
}

TEST(T5, BiasMatricesOfAModelMatchTheReference) {
  const Model model = load_model(data_path("t5_bias.pt"));
  const auto candidates = find_positional_tensors(model);
  ASSERT_EQ(candidates.size(), 2u);
  for (const auto& c : candidates) EXPECT_EQ(c.family, PositionalFamily::kT5Bias);
  for (const auto& m : reference()["t5_matrices"]) {
    const bool encoder = m["name"] == "encoder";
    const std::string name = std::string(encoder ? "encoder" : "decoder") +
                             ".block.0.layer.0.SelfAttention.relative_attention_bias.weight";
    const std::int64_t n = m["positions"];
    const auto products = t5_products(tensor_of(model, name), encoder, 32, 128, n, name);
    for (std::int64_t h = 0; h < 4; ++h) {
      const auto& got = matrix_named(products, "t5-matrix-head" + std::to_string(h));
      ASSERT_EQ(got.rows, static_cast<std::size_t>(n));
      for (std::int64_t q = 0; q < n; ++q) {
        for (std::int64_t k = 0; k < n; ++k) {
          const json& want = m["bias"][h][q][k];
          if (want.is_null()) {
            EXPECT_TRUE(std::isnan(got.at(q, k)));
          } else {
            EXPECT_NEAR(got.at(q, k), want.get<double>(), 1e-6) << m["name"] << " head " << h << " " << q << "," << k;
          }
        }
      }
    }
    // The curve over distance: one row per relative position, key - query.
    const Table& curve = table_named(products, "t5-bias");
    EXPECT_EQ(curve.rows.size(), static_cast<std::size_t>(encoder ? 2 * n - 1 : n));
    EXPECT_EQ(cell(curve.rows.back()[0]), encoder ? n - 1 : 0);
  }
}

TEST(T5, TablesThatCannotBeT5sAreRefused) {
  EXPECT_THROW(check_t5_spec({true, 32, 128}, 30), Error);  // --num-buckets against the table
  EXPECT_THROW(check_t5_spec({true, 31, 128}, 31), Error);  // odd and bidirectional
  EXPECT_THROW(check_t5_spec({false, 32, 8}, 32), Error);   // max_distance within the exact range
  EXPECT_NO_THROW(check_t5_spec({false, 31, 128}, 31));
}

TEST(T5, ConfigGivesBucketsAndDistance) {
  test::TempDir dir;
  const auto write = [&](const std::string& text) {
    std::ofstream(dir.path() / "config.json") << text;
    return (dir.path() / "config.json").string();
  };
  T5Spec spec = t5_from_config(write(R"({"relative_attention_num_buckets": 64, "relative_attention_max_distance": 256})"), {});
  EXPECT_EQ(spec.num_buckets, 64);
  EXPECT_EQ(spec.max_distance, 256);
  spec = t5_from_config(write(R"({"relative_attention_max_distance": "far"})"), {});
  EXPECT_EQ(spec.max_distance, 128);  // not a number: left as it was
  spec = t5_from_config(write("{broken"), {});
  EXPECT_EQ(spec.num_buckets, 32);
  EXPECT_EQ(t5_from_config((dir.path() / "missing.json").string(), {}).max_distance, 128);
}

TEST(Swin, BiasMapsEqualTorchvisionsOwn) {
  const Model model = load_model(data_path("swin_bias.pt"));
  const Model reference_maps = load_model(data_path("swin_reference.pt"));
  ASSERT_EQ(reference_maps.tensors.size(), 4u);
  const auto candidates = find_positional_tensors(model);
  EXPECT_EQ(candidates.size(), 12u);  // swin_t's twelve blocks
  EXPECT_TRUE(find_positional_tables(model).empty());
  for (const auto& want : reference_maps.tensors) {
    const std::string prefix = want.name + ".relative_position_";
    const at::Tensor table = tensor_of(model, prefix + "bias_table");
    const at::Tensor index = tensor_of(model, prefix + "index");
    const at::Tensor maps = swin_bias_maps(table, index);
    ASSERT_EQ(maps.sizes(), want.tensor().sizes()) << want.name;
    EXPECT_EQ((maps - want.tensor()).abs().max().item<double>(), 0.0) << want.name;
    // Without its index the map is the same: the index is Swin's for a 7x7 window.
    EXPECT_TRUE(swin_bias_maps(table, std::nullopt).equal(maps));
    EXPECT_TRUE(swin_relative_index(7).flatten().equal(index.flatten()));
    // What pevis writes: one row per head and query.
    const auto products = swin_products(maps, prefix + "bias_table");
    const auto& data = matrix_named(products, "swin-bias");
    ASSERT_EQ(data.rows, static_cast<std::size_t>(maps.size(0) * 49));
    const at::Tensor flat = want.tensor().reshape({-1}).contiguous();
    for (std::size_t i = 0; i < data.values.size(); ++i) ASSERT_EQ(data.values[i], flat.data_ptr<float>()[i]);
    EXPECT_EQ(products[0].figure.panels.size(), static_cast<std::size_t>(maps.size(0)));
  }
}

TEST(Swin, AModelsMapsComeFromItsTableAndTheIndexBesideIt) {
  const Model model = load_model(data_path("swin_bias.pt"));
  const Model expected = load_model(data_path("swin_reference.pt"));
  bool found = false;
  const at::Tensor maps = swin_maps_of(model, "features.7.1.attn.relative_position_bias_table", &found);
  EXPECT_TRUE(found);
  EXPECT_TRUE(maps.equal(tensor_of(expected, "features.7.1.attn")));
  EXPECT_THROW(swin_maps_of(model, "features.9.attn.relative_position_bias_table"), Error);
  const Model t5 = load_model(data_path("t5_bias.pt"));
  EXPECT_FALSE(t5_spec_of(t5, "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 32).bidirectional);
  EXPECT_TRUE(t5_spec_of(t5, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 32).bidirectional);
}

TEST(Swin, TablesAndIndexesThatDoNotFitAreRefused) {
  const at::Tensor table = at::arange(169 * 3, at::kFloat).reshape({169, 3});
  EXPECT_THROW(swin_bias_maps(at::arange(170 * 3, at::kFloat).reshape({170, 3}), std::nullopt), Error);
  EXPECT_THROW(swin_bias_maps(table, at::arange(48, at::kLong)), Error);            // not N x N
  EXPECT_THROW(swin_bias_maps(table, at::arange(49 * 49, at::kLong)), Error);       // beyond the table
  EXPECT_THROW(swin_bias_maps(table, at::arange(49 * 49, at::kFloat)), Error);      // not whole numbers
  EXPECT_THROW(swin_bias_maps(table, -at::arange(49 * 49, at::kLong)), Error);      // negative
  EXPECT_EQ(swin_window_of_table(169), 7);
  EXPECT_EQ(swin_window_of_table(168), 0);
}

}  // namespace
}  // namespace pevis
