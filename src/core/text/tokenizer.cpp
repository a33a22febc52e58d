// A tokenizer.json, loaded once into its components (pipeline.h), and the
// encoding of a text as the Rust library runs it: the added tokens the
// normalizer does not see are cut out of the input first; each remaining
// part is normalized, cut by the added tokens it does see, pre-tokenized,
// and each piece given to the model; the post-processor then adds its
// special tokens.
#include "pevis/text/tokenizer.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <mutex>
#include <unordered_set>

#include "pevis/base/archive.h"
#include "pevis/base/error.h"
#include "pevis/base/json_depth.h"
#include "pevis/base/utf8.h"
#include "pipeline.h"

namespace pevis::text {

struct AddedToken {
  std::int64_t id = 0;
  std::string content;
  bool special = false, normalized = false, lstrip = false, rstrip = false, single_word = false;
};

// Added tokens to look for in a text, by their first byte, longest first
// (Gemma 3 has 6415): made once, when the file is read.
struct AddedIndex {
  std::vector<const AddedToken*> tokens;
  std::array<std::vector<std::size_t>, 256> by_first;

  void add(const AddedToken* token) { tokens.push_back(token); }
  void finish() {
    for (std::size_t t = 0; t < tokens.size(); ++t) by_first[static_cast<unsigned char>(tokens[t]->content[0])].push_back(t);
    for (auto& list : by_first) {
      std::stable_sort(list.begin(), list.end(),
                       [&](std::size_t a, std::size_t b) { return tokens[a]->content.size() > tokens[b]->content.size(); });
    }
  }
};

struct Tokenizer::Impl {
  std::string path;
  Normalizer normalizer;  // null: none
  PreTokenizer pre_tokenizer;
  Model model;
  PostProcessor post;
  Decoder decoder;
  std::unordered_map<std::string, std::int64_t> vocabulary;
  std::vector<AddedToken> added;
  AddedIndex raw, normalized;  // the added tokens the normalizer does not see, and those it does
  std::size_t size = 0;
  // The piece of each id, and the special tokens' contents, made at the first decode.
  mutable std::once_flag pieces_made;
  mutable std::unordered_map<std::int64_t, std::string> pieces;
  mutable std::unordered_set<std::string> specials;
};

namespace {

constexpr std::uint64_t kMostBytes = 512u << 20;  // far beyond any tokenizer.json (Gemma 3's: 33 MB)

bool is_word_byte(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }
bool is_space_byte(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// The added tokens of `index` found in `text`, leftmost-longest, with
// their flags applied: (begin, end, index in `index.tokens`).
std::vector<std::tuple<std::size_t, std::size_t, std::size_t>> find_added(const std::string& text, const AddedIndex& index) {
  std::vector<std::tuple<std::size_t, std::size_t, std::size_t>> found;
  const auto& tokens = index.tokens;
  const auto& by_first = index.by_first;
  if (tokens.empty()) return found;
  std::size_t searched = 0;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t best = tokens.size(), best_length = 0;
    for (const std::size_t t : by_first[static_cast<unsigned char>(text[i])]) {
      const std::string& c = tokens[t]->content;
      if (text.compare(i, c.size(), c) == 0) {
        best = t;
        best_length = c.size();
        break;
      }
    }
    if (best == tokens.size()) {
      i += utf8_length(static_cast<unsigned char>(text[i]));
      continue;
    }
    const AddedToken& token = *tokens[best];
    std::size_t begin = i, end = i + best_length;
    i = end;
    if (token.single_word) {
      const bool left = begin == 0 || !is_word_byte(static_cast<unsigned char>(text[begin - 1]));
      const bool right = end == text.size() || !is_word_byte(static_cast<unsigned char>(text[end]));
      if (!left || !right) continue;
    }
    if (token.lstrip) {
      while (begin > searched && is_space_byte(static_cast<unsigned char>(text[begin - 1]))) --begin;
    }
    if (token.rstrip) {
      while (end < text.size() && is_space_byte(static_cast<unsigned char>(text[end]))) ++end;
      i = end;
    }
    found.emplace_back(begin, end, best);
    searched = end;
  }
  return found;
}

}  // namespace

std::vector<std::int64_t> Encoding::ids() const {
  std::vector<std::int64_t> out;
  for (const auto& t : tokens) out.push_back(t.id);
  return out;
}

Tokenizer Tokenizer::load(const std::string& given) {
  std::string path = given;
  std::error_code error;
  if (std::filesystem::is_directory(given, error)) path = (std::filesystem::path(given) / "tokenizer.json").string();
  const auto file = open_file(path);
  if (file->size() > kMostBytes) throw bad_input(path, "larger than any tokenizer.json (512 MB)", "check the file");
  return parse(file->read_string(0, file->size()), path);
}

Tokenizer Tokenizer::parse(const std::string& text, const std::string& path) {
  if (text.size() > kMostBytes) throw bad_input(path, "larger than any tokenizer.json (512 MB)", "check the file");
  check_json_depth(text, path);
  nlohmann::json spec;
  try {
    spec = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    throw bad_input(path, "not valid JSON", "the tokenizer.json is damaged: download it again");
  }
  if (!spec.is_object() || !spec.contains("model")) {
    throw bad_input(path, "not a tokenizer.json (no model)", "give the tokenizer.json of a Hugging Face folder");
  }
  auto impl = std::make_shared<Impl>();
  impl->path = path;
  try {
    if (spec.contains("normalizer") && !spec["normalizer"].is_null()) {
      impl->normalizer = make_normalizer(spec["normalizer"], path);
    }
    if (spec.contains("pre_tokenizer") && !spec["pre_tokenizer"].is_null()) {
      impl->pre_tokenizer = make_pre_tokenizer(spec["pre_tokenizer"], path);
    }
    impl->model = make_model(spec["model"], path, impl->vocabulary);
    impl->post = make_post_processor(spec.contains("post_processor") ? spec["post_processor"] : nlohmann::json(), path,
                                     impl->vocabulary);
    impl->decoder = make_decoder(spec.contains("decoder") ? spec["decoder"] : nlohmann::json(), path);
    std::size_t largest = impl->vocabulary.size();
    for (const auto& [piece, id] : impl->vocabulary) largest = std::max(largest, static_cast<std::size_t>(id) + 1);
    if (spec.contains("added_tokens") && spec["added_tokens"].is_array()) {
      for (const auto& a : spec["added_tokens"]) {
        AddedToken t;
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || a["id"].get<std::int64_t>() < 0 ||
            !a.contains("content") || !a["content"].is_string() || a["content"].get<std::string>().empty()) {
          throw bad_input(path, "an added token without an id and a content", "the file is damaged");
        }
        t.id = a["id"].get<std::int64_t>();
        t.content = a["content"].get<std::string>();
        t.special = flag(a, "special", false, path);
        t.normalized = flag(a, "normalized", !t.special, path);
        t.lstrip = flag(a, "lstrip", false, path);
        t.rstrip = flag(a, "rstrip", false, path);
        t.single_word = flag(a, "single_word", false, path);
        const auto known = impl->vocabulary.find(t.content);
        if (known != impl->vocabulary.end() && known->second != t.id) {
          throw bad_input(path, "the added token '" + one_line(t.content) + "' has id " + std::to_string(t.id) +
                                    ", the vocabulary " + std::to_string(known->second),
                          "the file is damaged");
        }
        largest = std::max(largest, static_cast<std::size_t>(t.id) + 1);
        impl->added.push_back(t);
      }
    }
    impl->size = largest;
    for (const auto& a : impl->added) (a.normalized && impl->normalizer ? impl->normalized : impl->raw).add(&a);
    impl->raw.finish();
    impl->normalized.finish();
  } catch (const nlohmann::json::exception& e) {
    throw bad_input(path, std::string("a value of the wrong type: ") + first_line(e.what()), "the file is damaged");
  }
  Tokenizer tokenizer;
  tokenizer.impl_ = impl;
  return tokenizer;
}

