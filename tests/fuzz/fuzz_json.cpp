// libFuzzer target: the JSON pevis reads from files (config.json, indexes,
// safetensors headers): the depth check, then what the readers do with the
// text: parse it, print values back (metadata), read rotary settings.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "pevis/base/error.h"
#include "pevis/base/json_depth.h"
#include "pevis/positional/rope.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    pevis::check_json_depth(text, "fuzz");
    const auto value = nlohmann::json::parse(text);
    if (value.is_object()) {
      for (const auto& [key, item] : value.items()) (void)item.dump();
    }
    (void)pevis::rope_from_config(text, "fuzz");
  } catch (const pevis::Error&) {
  } catch (const nlohmann::json::exception&) {
  }
  return 0;
}
