// Models: the registry of tokenizer.json's `model` types. BPE: a word is split into characters
// (bytes where it falls back to them), then the pair of adjacent pieces
// with the lowest merge rank is merged, leftmost first, until no pair has a
// rank; with `ignore_merges` a word the vocabulary holds whole is one token.
#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <list>
#include <unordered_set>
#include <mutex>

#include "pevis/base/error.h"
#include "pipeline.h"

namespace pevis::text {
namespace {

struct PairHash {
  std::size_t operator()(const std::pair<std::int64_t, std::int64_t>& p) const {
    return std::hash<std::int64_t>()(p.first * 1000003 + p.second);
  }
};

struct Bpe {
  explicit Bpe(const std::unordered_map<std::string, std::int64_t>& v) : vocabulary(v) {}
  const std::unordered_map<std::string, std::int64_t>& vocabulary;  // the tokenizer's, which outlives the model
  std::unordered_map<std::int64_t, const std::string*> pieces;      // into the vocabulary's keys
  std::unordered_map<std::pair<std::int64_t, std::int64_t>, std::pair<std::int64_t, std::int64_t>, PairHash> merges;  // rank, id
  std::string unk, prefix, suffix;
  bool fuse_unk = false, byte_fallback = false, ignore_merges = false;

  // The word's pieces: (id, byte range in the word).
  std::vector<Token> encode(const Span& word) const {
    std::vector<Token> out;
    if (ignore_merges) {
      const auto whole = vocabulary.find(word.text);
      if (whole != vocabulary.end()) {
        const auto [b, e] = word.covered(0, word.text.size());
        out.push_back({whole->second, word.text, b, e, false});
        return out;
      }
    }
    struct Piece { std::int64_t id; std::size_t begin, end; };
    std::vector<Piece> symbols;
    for (std::size_t i = 0; i < word.text.size();) {
      const std::size_t n = std::min(utf8_length(static_cast<unsigned char>(word.text[i])), word.text.size() - i);
      std::string c = word.text.substr(i, n);
      if (i > 0) c = prefix + c;
      if (i + n == word.text.size()) c += suffix;
      const auto found = vocabulary.find(c);
      if (found != vocabulary.end()) {
        symbols.push_back({found->second, i, i + n});
      } else if (byte_fallback) {
        bool all = true;
        std::vector<Piece> bytes;
        for (std::size_t k = i; k < i + n; ++k) {
          const auto b = vocabulary.find(byte_piece(static_cast<unsigned char>(word.text[k])));
          if (b == vocabulary.end()) { all = false; break; }
          bytes.push_back({b->second, k, k + 1});
        }
        if (all) symbols.insert(symbols.end(), bytes.begin(), bytes.end());
        else unknown(symbols, i, i + n);
      } else {
        unknown(symbols, i, i + n);
      }
      i += n;
    }
    while (symbols.size() > 1) {
      std::int64_t best_rank = LLONG_MAX, best_id = -1;
      std::size_t best = 0;
      for (std::size_t k = 0; k + 1 < symbols.size(); ++k) {
        const auto m = merges.find({symbols[k].id, symbols[k + 1].id});
        if (m != merges.end() && m->second.first < best_rank) {
          best_rank = m->second.first;
          best_id = m->second.second;
          best = k;
        }
      }
      if (best_id < 0) break;
      symbols[best] = {best_id, symbols[best].begin, symbols[best + 1].end};
      symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
    for (const auto& s : symbols) {
      const auto [b, e] = word.covered(s.begin, s.end);
      out.push_back({s.id, *pieces.at(s.id), b, e, false});
    }
    return out;
  }

  template <typename P>
  void unknown(std::vector<P>& symbols, std::size_t begin, std::size_t end) const {
    const auto u = vocabulary.find(unk);
    if (unk.empty() || u == vocabulary.end()) {
      throw bad_input("the text", "a character the tokenizer's vocabulary lacks, and it names no unknown token",
                      "the tokenizer cannot encode this text");
    }
    if (fuse_unk && !symbols.empty() && symbols.back().id == u->second) {
      symbols.back().end = end;
    } else {
      symbols.push_back({u->second, begin, end});
    }
  }
};

std::pair<std::string, std::string> merge_pair(const nlohmann::json& m, const std::string& where) {
  if (m.is_string()) {
    const std::string s = m.get<std::string>();
    const auto space = s.find(' ', 1);
    if (space == std::string::npos) throw bad_input(where, "a merge '" + one_line(s) + "' is not two pieces", "the file is damaged");
    return {s.substr(0, space), s.substr(space + 1)};
  }
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) return {m[0], m[1]};
  throw bad_input(where, "a merge that is not two pieces", "the file is damaged");
}

Model bpe(const nlohmann::json& spec, const std::string& where, std::unordered_map<std::string, std::int64_t>& vocabulary) {
  if (spec.contains("dropout") && !spec["dropout"].is_null() && spec["dropout"] != 0.0) {
    throw bad_input(where, "BPE dropout (random merges) is not implemented", "");
  }
  auto m = std::make_shared<Bpe>(vocabulary);
  m->unk = word(spec, "unk_token", "", where);
  m->prefix = word(spec, "continuing_subword_prefix", "", where);
  m->suffix = word(spec, "end_of_word_suffix", "", where);
  m->fuse_unk = flag(spec, "fuse_unk", false, where);
  m->byte_fallback = flag(spec, "byte_fallback", false, where);
  m->ignore_merges = flag(spec, "ignore_merges", false, where);
  if (!spec.contains("vocab") || !spec["vocab"].is_object()) throw bad_input(where, "a BPE model without a vocabulary", "the file is damaged");
  vocabulary.clear();
  vocabulary.reserve(spec["vocab"].size());
  m->pieces.reserve(spec["vocab"].size());
  for (const auto& [piece, id] : spec["vocab"].items()) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0) {
      throw bad_input(where, "the vocabulary's id of '" + one_line(piece) + "' is not a whole number", "the file is damaged");
    }
    const auto value = id.get<std::int64_t>();
    const auto entry = vocabulary.emplace(piece, value).first;  // keys are unique in a JSON object
    if (!m->pieces.emplace(value, &entry->first).second) {
      throw bad_input(where, "the vocabulary gives id " + std::to_string(value) + " to two pieces", "the file is damaged");
    }
  }
  const nlohmann::json merges = spec.contains("merges") ? spec["merges"] : nlohmann::json::array();
  if (!merges.is_array()) throw bad_input(where, "the BPE merges are not a list", "the file is damaged");
  std::int64_t rank = 0;
  m->merges.reserve(merges.size());
  for (const auto& entry : merges) {
    const auto [a, b] = merge_pair(entry, where);
    const auto ia = m->vocabulary.find(a), ib = m->vocabulary.find(b);
    const std::string joined = a + (b.rfind(m->prefix, 0) == 0 ? b.substr(m->prefix.size()) : b);
    const auto ij = m->vocabulary.find(joined);
    if (ia == m->vocabulary.end() || ib == m->vocabulary.end() || ij == m->vocabulary.end()) {
      throw bad_input(where, "the merge '" + one_line(a + " " + b) + "' names a piece the vocabulary lacks", "the file is damaged");
    }
    m->merges.emplace(std::make_pair(ia->second, ib->second), std::make_pair(rank++, ij->second));
  }
  return [m](const Span& word) { return m->encode(word); };
}

