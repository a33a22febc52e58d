#include "pevis/io/safetensors.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "pevis/base/archive.h"
#include "pevis/base/error.h"
#include "pevis/base/json_depth.h"
#include "pevis/base/module_path.h"

namespace pevis {
namespace {

constexpr std::uint64_t kMaxHeader = 100'000'000;  // the format's own limit

struct Entry {
  std::string name;
  at::ScalarType dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin, end;
};

std::optional<at::ScalarType> dtype_of(const std::string& name) {
  static const std::pair<const char*, at::ScalarType> types[] = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16},
      {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
      {"U8", at::kByte},    {"BOOL", at::kBool}};
  for (const auto& [text, type] : types) {
    if (name == text) return type;
  }
  return std::nullopt;
}

}  // namespace

bool is_safetensors_head(const std::string& head) { return head.size() >= 9 && head[8] == '{'; }

Model read_safetensors(const std::string& path) { return read_safetensors(open_file(path)); }

namespace {

// The refusal of a file that is not what safetensors promises.
Error not_safetensors(const std::string& path, const std::string& why) {
  return bad_input(path, "not a valid safetensors file: " + why, "the file is damaged or hostile");
}

// One tensor's entry of the header, checked against the `data_size` bytes
// of data that follow the header.
Entry header_entry(const std::string& path, const std::string& name, const nlohmann::json& info, std::uint64_t data_size) {
  const auto fail = [&](const std::string& why) { return not_safetensors(path, why); };
  if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets") ||
      !info["dtype"].is_string() || !info["shape"].is_array() || !info["data_offsets"].is_array() ||
      info["data_offsets"].size() != 2) {
    throw fail("the entry for '" + name + "' lacks dtype, shape or data_offsets");
  }
  const auto dtype = dtype_of(info["dtype"].get<std::string>());
  if (!dtype) throw fail("tensor '" + name + "' has dtype " + info["dtype"].get<std::string>() + ", which pevis does not read");
  Entry entry{name, *dtype, {}, 0, 0};
  std::uint64_t bytes = c10::elementSize(*dtype);
  bool overflow = false;
  if (info["shape"].size() > 32) throw fail("tensor '" + name + "' has too many dimensions");
  for (const auto& d : info["shape"]) {
    if (!d.is_number_unsigned() || d.get<std::uint64_t>() > (1ull << 40)) throw fail("tensor '" + name + "' has a bad shape");
    entry.shape.push_back(static_cast<std::int64_t>(d.get<std::uint64_t>()));
    overflow |= __builtin_mul_overflow(bytes, d.get<std::uint64_t>(), &bytes);
  }
  const auto& offsets = info["data_offsets"];
  if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) throw fail("tensor '" + name + "' has bad offsets");
  entry.begin = offsets[0].get<std::uint64_t>();
  entry.end = offsets[1].get<std::uint64_t>();
  if (entry.begin > entry.end || entry.end > data_size) {
    throw fail("tensor '" + name + "' lies at bytes " + std::to_string(entry.begin) + " to " + std::to_string(entry.end) +
               ", past the " + std::to_string(data_size) + " bytes of data in the file");
  }
  if (overflow || bytes != entry.end - entry.begin) {
    throw fail("tensor '" + name + "' has a shape that does not match its " + std::to_string(entry.end - entry.begin) + " bytes");
  }
  return entry;
}

// No two tensors share a byte.
void check_no_overlap(const std::string& path, const std::vector<Entry>& entries) {
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      throw not_safetensors(path, "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
    }
  }
}

// The header: its length (checked against the file) and its JSON object.
nlohmann::json read_header(const ByteSource& source, std::uint64_t& data_start) {
  const std::string& path = source.name();
  const std::uint64_t file_size = source.size();
  if (file_size < 8) throw not_safetensors(path, "it is shorter than its 8-byte header length");
  unsigned char length_bytes[8];
  source.read_at(0, length_bytes, 8);
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | length_bytes[i];
  if (header_size > file_size - 8 || header_size > kMaxHeader) {
    throw not_safetensors(path, "its header claims " + std::to_string(header_size) + " bytes, but the file has " +
                                    std::to_string(file_size) + " bytes in all");
  }
  const std::string header = source.read_string(8, header_size);
  data_start = 8 + header_size;
  // A plain (sorted) object, not an ordered one: finding a key in an
  // ordered object is a linear search, which made a header of 100,000
  // tensors take seconds. The tensors are put in natural order below anyway.
  check_json_depth(header, path);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception&) {
    throw not_safetensors(path, "its header is not valid JSON");
  }
  if (!json.is_object()) throw not_safetensors(path, "its header is not a JSON object");
  return json;
}

}  // namespace

Model read_safetensors(std::shared_ptr<const ByteSource> source) {
  const std::string& path = source->name();
  std::uint64_t data_start = 0;
  const nlohmann::json json = read_header(*source, data_start);
  const std::uint64_t data_size = source->size() - data_start;
  Model model;
  model.path = path;
  model.format = "safetensors";
  model.files.push_back(path);
  std::vector<Entry> entries;
  for (const auto& [name, info] : json.items()) {
    if (name != "__metadata__") {
      entries.push_back(header_entry(path, name, info, data_size));
      continue;
    }
    if (!info.is_object()) throw not_safetensors(path, "__metadata__ is not an object");
    for (const auto& [key, value] : info.items()) {
      model.metadata.emplace_back(key, value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  check_no_overlap(path, entries);
  // The file's order means nothing (writers sort names as text): layers in the order people count them.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return natural_less(a.name, b.name); });
  for (const auto& e : entries) {
    const std::uint64_t offset = data_start + e.begin, n = e.end - e.begin;
    TensorReader read = [source, offset, n, dtype = e.dtype, shape = e.shape]() {
      at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
      source->read_at(offset, t.data_ptr(), n);
      count_tensor_bytes(n);
      return t;
    };
    model.tensors.emplace_back(e.name, e.dtype, e.shape, std::move(read), "tensor");
  }
  return model;
}

}  // namespace pevis