Encoding Tokenizer::encode(std::string_view input, bool add_special) const {
  const Impl& t = *impl_;
  const std::string text(input);
  if (const auto bad = invalid_utf8(text); bad != std::string::npos) {
    throw bad_input("the text", "byte " + std::to_string(bad) + " is not UTF-8", "give UTF-8 text");
  }
  const auto added_token = [](const AddedToken& a, std::size_t b, std::size_t e) {
    return Token{a.id, a.content, b, e, a.special};
  };
  std::vector<Token> tokens;
  const auto part = [&](std::size_t begin, std::size_t end) {
    if (begin >= end) return;
    Span span = Span::of(text, begin, end);
    if (t.normalizer) span = t.normalizer(span);
    std::size_t at = 0;
    const auto words = [&](std::size_t b, std::size_t e) {
      if (b >= e) return;
      std::vector<Span> pieces = {span.part(b, e)};
      if (t.pre_tokenizer) pieces = t.pre_tokenizer(std::move(pieces));
      for (const auto& piece : pieces) {
        for (auto& token : t.model(piece)) tokens.push_back(std::move(token));
      }
    };
    for (const auto& [b, e, index] : find_added(span.text, t.normalized)) {
      words(at, b);
      const auto [first, last] = span.covered(b, e);
      tokens.push_back(added_token(*t.normalized.tokens[index], first, last));
      at = e;
    }
    words(at, span.text.size());
  };
  std::size_t at = 0;
  for (const auto& [b, e, index] : find_added(text, t.raw)) {
    part(at, b);
    tokens.push_back(added_token(*t.raw.tokens[index], b, e));
    at = e;
  }
  part(at, text.size());
  Encoding encoding;
  encoding.tokens = t.post(std::move(tokens), add_special);
  return encoding;
}