// WordPiece: the longest piece of the vocabulary at the start of the word,
// then the longest `##`-prefixed piece after it, and so on; a word with a
// part no piece fits, or longer than `max_input_chars_per_word`, is one
// unknown token.
Model word_piece(const nlohmann::json& spec, const std::string& where,
                 std::unordered_map<std::string, std::int64_t>& vocabulary) {
  struct WordPiece {
    explicit WordPiece(const std::unordered_map<std::string, std::int64_t>& v) : vocabulary(v) {}
    const std::unordered_map<std::string, std::int64_t>& vocabulary;  // the tokenizer's, which outlives the model
    std::string unk, prefix;
    std::size_t longest = 100;
  };
  auto m = std::make_shared<WordPiece>(vocabulary);
  m->unk = word(spec, "unk_token", "[UNK]", where);
  m->prefix = word(spec, "continuing_subword_prefix", "##", where);
  if (spec.contains("max_input_chars_per_word") && spec["max_input_chars_per_word"].is_number_unsigned()) {
    m->longest = spec["max_input_chars_per_word"].get<std::size_t>();
  }
  if (!spec.contains("vocab") || !spec["vocab"].is_object()) {
    throw bad_input(where, "a WordPiece model without a vocabulary", "the file is damaged");
  }
  vocabulary.clear();
  std::unordered_set<std::int64_t> seen;
  for (const auto& [piece, id] : spec["vocab"].items()) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0) {
      throw bad_input(where, "the vocabulary's id of '" + one_line(piece) + "' is not a whole number", "the file is damaged");
    }
    if (!seen.insert(id.get<std::int64_t>()).second) {
      throw bad_input(where, "the vocabulary gives id " + std::to_string(id.get<std::int64_t>()) + " to two pieces",
                      "the file is damaged");
    }
    vocabulary.emplace(piece, id.get<std::int64_t>());
  }
  return [m](const Span& w) {
    const auto unknown = [&] {
      const auto u = m->vocabulary.find(m->unk);
      if (u == m->vocabulary.end()) {
        throw bad_input("the text", "a word the WordPiece vocabulary cannot spell, and it has no '" + one_line(m->unk) + "'",
                        "the tokenizer cannot encode this text");
      }
      const auto [b, e] = w.covered(0, w.text.size());
      return std::vector<Token>{{u->second, m->unk, b, e, false}};
    };
    std::size_t characters = 0;
    for (const char c : w.text) characters += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
    if (characters > m->longest) return unknown();
    std::vector<Token> out;
    for (std::size_t start = 0; start < w.text.size();) {
      std::size_t end = w.text.size();
      bool found = false;
      while (start < end) {
        const std::string piece = (start > 0 ? m->prefix : "") + w.text.substr(start, end - start);
        const auto id = m->vocabulary.find(piece);
        if (id != m->vocabulary.end()) {
          const auto [b, e] = w.covered(start, end);
          out.push_back({id->second, piece, b, e, false});
          found = true;
          break;
        }
        do --end; while (end > start && (static_cast<unsigned char>(w.text[end]) & 0xc0) == 0x80);
      }
      if (!found) return unknown();
      start = end;
    }
    return out;
  };
}

