#pragma once
// Standalone HTML pages: one file that opens from disk, offline, and runs
// only the script pevis wrote into it.

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace pevis {

/// Text safe as HTML element content or a quoted attribute value: `&`, `<`,
/// `>`, `"` and `'` as character references.
std::string html_text(std::string_view text);

/// `value` as JSON that can stand inside a `<script>` element and be read
/// back with JSON.parse: every non-ASCII character (U+2028 and U+2029
/// included) as a \u escape, and `<`, `>` and `&` too, so that no `</script>`
/// or `<!--` can appear; invalid UTF-8 becomes U+FFFD.
std::string script_json(const nlohmann::json& value);

/// Standard base64 (RFC 4648, with `=` padding).
std::string base64(std::string_view bytes);

/// What a page is made of. `script` and `style` are the page's own code,
/// allowed by their hashes (`script_hash`, `style_hash`: base64 SHA-256, as
/// a Content-Security-Policy names them); nothing else may run, load or
/// connect anywhere.
struct HtmlPage {
  std::string title;
  std::string style, style_hash;
  std::string body;  ///< the page's markup, pevis's own
  std::string script, script_hash;
  nlohmann::json const* data = nullptr;  ///< written as `<script type="application/json" id="pevis-data">`
  /// Binary parts, each as `<script type="application/octet-stream" id=ID>` holding base64.
  std::vector<std::pair<std::string, std::string>> blobs;
};

/// The page as one HTML document.
std::string html_document(const HtmlPage& page);

/// The bytes `html_document` adds around `blob_bytes` of binary parts
/// (base64 makes 3 bytes 4).
inline std::size_t base64_size(std::size_t bytes) { return (bytes + 2) / 3 * 4; }

}  // namespace pevis
