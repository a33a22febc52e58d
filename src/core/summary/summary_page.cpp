#include <nlohmann/json.hpp>

#include "pevis/base/module_path.h"
#include "pevis/base/text.h"
#include "pevis/output/html.h"
#include "pevis/summary/summary_views.h"

namespace pevis {

namespace page_assets {
extern const PageAssets kSummary;  // src/core/summary/page/, built in by cmake/embed_page.cmake
}  // namespace page_assets

Document summary_page(const Summary& s, const SummaryViewOptions& options, const std::string& model) {
  const std::vector<std::int64_t> trainable = subtree_trainable(s);
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t k = 0; k < s.rows.size(); ++k) {
    const SummaryRow& r = s.rows[k];
    rows.push_back({{"path", r.path},
                    {"name", r.path.empty() ? options.root_name : last_part(r.path)},
                    {"type", r.type},
                    {"depth", r.depth},
                    {"output", shape_text(r.outputs)},
                    {"params", r.subtree_params},
                    {"trainable", trainable[k]},
                    {"mult_adds", r.subtree_mult_adds},
                    {"bytes", r.subtree_bytes},
                    {"dtypes", r.dtypes},
                    {"called", r.called}});
  }
  nlohmann::json totals = nlohmann::json::object();
  for (const auto& [name, value] : named_totals(s.totals)) totals[name] = value;
  nlohmann::json shared = nlohmann::json::array();
  for (const auto& [name, counted] : s.shared) shared.push_back({name, counted});
  nlohmann::json data = {{"model", file_label(model)}, {"rows", rows},       {"totals", totals},
                         {"shared", shared},           {"depth", options.depth}, {"forward", s.totals.forward},
                         {"weights_only", options.weights_only}};
  HtmlPage page;
  page.title = "pevis summary: " + file_label(model);
  page.assets = page_assets::kSummary;
  page.data = &data;
  return {"summary", "html", html_document(page)};
}

}  // namespace pevis
