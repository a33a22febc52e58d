#pragma once
// .safetensors files: an 8-byte header length, a JSON header, the tensors'
// bytes.

#include <cstdint>
#include <memory>
#include <string>

#include "pevis/base/archive.h"
#include "pevis/io/model.h"

namespace pevis {

/// True for the first bytes of a safetensors file (its JSON header begins at
/// byte 8).
bool is_safetensors_head(const std::string& head);

/// Reads a `.safetensors` file's header, validated against the file size;
/// each tensor's bytes are read by a positioned read when first asked for.
Model read_safetensors(const std::string& path);

/// The same from any source of bytes (a file, or bytes in memory).
Model read_safetensors(std::shared_ptr<const ByteSource> source);

}  // namespace pevis
