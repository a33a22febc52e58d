// The attention page as pevis writes it: how it stores the weights under its
// budget, and that token text stays data (the page in a browser:
// tests/browser/page_test.mjs).
#include "pevis/attention/attention_page.h"

#include <gtest/gtest.h>

#include <ATen/ops/full.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/zeros.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>

#include "pevis/base/error.h"
#include "pevis/output/html.h"

namespace pevis {
namespace {

// A site of the given shape whose weights take no memory (only sizes are read).
AttentionSite shaped(std::int64_t heads, std::int64_t tokens, std::int64_t keys = -1) {
  AttentionSite site;
  site.name = "s";
  site.heads = heads;
  site.weights = at::zeros({1}).expand({1, heads, tokens, keys < 0 ? tokens : keys});
  return site;
}

std::string decode_base64(const std::string& text) {
  std::string out;
  unsigned value = 0;
  int bits = 0;
  for (char c : text) {
    const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char* at = std::strchr(digits, c);
    if (c == '=' || !at) continue;
    value = value << 6 | static_cast<unsigned>(at - digits);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>(value >> bits & 0xff);
    }
  }
  return out;
}

// The text of `<script ... id="ID">` in a page.
std::string script_text(const std::string& page, const std::string& id) {
  const std::size_t open = page.find("id=\"" + id + "\">");
  EXPECT_NE(open, std::string::npos) << id;
  if (open == std::string::npos) return {};
  const std::size_t start = page.find('>', open) + 1;
  return page.substr(start, page.find("</script>", start) - start);
}

TEST(PageText, Base64IsRfc4648s) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [in, out] : vectors) EXPECT_EQ(base64(in), out) << in;
  const std::string bytes("\x00\xff\x10\x80", 4);
  EXPECT_EQ(decode_base64(base64(bytes)), bytes);
}

TEST(PageText, JsonInAScriptCannotCloseItOrBreakALine) {
  const nlohmann::json value = {"</script><script>alert(1)</script>", "<!--", "a\u2028b\u2029c", "it's \"q\" `x` & y",
                                std::string("bad \xff\xfe utf-8")};
  const std::string text = script_json(value);
  for (const char* never : {"<", ">", "&", "\u2028", "\u2029", "\xff"}) {
    EXPECT_EQ(text.find(never), std::string::npos) << never;
  }
  for (unsigned char c : text) EXPECT_LT(c, 0x80);
  const nlohmann::json back = nlohmann::json::parse(text);
  EXPECT_EQ(back[0], value[0]);
  EXPECT_EQ(back[2], value[2]);
  EXPECT_EQ(back[3], value[3]);
  EXPECT_EQ(back[4], "bad \xef\xbf\xbd\xef\xbf\xbd utf-8");  // each bad byte a U+FFFD
  EXPECT_EQ(html_text("<a href='x'>\"&\""), "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;");
}

TEST(PagePlan, ExactThenSixteenThenEightBitsThenBlocks) {
  const std::vector<AttentionSite> sites = {shaped(4, 100), shaped(4, 50, 30)};
  const double cells = 4 * 100 * 100 + 4 * 50 * 30;
  PagePlan plan = plan_page(sites, cells * 4 * 4 / 3 + 8);
  EXPECT_EQ(plan.precision, PagePrecision::kFloat32);
  EXPECT_EQ(plan.blocks, (std::vector<std::int64_t>{1, 1}));
  plan = plan_page(sites, cells * 4 * 4 / 3 - 100);
  EXPECT_EQ(plan.precision, PagePrecision::kUint16);
  plan = plan_page(sites, cells * 2 * 4 / 3 - 100);
  EXPECT_EQ(plan.precision, PagePrecision::kUint8);
  EXPECT_EQ(plan.blocks, (std::vector<std::int64_t>{1, 1}));
  // Below that the longest maps are averaged in blocks, the short ones kept.
  plan = plan_page(sites, 20000);
  EXPECT_EQ(plan.precision, PagePrecision::kUint8);
  EXPECT_GT(plan.blocks[0], 1);
  EXPECT_LE(plan.blocks[1], plan.blocks[0]);
  EXPECT_LE(static_cast<double>(plan.bytes), 20000);
  // The longest side that fits: one more would not.
  EXPECT_THROW(plan_page(sites, 100), Error);
}

TEST(PagePlan, TheDefaultBudgetHolds144HeadsOf512TokensWithRoomToSpare) {
  std::vector<AttentionSite> sites;
  for (int layer = 0; layer < 12; ++layer) sites.push_back(shaped(12, 512));
  const PagePlan plan = plan_page(sites, 64e6 - 2e6);  // less the page's code and thumbnails
  EXPECT_EQ(plan.precision, PagePrecision::kUint8);
  EXPECT_EQ(plan.blocks, std::vector<std::int64_t>(12, 1));
  // 2048 tokens: the same budget, in blocks of 4.
  sites.clear();
  for (int layer = 0; layer < 12; ++layer) sites.push_back(shaped(12, 2048));
  const PagePlan reduced = plan_page(sites, 64e6 - 2e6);
  EXPECT_EQ(reduced.blocks, std::vector<std::int64_t>(12, 4));
}

