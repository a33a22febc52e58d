#pragma once
// Standalone HTML pages: one file that opens from disk, offline, and runs
// only the script pevis wrote into it.

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace pevis {

/// Text safe as HTML element content or a quoted attribute value: `&`, `<`,
/// `>`, `"` and `'` as character references, shown as `visible_text` shows it.
std::string html_text(std::string_view text);

/// `value` as JSON that can stand inside a `<script>` element and be read
/// back with JSON.parse: every non-ASCII character (U+2028 and U+2029
/// included) as a \u escape, and `<`, `>` and `&` too, so that no `</script>`
/// or `<!--` can appear. Its strings are shown as `visible_text` shows them:
/// controls as spaces, invalid UTF-8 as U+FFFD, characters that reorder or
/// hide text as `⟨U+202E⟩`.
std::string script_json(const nlohmann::json& value);

/// Standard base64 (RFC 4648, with `=` padding).
std::string base64(std::string_view bytes);

/// A page's own code, built into pevis by cmake/embed_page.cmake from the
/// files of a `page/` folder: its markup, style and script, and the base64
/// SHA-256 of the style and the script that its Content-Security-Policy names.
struct PageAssets {
  const char* body;
  const char* style;
  const char* style_hash;
  const char* script;
  const char* script_hash;
};

/// What a page is made of. Its assets are the only script and style it
/// allows (by their hashes); nothing else may run, load or connect anywhere.
struct HtmlPage {
  std::string title;
  PageAssets assets;
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
