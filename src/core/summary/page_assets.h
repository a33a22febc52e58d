#pragma once
// The summary page's own markup, style and script (src/core/summary/page/),
// built into pevis with the hashes its Content-Security-Policy names
// (cmake/embed_page.cmake writes them).

namespace pevis::page_assets {

extern const char kSummaryBody[];
extern const char kSummaryStyle[];
extern const char kSummaryStyleHash[];   ///< base64 SHA-256 of kSummaryStyle
extern const char kSummaryScript[];
extern const char kSummaryScriptHash[];  ///< base64 SHA-256 of kSummaryScript

}  // namespace pevis::page_assets
