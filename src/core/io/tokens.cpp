#include "pevis/io/tokens.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "pevis/base/error.h"
#include "pevis/base/utf8.h"

namespace pevis {
namespace {

void check_utf8(const std::string& text, const std::string& source) {
  const std::size_t bad = invalid_utf8(text);
  if (bad != std::string::npos) {
    throw bad_input(source, "not UTF-8 text (invalid byte at offset " + std::to_string(bad) + ")",
                    "save it as UTF-8");
  }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

bool whole_number(const std::string& token) {
  if (token.empty() || token.size() > 18) return false;
  for (char c : token) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string shown(const std::string& token) { return "'" + one_line(token.size() > 40 ? token.substr(0, 40) + "..." : token) + "'"; }

}  // namespace

std::string read_text_file(const std::string& path, std::size_t limit) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw bad_input(path, std::string("cannot open the file: ") + std::strerror(errno), "check the path");
  }
  if (!S_ISREG(info.st_mode) && !S_ISFIFO(info.st_mode)) {
    throw bad_input(path, "not a regular file", "give the path of a text file");
  }
  if (S_ISFIFO(info.st_mode)) {  // a pipe, such as <(echo 1 2 3): read up to the limit
    std::ifstream in(path, std::ios::binary);
    std::string text;
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
      text.append(buffer, static_cast<std::size_t>(in.gcount()));
      if (text.size() > limit) throw bad_input(path, "more than " + std::to_string(limit) + " bytes", "give a shorter text");
    }
    return text;
  }
  if (static_cast<std::uint64_t>(info.st_size) > limit) {
    throw bad_input(path, "the file has " + std::to_string(info.st_size) + " bytes, more than the " +
                              std::to_string(limit) + " pevis reads",
                    "give a shorter text");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw bad_input(path, "cannot read the file", "check its permissions");
  std::string text(static_cast<std::size_t>(info.st_size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

std::vector<std::string> split_tokens(const std::string& text, const std::string& source) {
  check_utf8(text, source);
  std::vector<std::string> tokens;
  for (std::size_t i = 0; i < text.size();) {
    while (i < text.size() && is_space(text[i])) ++i;
    const std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) {
      if (tokens.size() == kMaxTokens) {
        throw bad_input(source, "more than " + std::to_string(kMaxTokens) + " tokens",
                        "attention grows with the square of the length: give at most " + std::to_string(kMaxTokens));
      }
      tokens.push_back(text.substr(start, i - start));
    }
  }
  if (tokens.empty()) throw bad_input(source, "there are no tokens in it", "write the sequence as words separated by spaces");
  return tokens;
}

std::vector<std::string> parse_vocab(const std::string& text, const std::string& source) {
  check_utf8(text, source);
  std::vector<std::string> vocab;
  std::map<std::string, std::size_t> first_line;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string token = text.substr(start, end - start);
    if (!token.empty() && token.back() == '\r') token.pop_back();
    if (!token.empty()) {
      const auto [it, fresh] = first_line.emplace(token, vocab.size());
      if (!fresh) {
        throw bad_input(source, "token " + shown(token) + " is listed twice, on lines " + std::to_string(it->second + 1) +
                                    " and " + std::to_string(vocab.size() + 1),
                        "each line's number is its id, so each token may appear once");
      }
    }
    vocab.push_back(std::move(token));
    start = end + 1;
  }
  if (vocab.empty()) throw bad_input(source, "the vocabulary is empty", "write one token per line");
  return vocab;
}

TokenSequence map_tokens(const std::vector<std::string>& tokens, const std::vector<std::string>* vocab,
                         const std::optional<std::string>& unk, const std::string& source) {
  TokenSequence seq;
  const bool ids = std::all_of(tokens.begin(), tokens.end(), whole_number);
  if (ids) {
    for (const auto& token : tokens) {
      const std::int64_t id = std::stoll(token);
      if (vocab && static_cast<std::size_t>(id) >= vocab->size()) {
        throw bad_input(source, "token id " + token + " is past the end of the vocabulary (" +
                                    std::to_string(vocab->size()) + " tokens)",
                        "use ids from 0 to " + std::to_string(vocab->size() - 1));
      }
      seq.ids.push_back(id);
      seq.labels.push_back(vocab ? (*vocab)[static_cast<std::size_t>(id)] : token);
    }
    return seq;
  }
  if (!vocab) {
    throw bad_input(source, "the tokens are words, not ids, and no vocabulary was given",
                    "give --vocab FILE (one token per line), or write token ids");
  }
  std::map<std::string, std::int64_t> index;
  for (std::size_t i = 0; i < vocab->size(); ++i) {
    if (!(*vocab)[i].empty()) index.emplace((*vocab)[i], static_cast<std::int64_t>(i));
  }
  std::optional<std::int64_t> unk_id;
  if (unk) {
    const auto found = index.find(*unk);
    if (found == index.end()) throw bad_input("--unk " + *unk, "this token is not in the vocabulary", "name a token the vocabulary lists");
    unk_id = found->second;
  }
  std::vector<std::string> unknown;
  std::set<std::string> reported;
  for (const auto& token : tokens) {
    const auto found = index.find(token);
    if (found != index.end()) {
      seq.ids.push_back(found->second);
    } else if (unk_id) {
      seq.ids.push_back(*unk_id);
    } else if (reported.insert(token).second) {
      unknown.push_back(token);
    }
    seq.labels.push_back(token);
  }
  if (!unknown.empty()) {
    std::string list;
    for (std::size_t i = 0; i < unknown.size() && i < 10; ++i) list += (i ? ", " : "") + shown(unknown[i]);
    if (unknown.size() > 10) list += " and " + std::to_string(unknown.size() - 10) + " more";
    throw bad_input(source, std::to_string(unknown.size()) + " token" + (unknown.size() == 1 ? " is" : "s are") +
                                " not in the vocabulary: " + list,
                    "add them to the vocabulary, or map them to a token with --unk");
  }
  return seq;
}

}  // namespace pevis
