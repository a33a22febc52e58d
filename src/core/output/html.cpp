#include "pevis/output/html.h"

#include "pevis/base/utf8.h"

#include <nlohmann/json.hpp>

#include <cstring>

namespace pevis {

std::string html_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : visible_text(std::string(text), "\xEF\xBF\xBD")) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

// Every string of `value` as `visible_text` shows it: a page shows what it
// holds, and a label holding U+202E must not make its neighbours read backwards.
void make_visible(nlohmann::json& value) {
  if (value.is_string()) {
    value = visible_text(value.get_ref<const std::string&>(), "\xEF\xBF\xBD");
  } else if (value.is_structured()) {
    for (auto& item : value) make_visible(item);
  }
}

}  // namespace

std::string script_json(const nlohmann::json& value) {
  nlohmann::json shown = value;
  make_visible(shown);
  const std::string text = shown.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
  // Outside strings JSON has none of these characters; inside, the escapes
  // read back as the same text.
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<': out += "\\u003c"; break;
      case '>': out += "\\u003e"; break;
      case '&': out += "\\u0026"; break;
      default: out += c;
    }
  }
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(base64_size(bytes.size()));
  std::size_t i = 0;
  const auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += kDigits[v >> 18 & 63];
    out += kDigits[v >> 12 & 63];
    out += kDigits[v >> 6 & 63];
    out += kDigits[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    const unsigned v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += kDigits[v >> 18 & 63];
    out += kDigits[v >> 12 & 63];
    out += rest == 2 ? kDigits[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::string html_document(const HtmlPage& page) {
  const PageAssets& code = page.assets;
  std::size_t size = std::strlen(code.style) + std::strlen(code.body) + std::strlen(code.script) + 4096;
  for (const auto& blob : page.blobs) size += base64_size(blob.second.size()) + 80;
  std::string out;
  out.reserve(size);
  // No network, no plug-ins, no forms, no other script or style than these.
  const std::string policy = std::string("default-src 'none'; script-src 'sha256-") + code.script_hash +
                             "'; style-src 'sha256-" + code.style_hash + "'; img-src data:; base-uri 'none'; form-action 'none'";
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta http-equiv=\"Content-Security-Policy\" content=\"" + html_text(policy) + "\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<meta name=\"generator\" content=\"pevis\">\n";
  out += "<title>" + html_text(page.title) + "</title>\n";
  out += std::string("<style>") + code.style + "</style>\n</head>\n<body>\n";
  out += code.body;
  if (page.data) out += "<script type=\"application/json\" id=\"pevis-data\">" + script_json(*page.data) + "</script>\n";
  for (const auto& [id, bytes] : page.blobs) {
    out += "<script type=\"application/octet-stream\" id=\"" + html_text(id) + "\">";
    out += base64(bytes);
    out += "</script>\n";
  }
  out += std::string("<script>") + code.script + "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace pevis
