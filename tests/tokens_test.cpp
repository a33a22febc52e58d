#include "pevis/io/tokens.h"

#include <gtest/gtest.h>

#include "pevis/base/error.h"

namespace pevis {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

TEST(Tokens, SplitsOnAnyWhitespaceAndKeepsUtf8) {
  EXPECT_EQ(split_tokens("the cat\n sat\ton\r\nthe  mat\n", "t"),
            (std::vector<std::string>{"the", "cat", "sat", "on", "the", "mat"}));
  EXPECT_EQ(split_tokens("naïve 注意 ✓", "t"), (std::vector<std::string>{"naïve", "注意", "✓"}));
  EXPECT_EQ(split_tokens("it's `rm` \"x\" $(y)", "t"), (std::vector<std::string>{"it's", "`rm`", "\"x\"", "$(y)"}));
}

TEST(Tokens, RefusesBadText) {
  EXPECT_NE(error_of([] { split_tokens("ok \xff bad", "seq.txt"); }).find("offset 3"), std::string::npos);
  EXPECT_NE(error_of([] { split_tokens("\xc0\xaf", "seq.txt"); }).find("UTF-8"), std::string::npos);  // overlong
  EXPECT_NE(error_of([] { split_tokens(" \n\t ", "seq.txt"); }).find("no tokens"), std::string::npos);
  std::string many;
  for (std::size_t i = 0; i <= kMaxTokens; ++i) many += "a ";
  EXPECT_NE(error_of([&] { split_tokens(many, "seq.txt"); }).find("more than 8192"), std::string::npos);
}

TEST(Vocab, OneTokenPerLine) {
  EXPECT_EQ(parse_vocab("<pad>\r\nthe\ncat\n", "v"), (std::vector<std::string>{"<pad>", "the", "cat"}));
  EXPECT_NE(error_of([] { parse_vocab("a\nb\na\n", "vocab.txt"); }).find("lines 1 and 3"), std::string::npos);
  EXPECT_NE(error_of([] { parse_vocab("", "vocab.txt"); }).find("empty"), std::string::npos);
}

TEST(MapTokens, IdsWordsAndUnknowns) {
  const std::vector<std::string> vocab = {"<unk>", "the", "cat", "sat"};
  auto seq = map_tokens({"2", "0", "3"}, nullptr, std::nullopt, "s");
  EXPECT_EQ(seq.ids, (std::vector<std::int64_t>{2, 0, 3}));
  EXPECT_EQ(seq.labels, (std::vector<std::string>{"2", "0", "3"}));
  seq = map_tokens({"2", "0", "3"}, &vocab, std::nullopt, "s");
  EXPECT_EQ(seq.labels, (std::vector<std::string>{"cat", "<unk>", "sat"}));
  EXPECT_NE(error_of([&] { map_tokens({"4"}, &vocab, std::nullopt, "s"); }).find("past the end"), std::string::npos);
  seq = map_tokens({"the", "cat", "sat"}, &vocab, std::nullopt, "s");
  EXPECT_EQ(seq.ids, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_NE(error_of([&] { map_tokens({"the", "dog"}, nullptr, std::nullopt, "s"); }).find("--vocab"), std::string::npos);
  const std::string unknown = error_of([&] { map_tokens({"the", "dog", "ran", "dog"}, &vocab, std::nullopt, "s"); });
  EXPECT_NE(unknown.find("2 tokens are not in the vocabulary: 'dog', 'ran'"), std::string::npos) << unknown;
  seq = map_tokens({"the", "dog"}, &vocab, std::string("<unk>"), "s");
  EXPECT_EQ(seq.ids, (std::vector<std::int64_t>{1, 0}));
  EXPECT_EQ(seq.labels, (std::vector<std::string>{"the", "dog"}));
  EXPECT_NE(error_of([&] { map_tokens({"dog"}, &vocab, std::string("<oov>"), "s"); }).find("--unk"), std::string::npos);
}

}  // namespace
}  // namespace pevis