struct Page {
  nlohmann::json data;
  std::string html;
};

Page page_of(const std::vector<AttentionSite>& sites, const std::vector<std::string>& tokens, double budget = 64e6) {
  AttentionPageOptions options;
  options.model = "dir/model's \"file\".pt";
  options.tokens = tokens;
  options.budget_bytes = budget;
  Page page;
  page.html = attention_page(sites, options).content;
  page.data = nlohmann::json::parse(script_text(page.html, "pevis-data"));
  return page;
}

TEST(AttentionPage, HoldsEveryWeightExactlyWhenItFits) {
  AttentionSite site;
  site.name = "layers.0.attn";
  site.heads = 2;
  site.batch = 2;
  site.weights = at::rand({2, 2, 3, 4});
  site.weights[0][1][0][2] = 0.0f;  // a masked key
  const Page page = page_of({site}, {"a", "b", "c"});
  EXPECT_EQ(page.data["precision"], "float32");
  const auto& s = page.data["sites"][0];
  EXPECT_EQ(s["name"], "layers.0.attn");
  EXPECT_EQ(s["query_tokens"], true);
  EXPECT_EQ(s["key_tokens"], false);  // 4 keys, 3 tokens: the keys by index
  EXPECT_EQ(s["block"], 1);
  const std::string bytes = decode_base64(script_text(page.html, s["weights"]));
  ASSERT_EQ(bytes.size(), 2u * 2 * 3 * 4 * 4);
  const at::Tensor w = site.weights.contiguous();
  EXPECT_EQ(std::memcmp(bytes.data(), w.data_ptr<float>(), bytes.size()), 0);
  // Thumbnails of both inputs, every head.
  const std::string thumbs = decode_base64(script_text(page.html, s["thumbs"]));
  EXPECT_EQ(thumbs.size(), 2u * 2 * 3 * 4);
  EXPECT_EQ(static_cast<unsigned char>(thumbs[1 * 12 + 2]), 254) << "the masked key";
  EXPECT_NE(page.html.find("<title>pevis attention: model&#39;s &quot;file&quot;.pt</title>"), std::string::npos);
}

TEST(AttentionPage, EightBitCodesKeepMaskedAndMissingApartAndStayWithinHalfAUnit) {
  AttentionSite site;
  site.name = "s";
  site.heads = 1;
  // Weights above 0 (at::rand can give exactly 0, which is rightly a masked
  // key's code: once in about 400 runs), but for the three set below.
  site.weights = at::rand({1, 1, 200, 200}).mul(0.998).add(0.001);
  site.weights[0][0][0][1] = 0.0f;
  site.weights[0][0][0][2] = NAN;
  site.weights[0][0][0][3] = 1e-9f;  // above 0: never the code of a masked key
  // About 50 kB of the page are its code: 8 bits fit, 16 do not.
  const Page page = page_of({site}, {}, /*budget=*/120000);
  ASSERT_EQ(page.data["precision"], "uint8");
  const auto& s = page.data["sites"][0];
  const double unit = s["unit"];
  const std::string codes = decode_base64(script_text(page.html, s["weights"]));
  ASSERT_EQ(codes.size(), 40000u);
  const at::Tensor w = site.weights.contiguous();
  const float* v = w.data_ptr<float>();
  EXPECT_EQ(static_cast<unsigned char>(codes[1]), 0);
  EXPECT_EQ(static_cast<unsigned char>(codes[2]), 255);
  EXPECT_EQ(static_cast<unsigned char>(codes[3]), 1);
  for (std::size_t i = 4; i < codes.size(); ++i) {
    const auto code = static_cast<unsigned char>(codes[i]);
    ASSERT_GE(code, 1) << i << ": " << v[i];
    EXPECT_NEAR(code * unit, v[i], code == 1 ? 1.5 * unit : unit / 2 + 1e-9) << i;
  }
}

TEST(AttentionPage, TokenTextIsDataThatCannotEndItsScript) {
  AttentionSite site;
  site.name = "s";
  site.heads = 1;
  site.weights = at::rand({1, 1, 3, 3});
  const std::vector<std::string> tokens = {"</script><script>alert(1)</script>", "<img src=x onerror=alert(2)>",
                                           "a\u2028b"};
  const Page page = page_of({site}, tokens);
  EXPECT_EQ(page.data["tokens"], tokens);
  EXPECT_EQ(page.html.find("alert(1)</script>"), std::string::npos);
  EXPECT_EQ(page.html.find("<img"), std::string::npos);
  // Only pevis's own script may run, by its hash.
  EXPECT_NE(page.html.find("script-src &#39;sha256-"), std::string::npos);
  EXPECT_NE(page.html.find("default-src &#39;none&#39;"), std::string::npos);
}

}  // namespace
}  // namespace pevis
