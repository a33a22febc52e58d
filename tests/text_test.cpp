// tokenizer.json read as Hugging Face's Rust library reads it (text/): the
// Oracle cases compare every id list (with and without the special tokens)
// and every offset with the Rust library's, on real tokenizer.json files
// (tests/tokenizers/run.sh makes the references with node and runs them);
// the others check what is refused and how, without node.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "pevis/base/error.h"
#include "pevis/text/tokenizer.h"
#include "test_util.h"

namespace pevis {
namespace {

namespace fs = std::filesystem;

TEST(Oracle, EveryIdAndOffsetEqualsTheRustLibrarys) {
  const char* refs = std::getenv("PEVIS_TOKENIZER_REFS");
  if (!refs) GTEST_SKIP() << "run by tests/tokenizers/run.sh, which makes the references";
  std::ifstream file(refs);
  const nlohmann::json all = nlohmann::json::parse(file);
  std::map<std::string, text::Tokenizer> tokenizers;
  for (const auto& [name, path] : all["tokenizers"].items()) {
    const auto started = std::chrono::steady_clock::now();
    tokenizers.emplace(name, text::Tokenizer::load(path.get<std::string>()));
    std::printf("%s: loaded in %.2f s\n", name.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  int cases = 0, equal = 0;
  for (const auto& c : all["cases"]) {
    const std::string name = c["tokenizer"], text = c["text"];
    const text::Tokenizer& t = tokenizers.at(name);
    const text::Encoding full = t.encode(text, true), plain = t.encode(text, false);
    std::vector<std::vector<std::size_t>> offsets;
    const text::CharacterOffsets characters(text);
    for (const auto& token : full.tokens) {
      const auto [b, e] = characters(token.begin, token.end);
      offsets.push_back({b, e});
    }
    // Decoded from the Rust library's ids, so that a wrong id is not counted twice.
    const std::string decoded = t.decode(c["ids"].get<std::vector<std::int64_t>>(), false);
    const bool same = full.ids() == c["ids"].get<std::vector<std::int64_t>>() &&
                      plain.ids() == c["plain"].get<std::vector<std::int64_t>>() &&
                      offsets == c["offsets"].get<std::vector<std::vector<std::size_t>>>() &&
                      decoded == c["decoded"].get<std::string>();
    EXPECT_TRUE(same) << name << " on " << nlohmann::json(text).dump() << "\n  rust:  " << c["ids"].dump()
                      << "\n  pevis: " << nlohmann::json(full.ids()).dump() << "\n  rust plain:  " << c["plain"].dump()
                      << "\n  pevis plain: " << nlohmann::json(plain.ids()).dump() << "\n  rust offsets:  " << c["offsets"].dump()
                      << "\n  pevis offsets: " << nlohmann::json(offsets).dump() << "\n  rust decoded:  " << c["decoded"].dump()
                      << "\n  pevis decoded: "
                      << nlohmann::json(decoded).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    ++cases;
    equal += same;
  }
  std::printf("%d of %d encodings equal the Rust library's\n", equal, cases);
  EXPECT_GE(cases, 17 * 23);  // every tokenizer of oracle.js, every string of strings.json
}

std::string tiny(const std::function<void(nlohmann::json&)>& change = nullptr) { return test::tiny_tokenizer(change); }

// A Unigram vocabulary: [[piece, score], ...].
nlohmann::json scored(const std::vector<std::pair<std::string, double>>& pieces) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [piece, score] : pieces) list.push_back(nlohmann::json::array({piece, score}));
  return list;
}

text::Tokenizer load(const test::TempDir& dir, const std::string& json) {
  test::write_file(dir / "tokenizer.json", json);
  return text::Tokenizer::load(dir.path().string());
}

void expect_refused(const test::TempDir& dir, const std::string& json, const std::string& why) {
  try {
    load(dir, json);
    ADD_FAILURE() << "loaded: " << why;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput) << e.what();
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
}

TEST(Tokenizer, MergesByRankAndAddsTheTemplatesSpecialTokens) {
  test::TempDir dir;
  const text::Tokenizer t = load(dir, tiny());
  EXPECT_EQ(t.encode("ab ab", true).ids(), (std::vector<std::int64_t>{6, 2, 4}));
  EXPECT_EQ(t.encode("ab ab", false).ids(), (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(t.encode("<s>ab", false).ids(), (std::vector<std::int64_t>{6, 2}));  // an added token in the text
  const auto e = t.encode(" ab", false);
  ASSERT_EQ(e.tokens.size(), 1u);
  EXPECT_EQ(t.label(e.tokens[0]), "\xe2\x90\xa3" "ab");  // ␣ab: the space made visible
  EXPECT_EQ(e.tokens[0].begin, 0u);
  EXPECT_EQ(e.tokens[0].end, 3u);
}

TEST(Tokenizer, WhatItDoesNotRunIsRefusedByName) {
  test::TempDir dir;
  expect_refused(dir, tiny([](nlohmann::json& t) { t["normalizer"] = {{"type", "Precompiled"}}; }),
                 "the normalizer 'Precompiled' is not implemented");
  expect_refused(dir, tiny([](nlohmann::json& t) { t["pre_tokenizer"] = {{"type", "UnicodeScripts"}}; }),
                 "the pre-tokenizer 'UnicodeScripts' is not implemented");
  expect_refused(dir, tiny([](nlohmann::json& t) { t["model"]["type"] = "WordLevel"; }), "the model 'WordLevel' is not implemented");
  expect_refused(dir, tiny([](nlohmann::json& t) { t["decoder"] = {{"type", "CTC"}}; }), "the decoder 'CTC' is not implemented");
  expect_refused(dir,
                 tiny([](nlohmann::json& t) {
                   t["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Sideways"}};
                 }),
                 "the Split behavior 'Sideways' is not implemented");
  expect_refused(dir, tiny([](nlohmann::json& t) { t["model"] = {{"type", "Unigram"}, {"unk_id", 3}, {"vocab", scored({{"a", -1.0}})}}; }),
                 "unk_id is not a piece");
  expect_refused(dir, tiny([](nlohmann::json& t) { t["post_processor"] = {{"type", "Magic"}}; }),
                 "the post-processor 'Magic' is not implemented");
  expect_refused(dir, tiny([](nlohmann::json& t) { t["model"]["vocab"]["c"] = 1; }), "gives id 1 to two pieces");
  expect_refused(dir, tiny([](nlohmann::json& t) { t["model"]["merges"].push_back("a z"); }),
                 "names a piece the vocabulary lacks");
  expect_refused(dir, tiny([](nlohmann::json& t) { t["model"]["dropout"] = 0.1; }), "dropout");
  expect_refused(dir,
                 tiny([](nlohmann::json& t) {
                   t["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
                 }),
                 "is not a regular expression pevis reads");
  expect_refused(dir, std::string(100000, '[') + std::string(100000, ']'), "nests deeper");
  expect_refused(dir, "{\"model\": ", "not valid JSON");
  expect_refused(dir, "[1, 2]", "not a tokenizer.json");
}

TEST(Tokenizer, ARegexThatBacktracksForEverIsStopped) {
  test::TempDir dir;
  const text::Tokenizer t = load(dir, tiny([](nlohmann::json& j) {
    j["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers",
                           {{{"type", "Split"}, {"pattern", {{"Regex", "(a|aa)+$"}}}, {"behavior", "Isolated"}},
                            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  }));
  const auto started = std::chrono::steady_clock::now();
  try {
    t.encode(std::string(60, 'a') + "b", false);
    ADD_FAILURE() << "a pattern that backtracks exponentially finished";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find("backtracks without end"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), 30);
}

TEST(Tokenizer, TextThatIsNotUtf8IsRefused) {
  test::TempDir dir;
  const text::Tokenizer t = load(dir, tiny());
  try {
    t.encode("ab\xff", false);
    ADD_FAILURE() << "encoded invalid UTF-8";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("byte 2 is not UTF-8"), std::string::npos) << e.what();
  }
}

TEST(Tokenizer, LabelsShowBytesAndHiddenMarksVisibly) {
  test::TempDir dir;
  const text::Tokenizer t = load(dir, tiny());
  // A piece of one byte of a character (\xc3 of é), and a right-to-left override.
  EXPECT_EQ(t.label({0, "\xc3\x83", 0, 1, false}), "<0xC3>");
  EXPECT_EQ(t.label({0, "x\xe2\x80\xaey", 0, 5, true}), "x\xe2\x9f\xa8U+202E\xe2\x9f\xa9y");
  EXPECT_EQ(t.label({0, "\xc4\x8a", 0, 1, false}), "\xe2\x86\xb5");  // a newline: ↵
}

// A character split across tokens is shown whole in each, with its part;
// bytes that make no character stay bytes.
TEST(Tokenizer, ACharacterSplitAcrossTokensIsShownWhole) {
  test::TempDir dir;
  const text::Tokenizer fallback = load(dir, tiny([](nlohmann::json& j) { j["decoder"] = {{"type", "ByteFallback"}}; }));
  const auto token = [](const std::string& piece, bool special = false) { return text::Token{0, piece, 0, 0, special}; };
  EXPECT_EQ(fallback.labels({token("<0xE2>"), token("<0x98>"), token("<0x95>"), token("a")}),
            (std::vector<std::string>{"\xe2\x98\x95(1/3)", "\xe2\x98\x95(2/3)", "\xe2\x98\x95(3/3)", "a"}));
  EXPECT_EQ(fallback.labels({token("<0xE2>"), token("<0x98>"), token("<s>", true), token("<0x95>")}),
            (std::vector<std::string>{"<0xE2>", "<0x98>", "<s>", "<0x95>"}));  // a special token breaks the run
  const text::Tokenizer raw = load(dir, tiny([](nlohmann::json& j) { j["decoder"] = nullptr; }));
  EXPECT_EQ(raw.labels({token("a \xe2\x98"), token("\x95" "b")}),
            (std::vector<std::string>{"a\xe2\x90\xa3\xe2\x98\x95(1/2)", "\xe2\x98\x95(2/2)b"}));
  EXPECT_EQ(raw.label(token("a \xe2\x98")), "a\xe2\x90\xa3<0xE2><0x98>");  // alone, its bytes
}

TEST(Tokenizer, DecodesAsTheDecodersSay) {
  test::TempDir dir;
  const text::Tokenizer t = load(dir, tiny());
  EXPECT_EQ(t.decode({6, 2, 4}), "<s>ab ab");
  EXPECT_EQ(t.decode({6, 2, 4}, true), "ab ab");
  EXPECT_EQ(t.decode({2, 99, 5}), "ab a");  // an id of no piece is left out
  // Byte-level pieces that are not UTF-8 together: one U+FFFD per broken run.
  const text::Tokenizer bytes = load(dir, tiny([](nlohmann::json& j) {
    j["model"]["vocab"]["\xc3\x83"] = 7;  // the byte 0xC3
    j["decoder"] = {{"type", "Sequence"}, {"decoders", {{{"type", "ByteLevel"}}, {{"type", "Strip"}, {"content", "a"}, {"start", 1}, {"stop", 0}}}}};
  }));
  // (Strip would take a leading 'a' from each token: the one token left starts with U+FFFD.)
  EXPECT_EQ(bytes.decode({7, 0, 2}), "\xef\xbf\xbd" "aab");
}

// Unigram: the split whose scores sum highest; a character no piece covers
// is unknown, and unknown characters side by side are one token.
TEST(Tokenizer, UnigramTakesTheBestSplit) {
  test::TempDir dir;
  const auto unigram = [&](bool byte_fallback) {
    return load(dir, tiny([&](nlohmann::json& j) {
      std::vector<std::pair<std::string, double>> pieces = {{"<unk>", 0.0}, {"a", -1.0}, {"b", -1.0},
                                                            {"ab", -3.0},   {"abc", -1.5}, {"c", -1.0}};
      if (byte_fallback) pieces.emplace_back("<0x78>", -5.0);  // x
      const nlohmann::json vocab = scored(pieces);
      j["model"] = {{"type", "Unigram"}, {"unk_id", 0}, {"vocab", vocab}, {"byte_fallback", byte_fallback}};
      j["pre_tokenizer"] = nullptr;
      j["decoder"] = nullptr;
      j["added_tokens"] = nlohmann::json::array();
      j["post_processor"] = nullptr;
    }));
  };
  const text::Tokenizer t = unigram(false);
  EXPECT_EQ(t.encode("ab", false).ids(), (std::vector<std::int64_t>{1, 2}));  // -2 beats ab's -3
  EXPECT_EQ(t.encode("abc", false).ids(), (std::vector<std::int64_t>{4}));    // -1.5 beats -3
  const auto e = t.encode("axyb", false);                                     // x and y unknown: one token
  ASSERT_EQ(e.ids(), (std::vector<std::int64_t>{1, 0, 2}));
  EXPECT_EQ(e.tokens[1].piece, "<unk>");
  EXPECT_EQ(e.tokens[1].begin, 1u);
  EXPECT_EQ(e.tokens[1].end, 3u);
  // With byte fallback a run of unknown characters is its bytes, where the vocabulary has them all.
  const text::Tokenizer b = unigram(true);
  EXPECT_EQ(b.encode("axx", false).ids(), (std::vector<std::int64_t>{1, 6, 6}));
  EXPECT_EQ(b.encode("axy", false).ids(), (std::vector<std::int64_t>{1, 0}));
}

// Metaspace: spaces become ▁, one goes before the first word ("first": only
// at the start of the input), and each ▁ starts a piece where `split`.
TEST(Tokenizer, MetaspaceMarksSpaces) {
  test::TempDir dir;
  const auto with = [&](const std::string& scheme, bool split) {
    return load(dir, tiny([&](nlohmann::json& j) {
      j["model"] = {{"type", "Unigram"},
                    {"unk_id", 0},
                    {"vocab", scored({{"<unk>", 0.0}, {"\xe2\x96\x81", -1.0}, {"\xe2\x96\x81" "a", -1.0}, {"a", -1.0}, {"<s>", 0.0}})}};
      j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xe2\x96\x81"}, {"prepend_scheme", scheme}, {"split", split}};
      j["decoder"] = {{"type", "Metaspace"}, {"replacement", "\xe2\x96\x81"}, {"prepend_scheme", scheme}, {"split", split}};
      j["added_tokens"] = {{{"id", 4}, {"content", "<s>"}, {"special", true}, {"normalized", false}}};
      j["post_processor"] = nullptr;
    }));
  };
  const text::Tokenizer always = with("always", true), first = with("first", true), never = with("never", true);
  EXPECT_EQ(always.encode("a  a", false).ids(), (std::vector<std::int64_t>{2, 1, 2}));
  EXPECT_EQ(never.encode("a  a", false).ids(), (std::vector<std::int64_t>{3, 1, 2}));
  EXPECT_EQ(always.encode("<s>a", false).ids(), (std::vector<std::int64_t>{4, 2}));
  EXPECT_EQ(first.encode("<s>a", false).ids(), (std::vector<std::int64_t>{4, 3}));  // not at the start of the input
  EXPECT_EQ(always.decode({2, 1, 2}), "a  a");  // the first token's ▁ is dropped
  EXPECT_EQ(never.decode({3, 1, 2}), "a  a");
}

TEST(Tokenizer, NormalizersStripReplaceAndDropMarks) {
  test::TempDir dir;
  const text::Tokenizer t = load(dir, tiny([](nlohmann::json& j) {
    j["normalizer"] = {{"type", "Sequence"},
                       {"normalizers",
                        {{{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}},
                         {{"type", "Replace"}, {"pattern", {{"Regex", "b+"}}}, {"content", "b"}},
                         {{"type", "StripAccents"}}}}};
  }));
  // " a\u0301bbb " -> "abbb" (no spaces, the accent dropped) -> "ab" (b+ to b)
  const auto e = t.encode(" a\xcc\x81" "bbb ", false);
  ASSERT_EQ(e.ids(), (std::vector<std::int64_t>{2}));
  EXPECT_EQ(e.tokens[0].begin, 1u);
  EXPECT_EQ(e.tokens[0].end, 7u);  // through the last b the replacement came from
}

TEST(Tokenizer, TheCommandLine) {
  test::TempDir dir;
  test::write_file(dir / "tokenizer.json", tiny());
  auto r = test::run(PEVIS_BINARY, {"tokenize", "tokenizer.json", "--text", "ab ab", "--json"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out),
            nlohmann::json::parse(R"({"ids":[6,2,4],"tokens":["<s>","ab","\u0120ab"],"offsets":[[0,0],[0,2],[2,5]]})"));
  r = test::run(PEVIS_BINARY, {"tokenize", ".", "--text", "ab ab", "--no-special"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "     0        2  ab\n     1        4  \xe2\x90\xa3" "ab\n2 tokens\n");
  r = test::run(PEVIS_BINARY, {"tokenize", "tokenizer.json"}, dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
  r = test::run(PEVIS_BINARY, {"tokenize", "missing.json", "--text", "x"}, dir.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
}

}  // namespace
}  // namespace pevis
