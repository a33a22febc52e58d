#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pevis {

/// Bytes that can be read at any offset, from several threads at once: a file
/// (positioned reads, nothing mapped or held) or a buffer in memory.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// The source's name in messages: a path, or a path and what inside it.
  const std::string& name() const { return name_; }
  std::uint64_t size() const { return size_; }
  /// Reads exactly `n` bytes at `offset` into `out`. Throws `pevis::Error`
  /// (exit 3) naming the source when they are not there.
  virtual void read_at(std::uint64_t offset, void* out, std::uint64_t n) const = 0;
  /// The same, as a string.
  std::string read_string(std::uint64_t offset, std::uint64_t n) const;

 protected:
  ByteSource(std::string name, std::uint64_t size) : name_(std::move(name)), size_(size) {}

 private:
  std::string name_;
  std::uint64_t size_;
};

/// Opens a regular file for positioned reads. Throws `pevis::Error` (exit 3)
/// for a missing, unreadable or non-regular file.
std::shared_ptr<const ByteSource> open_file(const std::string& path);

/// Bytes held in memory, named `name` in messages.
std::shared_ptr<const ByteSource> memory_source(std::string bytes, std::string name);

/// The bytes of tensor data pevis has read from model files since the
/// process started (headers, directories and pickles not counted): how tests
/// and `--verbose` tell that only what is shown was read.
std::uint64_t tensor_bytes_read();

/// Adds to that count; called by the readers of tensor data.
void count_tensor_bytes(std::uint64_t n);

class ZipArchive;

/// True for the first bytes of a zip archive (a local file header).
bool is_zip_head(const std::string& head);

/// `source` opened as a zip archive of PyTorch's (a checkpoint, TorchScript
/// or torch.export archive), named so in messages.
std::shared_ptr<const ZipArchive> open_pytorch_archive(std::shared_ptr<const ByteSource> source);

/// A zip archive as PyTorch writes them (`torch.save`, `torch.jit.save`,
/// `torch.export.save`), ZIP64 included. The central directory is read and
/// checked against the source's size when the archive is opened; an entry's
/// bytes are read only when asked for, and their CRC-32 is checked.
class ZipArchive {
 public:
  struct Entry {
    std::uint64_t size = 0;        ///< uncompressed bytes
    std::uint64_t compressed = 0;  ///< bytes in the archive
    std::uint64_t header = 0;      ///< offset of the local header
    std::uint32_t crc = 0;
    unsigned method = 0;           ///< 0 stored, 8 deflated
  };

  /// `kind` names the archive in messages ("PyTorch zip archive"). Throws
  /// `pevis::Error` (exit 3) for a damaged or truncated directory.
  ZipArchive(std::shared_ptr<const ByteSource> source, std::string kind);

  /// The entry named `name`, or null.
  const Entry* find(const std::string& name) const;
  /// Every entry's name, in name order.
  std::vector<std::string> names() const;
  /// The name of an entry that is `suffix` or ends in `/suffix`, or null.
  const std::string* find_suffix(const std::string& suffix) const;

  /// Reads an entry whole into `out` (`entry.size` bytes), checking its CRC.
  /// Throws `pevis::Error` (exit 3) naming `name`.
  void read(const std::string& name, const Entry& entry, void* out) const;
  /// The same, as a string.
  std::string read(const std::string& name) const;

  const ByteSource& source() const { return *source_; }

 private:
  [[noreturn]] void damaged(const std::string& why) const;

  std::shared_ptr<const ByteSource> source_;
  std::string kind_;
  std::map<std::string, Entry> entries_;
};

}  // namespace pevis
