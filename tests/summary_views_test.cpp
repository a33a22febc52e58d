// The summary views: the table's text, the charts' scales, and the data's
// subtree counts.
#include "pevis/io/load.h"
#include "pevis/summary/summary_views.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace pevis {
namespace {

const std::string kData = PEVIS_TEST_DATA;

SummaryRow row(std::string path, int depth, std::int64_t own, std::int64_t subtree, std::int64_t mult_adds = 0) {
  SummaryRow r;
  r.path = std::move(path);
  r.depth = depth;
  r.own_params = r.own_trainable = own;
  r.subtree_params = subtree;
  r.own_mult_adds = r.subtree_mult_adds = mult_adds;
  return r;
}

const plot::XYPlot& bars(const Product& p, std::size_t panel) { return std::get<plot::XYPlot>(p.figure.panels.at(panel).content); }

TEST(SummaryViews, ParametersSpanningDecadesAreDrawnOnALogScaleBesideMultAdds) {
  Summary s;
  s.rows = {row("", 0, 0, 100130), row("norm", 1, 30, 30, 300), row("fc", 1, 100100, 100100, 5000000)};
  s.totals.params = 100130;
  s.totals.forward = true;
  s.totals.mult_adds = 5000300;
  SummaryViewOptions options;
  options.depth = 1;
  const auto rows = shown_rows(s, options);
  ASSERT_EQ(rows.size(), 3u);
  auto products = summary_products(s, rows, options);
  ASSERT_EQ(products.size(), 1u);
  ASSERT_EQ(products[0].figure.panels.size(), 2u);  // parameters, then mult-adds
  EXPECT_TRUE(bars(products[0], 0).log_y);
  EXPECT_EQ(*bars(products[0], 0).y_min, 10);      // whole decades around 30 .. 100100
  EXPECT_EQ(*bars(products[0], 0).y_max, 1000000);
  EXPECT_EQ(bars(products[0], 0).x_labels, (std::vector<std::string>{"norm", "fc"}));
  EXPECT_NE(products[0].figure.panels[0].y_title.find("log scale"), std::string::npos);
  EXPECT_TRUE(bars(products[0], 1).log_y);
  EXPECT_NE(products[0].figure.panels[1].title.find("5 M mult-adds"), std::string::npos) << products[0].figure.panels[1].title;

  // Close sizes stay linear; without a forward pass there is no mult-adds chart.
  s.rows = {row("", 0, 0, 300), row("a", 1, 100, 100), row("b", 1, 200, 200)};
  s.totals.forward = false;
  products = summary_products(s, shown_rows(s, options), options);
  ASSERT_EQ(products[0].figure.panels.size(), 1u);
  EXPECT_FALSE(bars(products[0], 0).log_y);
  EXPECT_TRUE(summary_products(s, shown_rows(s, options), options, /*figures=*/false)[0].figure.panels.empty());
}

TEST(SummaryViews, DataCountsEachSubtreeAsTheReadmeSays) {
  const Model model = load_model(kData + "/word_lm.pt");
  const Summary s = summarize(model, nullptr);
  SummaryViewOptions options;
  const auto products = summary_products(s, shown_rows(s, options), options);
  const Table& table = products[0].tables.at(0);
  ASSERT_EQ(table.name, "summary");
  const auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(table.columns.begin(), table.columns.end(), name) - table.columns.begin());
  };
  ASSERT_LT(column("own_trainable_params"), table.columns.size());
  const auto& root = table.rows.at(0);
  EXPECT_EQ(std::get<std::string>(root[0]), "");
  EXPECT_EQ(std::get<std::int64_t>(root[column("params")]), s.totals.params);
  EXPECT_EQ(std::get<std::int64_t>(root[column("trainable_params")]), s.totals.trainable);  // the whole tree
  EXPECT_EQ(std::get<std::int64_t>(root[column("own_trainable_params")]), 0);                // the root holds none itself
  for (const auto& r : table.rows) {
    EXPECT_LE(std::get<std::int64_t>(r[column("trainable_params")]), std::get<std::int64_t>(r[column("params")]));
    EXPECT_GE(std::get<std::int64_t>(r[column("trainable_params")]), std::get<std::int64_t>(r[column("own_trainable_params")]));
  }
}

// A checkpoint's summary (no forward pass), viewed as pevis summary views it.
struct Checkpoint {
  Model model = load_model(kData + "/simple_net.after.ckpt.pt");
  Summary s = summarize(model, nullptr);
  SummaryViewOptions options = [] {
    SummaryViewOptions o;
    o.weights_only = true;
    o.root_name = "simple_net.after.ckpt.pt";
    return o;
  }();
};

TEST(SummaryViews, ACheckpointsTreeIsNamedAfterItsFile) {
  const Checkpoint c;
  const auto& [model, s, options] = c;
  const std::string text = summary_text(s, shown_rows(s, options), options, model.format);
  EXPECT_NE(text.find("\nsimple_net.after.ckpt.pt "), std::string::npos) << text;
  EXPECT_NE(text.find("├─ model "), std::string::npos) << text;
  EXPECT_EQ(text.find("model └─ model"), std::string::npos);
  EXPECT_NE(text.find("holds weights only"), std::string::npos);
}

// The page holds every module, with the table's numbers, as data.
TEST(SummaryViews, ThePageHoldsEveryModuleAsData) {
  const Checkpoint c;
  const auto& [model, s, options] = c;
  const Document page = summary_page(s, options, "dir/simple_net.after.ckpt.pt");
  EXPECT_EQ(page.name, "summary");
  EXPECT_EQ(page.format, "html");
  const std::string marker = "id=\"pevis-data\">";
  const std::size_t start = page.content.find(marker) + marker.size();
  const nlohmann::json data = nlohmann::json::parse(page.content.substr(start, page.content.find("</script>", start) - start));
  ASSERT_EQ(data["rows"].size(), s.rows.size());
  for (std::size_t k = 0; k < s.rows.size(); ++k) {
    EXPECT_EQ(data["rows"][k]["path"], s.rows[k].path);
    EXPECT_EQ(data["rows"][k]["params"], s.rows[k].subtree_params);
    EXPECT_EQ(data["rows"][k]["depth"], s.rows[k].depth);
  }
  EXPECT_EQ(data["rows"][0]["name"], "simple_net.after.ckpt.pt");
  EXPECT_EQ(data["totals"]["total_params"], s.totals.params);
  EXPECT_EQ(data["weights_only"], true);
}

}  // namespace
}  // namespace pevis
