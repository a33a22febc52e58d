// Post-processors (the special tokens an encoding gets) and decoders (the
// bytes a piece stands for): the registries of tokenizer.json's
// `post_processor` and `decoder` types pevis implements.
#include <algorithm>
#include <cctype>

#include "pevis/base/error.h"
#include "pipeline.h"

namespace pevis::text {
namespace {

Token special(const std::string& piece, std::int64_t id) { return {id, piece, 0, 0, true}; }

// TemplateProcessing's `single` template: its special tokens and the sequence $A.
PostProcessor template_processing(const nlohmann::json& spec, const std::string& where,
                                  const std::unordered_map<std::string, std::int64_t>&) {
  if (!spec.contains("single") || !spec["single"].is_array()) {
    throw bad_input(where, "a TemplateProcessing without a single template", "the file is damaged");
  }
  std::vector<std::vector<Token>> parts;  // empty: the sequence
  const nlohmann::json tokens = spec.contains("special_tokens") ? spec["special_tokens"] : nlohmann::json::object();
  for (const auto& item : spec["single"]) {
    if (item.contains("Sequence")) {
      parts.emplace_back();
      continue;
    }
    if (!item.contains("SpecialToken") || !item["SpecialToken"].contains("id")) {
      throw bad_input(where, "a template item that is neither a sequence nor a special token", "the file is damaged");
    }
    const std::string name = word(item["SpecialToken"], "id", "", where);
    if (!tokens.contains(name) || !tokens[name].contains("ids") || !tokens[name].contains("tokens")) {
      throw bad_input(where, "the template names the special token '" + one_line(name) + "', which it does not define",
                      "the file is damaged");
    }
    std::vector<Token> added;
    const auto& ids = tokens[name]["ids"];
    const auto& pieces = tokens[name]["tokens"];
    for (std::size_t i = 0; i < ids.size() && i < pieces.size(); ++i) {
      added.push_back(special(pieces[i].get<std::string>(), ids[i].get<std::int64_t>()));
    }
    parts.push_back(added);
  }
  return [parts](std::vector<Token> sequence, bool add) {
    if (!add) return sequence;
    std::vector<Token> out;
    for (const auto& part : parts) {
      if (part.empty()) out.insert(out.end(), sequence.begin(), sequence.end());
      else out.insert(out.end(), part.begin(), part.end());
    }
    return out;
  };
}

// BertProcessing and RobertaProcessing: [CLS] sequence [SEP].
PostProcessor around(const nlohmann::json& spec, const std::string& where,
                     const std::unordered_map<std::string, std::int64_t>&) {
  const auto pair = [&](const char* key) {
    if (!spec.contains(key) || !spec[key].is_array() || spec[key].size() != 2 || !spec[key][0].is_string() ||
        !spec[key][1].is_number_integer()) {
      throw bad_input(where, std::string("the post-processor's '") + key + "' is not a token and its id", "the file is damaged");
    }
    return special(spec[key][0].get<std::string>(), spec[key][1].get<std::int64_t>());
  };
  const Token cls = pair("cls"), sep = pair("sep");
  return [cls, sep](std::vector<Token> sequence, bool add) {
    if (!add) return sequence;
    sequence.insert(sequence.begin(), cls);
    sequence.push_back(sep);
    return sequence;
  };
}

PostProcessor byte_level(const nlohmann::json&, const std::string&, const std::unordered_map<std::string, std::int64_t>&) {
  return [](std::vector<Token> sequence, bool) { return sequence; };  // offsets only; they are not trimmed here
}

PostProcessor sequence(const nlohmann::json& spec, const std::string& where,
                       const std::unordered_map<std::string, std::int64_t>& vocabulary) {
  if (!spec.contains("processors") || !spec["processors"].is_array()) {
    throw bad_input(where, "a Sequence post-processor without a list of processors", "the file is damaged");
  }
  std::vector<PostProcessor> parts;
  for (const auto& part : spec["processors"]) parts.push_back(make_post_processor(part, where, vocabulary));
  return [parts](std::vector<Token> tokens, bool add) {
    for (const auto& p : parts) tokens = p(std::move(tokens), add);
    return tokens;
  };
}

using Builder = PostProcessor (*)(const nlohmann::json&, const std::string&, const std::unordered_map<std::string, std::int64_t>&);

const std::map<std::string, Builder>& registry() {
  static const std::map<std::string, Builder> builders = {{"TemplateProcessing", &template_processing},
                                                          {"BertProcessing", &around},
                                                          {"RobertaProcessing", &around},
                                                          {"ByteLevel", &byte_level},
                                                          {"Sequence", &sequence}};
  return builders;
}

}  // namespace

PostProcessor make_post_processor(const nlohmann::json& spec, const std::string& where,
                                  const std::unordered_map<std::string, std::int64_t>& vocabulary) {
  if (spec.is_null()) return [](std::vector<Token> tokens, bool) { return tokens; };
  return registered(registry(), spec, "post-processor", where)(spec, where, vocabulary);
}

namespace {

// Decoders. `chain` is what the Rust library's decode_chain does to the
// list of token strings; `piece` is one token's bytes, for its label.

using Chain = std::function<std::vector<std::string>(std::vector<std::string>)>;
using Piece = std::function<std::string(const std::string&)>;

// Each token by itself.
Chain each(Piece map) {
  return [map](std::vector<std::string> tokens) {
    for (auto& t : tokens) t = map(t);
    return tokens;
  };
}

const std::unordered_map<std::string, char>& character_bytes() {
  static const std::unordered_map<std::string, char> bytes = [] {
    std::unordered_map<std::string, char> m;
    const auto& table = byte_characters();
    for (std::size_t b = 0; b < table.size(); ++b) m[table[b]] = static_cast<char>(b);
    return m;
  }();
  return bytes;
}

// The bytes byte-level characters stand for; a token with a character
// outside the table stays as it is (whole).
std::string byte_level_bytes(const std::string& token) {
  std::string out;
  for (std::size_t i = 0; i < token.size();) {
    const std::size_t n = std::min(utf8_length(static_cast<unsigned char>(token[i])), token.size() - i);
    const auto found = character_bytes().find(token.substr(i, n));
    if (found == character_bytes().end()) return token;
    out += found->second;
    i += n;
  }
  return out;
}

Decoder byte_level_decoder(const nlohmann::json&, const std::string&) {
  return {[](std::vector<std::string> tokens) {
            std::string bytes;
            for (const auto& t : tokens) bytes += byte_level_bytes(t);
            return std::vector<std::string>{lossy_utf8(bytes)};
          },
          &byte_level_bytes};
}

Decoder replace_decoder(const nlohmann::json& spec, const std::string& where) {
  if (!spec.contains("pattern")) throw bad_input(where, "a Replace decoder without a pattern", "the file is damaged");
  const Pattern pattern = Pattern::of(spec["pattern"], where);
  const std::string to = word(spec, "content", "", where);
  const Piece map = [pattern, to](const std::string& piece) {
    std::string out;
    std::size_t at = 0;
    for (const auto& [b, e] : pattern.find(piece)) {
      out.append(piece, at, b - at);
      out += to;
      at = e;
    }
    out.append(piece, at, std::string::npos);
    return out;
  };
  return {each(map), map};
}

// The byte a `<0xE2>` piece stands for, or -1.
int fallback_byte(const std::string& piece) {
  const auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>' || !hex(piece[3]) || !hex(piece[4])) return -1;
  return std::stoi(piece.substr(3, 2), nullptr, 16);
}

// ByteFallback: runs of `<0xE2>` pieces become the text of their bytes, or
// one U+FFFD per byte where the bytes are not UTF-8.
Decoder byte_fallback(const nlohmann::json&, const std::string&) {
  const Chain chain = [](std::vector<std::string> tokens) {
    std::vector<std::string> out;
    std::string run;
    std::size_t count = 0;
    const auto flush = [&] {
      if (count == 0) return;
      if (lossy_utf8(run) == run) {
        out.push_back(run);
      } else {
        for (std::size_t i = 0; i < count; ++i) out.emplace_back("\xef\xbf\xbd");
      }
      run.clear();
      count = 0;
    };
    for (auto& t : tokens) {
      const int b = fallback_byte(t);
      if (b >= 0) {
        run += static_cast<char>(b);
        ++count;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    return out;
  };
  return {chain, [](const std::string& piece) {
            const int b = fallback_byte(piece);
            return b >= 0 ? std::string(1, static_cast<char>(b)) : piece;
          }};
}

// Metaspace: the replacement character is a space; in the first token it is
// dropped, unless the pre-tokenizer never puts one before the text.
Decoder metaspace(const nlohmann::json& spec, const std::string& where) {
  const std::string replacement = word(spec, "replacement", "\xe2\x96\x81", where);
  std::string scheme = word(spec, "prepend_scheme", "always", where);
  if (spec.contains("add_prefix_space") && spec["add_prefix_space"] == false) scheme = "never";
  const bool drop_first = scheme != "never";
  const auto spaced = [replacement](const std::string& piece, bool drop) {
    std::string out;
    for (std::size_t i = 0; i < piece.size();) {
      if (!replacement.empty() && piece.compare(i, replacement.size(), replacement) == 0) {
        if (!drop) out += ' ';
        i += replacement.size();
      } else {
        out += piece[i++];
      }
    }
    return out;
  };
  return {[spaced, drop_first](std::vector<std::string> tokens) {
            for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = spaced(tokens[i], i == 0 && drop_first);
            return tokens;
          },
          [spaced](const std::string& piece) { return spaced(piece, false); }};
}

// WordPiece: a token after the first is joined to the one before where it
// starts with the prefix, else spaced from it; `cleanup` then joins
// punctuation and contractions back (" ." to ".", " n't" to "n't", ...).
Decoder word_piece(const nlohmann::json& spec, const std::string& where) {
  const std::string prefix = word(spec, "prefix", "##", where);
  const bool cleanup = flag(spec, "cleanup", true, where);
  const auto replace_all = [](std::string s, const std::string& from, const std::string& to) {
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
    return s;
  };
  return {[prefix, cleanup, replace_all](std::vector<std::string> tokens) {
            static const std::pair<const char*, const char*> kCleanups[] = {
                {" .", "."},   {" ?", "?"},     {" !", "!"},        {" ,", ","},   {" ' ", "'"},  {" n't", "n't"},
                {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
            for (std::size_t i = 0; i < tokens.size(); ++i) {
              std::string& t = tokens[i];
              if (i != 0) t = t.rfind(prefix, 0) == 0 ? t.substr(prefix.size()) : " " + t;
              if (cleanup) {
                for (const auto& [from, to] : kCleanups) t = replace_all(t, from, to);
              }
            }
            return tokens;
          },
          [prefix](const std::string& piece) { return piece.rfind(prefix, 0) == 0 ? piece.substr(prefix.size()) : piece; }};
}

Decoder fuse(const nlohmann::json&, const std::string&) {
  return {[](std::vector<std::string> tokens) {
            std::string all;
            for (const auto& t : tokens) all += t;
            return std::vector<std::string>{all};
          },
          [](const std::string& piece) { return piece; }};
}

// Strip: up to `start` of the content character from the start of each
// token, up to `stop` from its end.
Decoder strip(const nlohmann::json& spec, const std::string& where) {
  const std::string content = word(spec, "content", " ", where);
  if (content.empty() || utf8_length(static_cast<unsigned char>(content[0])) != content.size()) {
    throw bad_input(where, "the Strip decoder's content is not one character", "the file is damaged");
  }
  const auto count = [&](const char* key) {
    if (!spec.contains(key) || !spec[key].is_number_unsigned()) {
      throw bad_input(where, std::string("the Strip decoder's '") + key + "' is not a count", "the file is damaged");
    }
    return spec[key].get<std::size_t>();
  };
  const std::size_t start = count("start"), stop = count("stop");
  return {each([content, start, stop](const std::string& t) {
            std::size_t begin = 0, end = t.size();
            for (std::size_t i = 0; i < start && t.compare(begin, content.size(), content) == 0; ++i) begin += content.size();
            for (std::size_t i = 0; i < stop && end >= begin + content.size() &&
                                    t.compare(end - content.size(), content.size(), content) == 0;
                 ++i) {
              end -= content.size();
            }
            return t.substr(begin, end - begin);
          }),
          [](const std::string& piece) { return piece; }};
}

Decoder decoder_sequence(const nlohmann::json& spec, const std::string& where) {
  if (!spec.contains("decoders") || !spec["decoders"].is_array()) {
    throw bad_input(where, "a Sequence decoder without a list of decoders", "the file is damaged");
  }
  std::vector<Decoder> parts;
  for (const auto& part : spec["decoders"]) parts.push_back(make_decoder(part, where));
  return {[parts](std::vector<std::string> tokens) {
            for (const auto& p : parts) tokens = p.chain(std::move(tokens));
            return tokens;
          },
          [parts](std::string piece) {
            for (const auto& p : parts) piece = p.piece(piece);
            return piece;
          }};
}

using DecoderBuilder = Decoder (*)(const nlohmann::json&, const std::string&);

const std::map<std::string, DecoderBuilder>& decoders() {
  static const std::map<std::string, DecoderBuilder> builders = {
      {"ByteLevel", &byte_level_decoder}, {"Replace", &replace_decoder}, {"ByteFallback", &byte_fallback},
      {"Metaspace", &metaspace},          {"WordPiece", &word_piece},    {"Fuse", &fuse},
      {"Strip", &strip},                  {"Sequence", &decoder_sequence}};
  return builders;
}

}  // namespace

Decoder make_decoder(const nlohmann::json& spec, const std::string& where) {
  if (spec.is_null()) {
    // No decoder: the tokens joined by spaces.
    return {[](std::vector<std::string> tokens) {
              std::string all;
              for (std::size_t i = 0; i < tokens.size(); ++i) all += (i ? " " : "") + tokens[i];
              return std::vector<std::string>{all};
            },
            [](const std::string& piece) { return piece; }};
  }
  return registered(decoders(), spec, "decoder", where)(spec, where);
}

}  // namespace pevis::text
