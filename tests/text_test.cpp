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
    const bool same = full.ids() == c["ids"].get<std::vector<std::int64_t>>() &&
                      plain.ids() == c["plain"].get<std::vector<std::int64_t>>() &&
                      offsets == c["offsets"].get<std::vector<std::vector<std::size_t>>>();
    EXPECT_TRUE(same) << name << " on " << nlohmann::json(text).dump() << "\n  rust:  " << c["ids"].dump()
                      << "\n  pevis: " << nlohmann::json(full.ids()).dump() << "\n  rust offsets:  " << c["offsets"].dump()
                      << "\n  pevis offsets: " << nlohmann::json(offsets).dump();
    ++cases;
    equal += same;
  }
  std::printf("%d of %d encodings equal the Rust library's\n", equal, cases);
  EXPECT_GE(cases, 120);
}

// A tokenizer.json of a tiny byte-level BPE, with `change` applied.
std::string tiny(const std::function<void(nlohmann::json&)>& change = nullptr) {
  nlohmann::json t = {
      {"version", "1.0"},
      {"added_tokens", {{{"id", 6}, {"content", "<s>"}, {"special", true}, {"normalized", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {6}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}, {"\xc4\xa0", 3}, {"\xc4\xa0" "ab", 4}, {"\xc4\xa0" "a", 5}}},
        {"merges", {"\xc4\xa0 a", "\xc4\xa0" "a b", "a b"}}}},
  };
  if (change) change(t);
  return t.dump();
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
  expect_refused(dir, tiny([](nlohmann::json& t) { t["pre_tokenizer"] = {{"type", "Metaspace"}}; }),
                 "the pre-tokenizer 'Metaspace' is not implemented");
  expect_refused(dir, tiny([](nlohmann::json& t) { t["model"]["type"] = "Unigram"; }), "the model 'Unigram' is not implemented");
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