// Unigram (SentencePiece's): the split of the word whose pieces' scores
// sum highest (Viterbi over every piece of the vocabulary that starts at
// each character; on a tie the split found first stays). A character no
// piece covers is the unknown piece, scored 10 below the lowest score, and
// unknown pieces next to each other are one. A piece of the best split the
// vocabulary lacks (a run of unknown characters) falls back to its bytes'
// `<0xE2>` pieces where `byte_fallback`, all covering its text.
Model unigram(const nlohmann::json& spec, const std::string& where, std::unordered_map<std::string, std::int64_t>& vocabulary) {
  struct Unigram {
    explicit Unigram(const std::unordered_map<std::string, std::int64_t>& v) : ids(v) {}
    const std::unordered_map<std::string, std::int64_t>& ids;  // the tokenizer's vocabulary, which outlives the model
    std::vector<std::pair<std::string, double>> pieces;
    std::int64_t unk = -1;
    bool byte_fallback = false;
    double lowest = 0;
    std::vector<std::pair<std::string, std::int64_t>> sorted;  // the pieces in byte order, to walk prefixes
  };
  auto m = std::make_shared<Unigram>(vocabulary);
  vocabulary.clear();
  if (!spec.contains("vocab") || !spec["vocab"].is_array()) throw bad_input(where, "a Unigram model without a vocabulary", "the file is damaged");
  m->lowest = std::numeric_limits<double>::infinity();
  for (const auto& entry : spec["vocab"]) {
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number()) {
      throw bad_input(where, "a Unigram vocabulary entry that is not a piece and its score", "the file is damaged");
    }
    const std::string piece = entry[0].get<std::string>();
    const double score = entry[1].get<double>();
    if (!std::isfinite(score)) throw bad_input(where, "a Unigram score that is not a number", "the file is damaged");
    vocabulary[piece] = static_cast<std::int64_t>(m->pieces.size());  // a piece given twice: its last id, as the Rust library
    m->pieces.emplace_back(piece, score);
    m->lowest = std::min(m->lowest, score);
  }
  m->sorted.assign(m->ids.begin(), m->ids.end());
  std::sort(m->sorted.begin(), m->sorted.end());
  if (spec.contains("unk_id") && !spec["unk_id"].is_null()) {
    if (!spec["unk_id"].is_number_unsigned() || spec["unk_id"].get<std::size_t>() >= m->pieces.size()) {
      throw bad_input(where, "the Unigram unk_id is not a piece of the vocabulary", "the file is damaged");
    }
    m->unk = spec["unk_id"].get<std::int64_t>();
  }
  m->byte_fallback = flag(spec, "byte_fallback", false, where);
  if (m->pieces.empty()) throw bad_input(where, "a Unigram model with an empty vocabulary", "the file is damaged");
  return [m](const Span& w) {
    const std::string& text = w.text;
    const std::size_t size = text.size();
    const double unknown_score = m->lowest - 10.0;
    struct Node {
      std::int64_t id = -1;
      double score = 0;
      std::size_t from = 0;
      bool reached = false;
    };
    std::vector<Node> best(size + 1);
    best[0].reached = true;
    for (std::size_t start = 0; start < size;) {
      const std::size_t character = std::min(utf8_length(static_cast<unsigned char>(text[start])), size - start);
      const double here = best[start].score;
      bool single = false;
      // The pieces that start with text[start, end), narrowed one byte at a time.
      std::size_t lo = 0, hi = m->sorted.size();
      for (std::size_t end = start + 1; end <= size && lo < hi; ++end) {
        const std::size_t depth = end - start - 1;
        const int c = static_cast<unsigned char>(text[end - 1]);
        const auto at = [depth](const std::pair<std::string, std::int64_t>& p) {
          return p.first.size() > depth ? static_cast<unsigned char>(p.first[depth]) : -1;
        };
        const auto first = m->sorted.begin() + static_cast<std::ptrdiff_t>(lo), last = m->sorted.begin() + static_cast<std::ptrdiff_t>(hi);
        lo = static_cast<std::size_t>(std::partition_point(first, last, [&](const auto& p) { return at(p) < c; }) - m->sorted.begin());
        hi = static_cast<std::size_t>(std::partition_point(first, last, [&](const auto& p) { return at(p) <= c; }) - m->sorted.begin());
        if (lo >= hi || m->sorted[lo].first.size() != depth + 1) continue;  // no piece is exactly this
        const std::int64_t id = m->sorted[lo].second;
        const double score = here + m->pieces[static_cast<std::size_t>(id)].second;
        Node& target = best[end];
        if (!target.reached || score > target.score) target = {id, score, start, true};
        if (end - start == character) single = true;
      }
      if (!single) {
        Node& target = best[start + character];
        const double score = here + unknown_score;
        if (!target.reached || score > target.score) {
          if (m->unk < 0) {
            throw bad_input("the text", "a character the Unigram vocabulary lacks, and it names no unknown piece",
                            "the tokenizer cannot encode this text");
          }
          target = {m->unk, score, start, true};
        }
      }
      start += character;
    }
    // Back from the end; runs of unknown pieces become one.
    std::vector<std::pair<std::size_t, std::size_t>> parts;
    bool previous_unknown = false;
    for (std::size_t end = size; end > 0;) {
      const Node& node = best[end];
      const bool unknown = node.id == m->unk;
      if (unknown && previous_unknown) parts.back().first = node.from;
      else parts.emplace_back(node.from, end);
      previous_unknown = unknown;
      end = node.from;
    }
    std::reverse(parts.begin(), parts.end());
    std::vector<Token> out;
    for (const auto& [b, e] : parts) {
      const std::string piece = text.substr(b, e - b);
      const auto [first, last] = w.covered(b, e);
      const auto found = m->ids.find(piece);
      if (found != m->ids.end()) {
        out.push_back({found->second, piece, first, last, false});
        continue;
      }
      if (m->byte_fallback) {
        std::vector<Token> bytes;
        for (const char c : piece) {
          const std::string name = byte_piece(static_cast<unsigned char>(c));
          const auto id = m->ids.find(name);
          if (id == m->ids.end()) break;
          bytes.push_back({id->second, name, first, last, false});
        }
        if (bytes.size() == piece.size()) {
          out.insert(out.end(), bytes.begin(), bytes.end());
          continue;
        }
      }
      out.push_back({m->unk, m->pieces[static_cast<std::size_t>(m->unk)].first, first, last, false});
    }
    return out;
  };
}

using Builder = Model (*)(const nlohmann::json&, const std::string&, std::unordered_map<std::string, std::int64_t>&);

const std::map<std::string, Builder>& registry() {
  static const std::map<std::string, Builder> builders = {{"BPE", &bpe}, {"WordPiece", &word_piece}, {"Unigram", &unigram}};
  return builders;
}

}  // namespace

Model make_model(const nlohmann::json& spec, const std::string& where,
                 std::unordered_map<std::string, std::int64_t>& vocabulary) {
  return registered(registry(), spec, "model", where, "BPE")(spec, where, vocabulary);
}

}  // namespace pevis::text
