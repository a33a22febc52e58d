#include <nlohmann/json.hpp>

#include "page_assets.h"
#include "pevis/base/text.h"
#include "pevis/output/html.h"
#include "pevis/summary/summary_views.h"

namespace pevis {

Document summary_page(const Summary& s, const SummaryViewOptions& options, const std::string& model) {
  const std::vector<std::int64_t> trainable = subtree_trainable(s);
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t k = 0; k < s.rows.size(); ++k) {
    const SummaryRow& r = s.rows[k];
    const std::size_t dot = r.path.find_last_of('.');
    rows.push_back({{"path", r.path},
                    {"name", r.path.empty() ? options.root_name : dot == std::string::npos ? r.path : r.path.substr(dot + 1)},
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
  page.body = page_assets::kSummaryBody;
  page.style = page_assets::kSummaryStyle;
  page.style_hash = page_assets::kSummaryStyleHash;
  page.script = page_assets::kSummaryScript;
  page.script_hash = page_assets::kSummaryScriptHash;
  page.data = &data;
  return {"summary", "html", html_document(page)};
}

}  // namespace pevis
