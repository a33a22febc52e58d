// Post-processors (the special tokens an encoding gets) and decoders (the
// bytes a piece stands for): the registries of tokenizer.json's
// `post_processor` and `decoder` types pevis implements.
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
  const std::string type = spec.is_object() ? word(spec, "type", "", where) : "";
  const auto found = registry().find(type);
  if (found == registry().end()) {
    std::string known;
    for (const auto& [name, builder] : registry()) known += (known.empty() ? "" : ", ") + name;
    throw bad_input(where, "the post-processor '" + one_line(type) + "' is not implemented (pevis runs " + known + ")", "");
  }
  return found->second(spec, where, vocabulary);
}

namespace {

Decoder byte_level_decoder(const nlohmann::json&, const std::string&) {
  return [](const std::string& piece) {
    static const std::unordered_map<std::string, char> bytes = [] {
      std::unordered_map<std::string, char> m;
      const auto& table = byte_characters();
      for (std::size_t b = 0; b < table.size(); ++b) m[table[b]] = static_cast<char>(b);
      return m;
    }();
    std::string out;
    for (std::size_t i = 0; i < piece.size();) {
      const std::size_t n = std::min(utf8_length(static_cast<unsigned char>(piece[i])), piece.size() - i);
      const auto found = bytes.find(piece.substr(i, n));
      out += found != bytes.end() ? std::string(1, found->second) : piece.substr(i, n);
      i += n;
    }
    return out;
  };
}

Decoder replace_decoder(const nlohmann::json& spec, const std::string& where) {
  if (!spec.contains("pattern") || !spec["pattern"].is_object() || !spec["pattern"].contains("String")) {
    throw bad_input(where, "a Replace decoder with a Regex pattern is not implemented", "");
  }
  const std::string from = word(spec["pattern"], "String", "", where), to = word(spec, "content", "", where);
  return [from, to](const std::string& piece) {
    if (from.empty()) return piece;
    std::string out;
    for (std::size_t i = 0; i < piece.size();) {
      if (piece.compare(i, from.size(), from) == 0) {
        out += to;
        i += from.size();
      } else {
        out += piece[i++];
      }
    }
    return out;
  };
}

// `<0xE2>` pieces stand for their byte.
Decoder byte_fallback(const nlohmann::json&, const std::string&) {
  return [](const std::string& piece) {
    if (piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>' && std::isxdigit(static_cast<unsigned char>(piece[3])) &&
        std::isxdigit(static_cast<unsigned char>(piece[4]))) {
      return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
    }
    return piece;
  };
}

// Metaspace: the replacement character stands for a space.
Decoder metaspace(const nlohmann::json& spec, const std::string& where) {
  return replace_decoder({{"pattern", {{"String", word(spec, "replacement", "\xe2\x96\x81", where)}}}, {"content", " "}}, where);
}

Decoder word_piece(const nlohmann::json& spec, const std::string& where) {
  const std::string prefix = word(spec, "prefix", "##", where);
  return [prefix](const std::string& piece) { return piece.rfind(prefix, 0) == 0 ? piece.substr(prefix.size()) : piece; };
}

// Fuse and Strip act on a whole sequence (joining pieces, trimming its
// ends); a label is one token's text, which they leave as it is.
Decoder whole_sequence(const nlohmann::json&, const std::string&) {
  return [](const std::string& piece) { return piece; };
}

Decoder decoder_sequence(const nlohmann::json& spec, const std::string& where) {
  if (!spec.contains("decoders") || !spec["decoders"].is_array()) {
    throw bad_input(where, "a Sequence decoder without a list of decoders", "the file is damaged");
  }
  std::vector<Decoder> parts;
  for (const auto& part : spec["decoders"]) parts.push_back(make_decoder(part, where));
  return [parts](std::string piece) {
    for (const auto& p : parts) piece = p(piece);
    return piece;
  };
}

using DecoderBuilder = Decoder (*)(const nlohmann::json&, const std::string&);

const std::map<std::string, DecoderBuilder>& decoders() {
  static const std::map<std::string, DecoderBuilder> builders = {
      {"ByteLevel", &byte_level_decoder}, {"Replace", &replace_decoder}, {"ByteFallback", &byte_fallback},
      {"Metaspace", &metaspace},          {"WordPiece", &word_piece},    {"Fuse", &whole_sequence},
      {"Strip", &whole_sequence},         {"Sequence", &decoder_sequence}};
  return builders;
}

}  // namespace

Decoder make_decoder(const nlohmann::json& spec, const std::string& where) {
  if (spec.is_null()) return [](const std::string& piece) { return piece; };
  const std::string type = spec.is_object() ? word(spec, "type", "", where) : "";
  const auto found = decoders().find(type);
  if (found == decoders().end()) {
    std::string known;
    for (const auto& [name, builder] : decoders()) known += (known.empty() ? "" : ", ") + name;
    throw bad_input(where, "the decoder '" + one_line(type) + "' is not implemented (pevis reads " + known + ")", "");
  }
  return found->second(spec, where);
}

}  // namespace pevis::text
