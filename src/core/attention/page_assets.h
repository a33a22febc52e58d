#pragma once
// The attention page's own markup, style and script (src/core/attention/page/),
// built into pevis with the hashes its Content-Security-Policy names
// (cmake/embed_page.cmake writes them).

namespace pevis::page_assets {

extern const char kAttentionBody[];
extern const char kAttentionStyle[];
extern const char kAttentionStyleHash[];   ///< base64 SHA-256 of kAttentionStyle
extern const char kAttentionScript[];
extern const char kAttentionScriptHash[];  ///< base64 SHA-256 of kAttentionScript

}  // namespace pevis::page_assets