namespace {

// One character's bytes (or one byte that is not one) as a label shows them.
std::string visible(const std::string& bytes, std::size_t i, std::size_t n) {
  if (n == 0) return byte_piece(static_cast<unsigned char>(bytes[i]));
  std::uint32_t code = static_cast<unsigned char>(bytes[i]) & (n == 1 ? 0x7f : n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
  for (std::size_t k = 1; k < n; ++k) code = (code << 6) | (static_cast<unsigned char>(bytes[i + k]) & 0x3f);
  if (code == ' ') return "\xe2\x90\xa3";       // ␣
  if (code == '\n') return "\xe2\x86\xb5";      // ↵
  if (code == '\t') return "\xe2\x87\xa5";      // ⇥
  if (code < 0x20 || code == 0x7f || is_hidden_code_point(code)) {
    char mark[24];
    std::snprintf(mark, sizeof mark, "\xe2\x9f\xa8U+%04X\xe2\x9f\xa9", code);  // ⟨U+202E⟩
    return mark;
  }
  return bytes.substr(i, n);
}

}  // namespace

std::string Tokenizer::label(const Token& token) const { return labels({token})[0]; }

std::vector<std::string> Tokenizer::labels(const std::vector<Token>& tokens) const {
  std::vector<std::string> out(tokens.size());
  // Runs of tokens that are not special, their bytes joined: a character
  // split across tokens is shown whole in each, marked with its part.
  // A special token is a run of its own, shown as it is written.
  for (std::size_t first = 0; first < tokens.size();) {
    std::size_t last = first;
    std::string bytes;
    std::vector<std::size_t> owner;  // the token of each byte
    do {
      const Token& t = tokens[last];
      const std::string b = t.special ? t.piece : impl_->decoder.piece(t.piece);
      bytes += b;
      owner.insert(owner.end(), b.size(), last);
      ++last;
    } while (!tokens[first].special && last < tokens.size() && !tokens[last].special);
    for (std::size_t i = 0; i < bytes.size();) {
      const std::size_t n = utf8_sequence_length(bytes, i);
      const std::string shown = visible(bytes, i, n);
      const std::size_t from = owner[i], to = owner[i + (n ? n : 1) - 1];
      if (from == to) {
        out[from] += shown;
      } else {
        for (std::size_t k = from; k <= to; ++k) {
          out[k] += shown + "(" + std::to_string(k - from + 1) + "/" + std::to_string(to - from + 1) + ")";
        }
      }
      i += n ? n : 1;
    }
    first = last;
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<std::int64_t>& ids, bool skip_special) const {
  const Impl& t = *impl_;
  std::call_once(t.pieces_made, [&t] {
    for (const auto& [piece, id] : t.vocabulary) t.pieces.emplace(id, piece);
    for (const auto& a : t.added) {
      t.pieces[a.id] = a.content;  // an added token's content first, as the Rust library
      if (a.special) t.specials.insert(a.content);
    }
  });
  std::vector<std::string> tokens;
  for (const std::int64_t id : ids) {
    const auto found = t.pieces.find(id);
    if (found == t.pieces.end()) continue;
    if (skip_special && t.specials.count(found->second)) continue;
    tokens.push_back(found->second);
  }
  std::string text;
  for (const auto& part : t.decoder.chain(std::move(tokens))) text += part;
  return text;
}

const std::string& Tokenizer::path() const { return impl_->path; }
std::size_t Tokenizer::vocabulary_size() const { return impl_->size; }

CharacterOffsets::CharacterOffsets(std::string_view text) : before_(text.size() + 1, 0), inside_(text.size() + 1, false) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    inside_[i] = is_utf8_continuation(static_cast<unsigned char>(text[i]));
    before_[i] = count;
    count += !inside_[i];
  }
  before_[text.size()] = count;
}

std::pair<std::size_t, std::size_t> CharacterOffsets::operator()(std::size_t begin, std::size_t end) const {
  const std::size_t last = before_.size() - 1;
  begin = std::min(begin, last);
  end = std::min(end, last);
  // A character cut at `begin` counts whole; one cut at `end` too (its start is before `end`).
  return {before_[begin] - (inside_[begin] ? 1 : 0), before_[end]};
}

}  // namespace pevis::text
