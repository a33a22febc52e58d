#include "pevis/base/archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "pevis/base/error.h"
#include "pevis/base/text.h"

namespace pevis {
namespace {

std::atomic<std::uint64_t> bytes_read{0};

class FileSource final : public ByteSource {
 public:
  FileSource(std::string path, int fd, std::uint64_t size) : ByteSource(std::move(path), size), fd_(fd) {}
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  void read_at(std::uint64_t offset, void* out, std::uint64_t n) const override {
    if (offset > size() || n > size() - offset) {
      throw bad_input(name(), "a read past the end of the file (the file is truncated or damaged)");
    }
    auto* to = static_cast<char*>(out);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, to, static_cast<std::size_t>(std::min<std::uint64_t>(n, 1u << 30)),
                                  static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw bad_input(name(), std::string("cannot read the file: ") + std::strerror(errno));
      if (got == 0) throw bad_input(name(), "the file ends early (it changed or was truncated while pevis read it)");
      to += got;
      offset += static_cast<std::uint64_t>(got);
      n -= static_cast<std::uint64_t>(got);
    }
  }

 private:
  int fd_;
};

class MemorySource final : public ByteSource {
 public:
  MemorySource(std::string bytes, std::string name) : ByteSource(std::move(name), bytes.size()), bytes_(std::move(bytes)) {}
  void read_at(std::uint64_t offset, void* out, std::uint64_t n) const override {
    if (offset > size() || n > size() - offset) throw bad_input(name(), "a read past the end of the data (it is truncated or damaged)");
    if (n) std::memcpy(out, bytes_.data() + offset, static_cast<std::size_t>(n));
  }

 private:
  std::string bytes_;
};

std::uint64_t le(const std::string& s, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

}  // namespace

std::string ByteSource::read_string(std::uint64_t offset, std::uint64_t n) const {
  std::string bytes(static_cast<std::size_t>(n), '\0');
  read_at(offset, bytes.data(), n);
  return bytes;
}

std::shared_ptr<const ByteSource> open_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused
  // below as not a regular file); reads of a regular file ignore the flag.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int error = errno;
    throw bad_input(path, std::string("cannot open the file: ") + std::strerror(error),
                    error == EACCES ? "check its permissions" : "check the path");
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw bad_input(path, "this is not a regular file", "give the path of a model file");
  }
  return std::make_shared<FileSource>(path, fd, static_cast<std::uint64_t>(info.st_size));
}

std::shared_ptr<const ByteSource> memory_source(std::string bytes, std::string name) {
  return std::make_shared<MemorySource>(std::move(bytes), std::move(name));
}

bool is_zip_head(const std::string& head) { return head.rfind(std::string("PK\x03\x04", 4), 0) == 0; }

std::shared_ptr<const ZipArchive> open_pytorch_archive(std::shared_ptr<const ByteSource> source) {
  return std::make_shared<const ZipArchive>(std::move(source), "PyTorch zip archive");
}

std::uint64_t tensor_bytes_read() { return bytes_read.load(); }
void count_tensor_bytes(std::uint64_t n) { bytes_read += n; }

ZipArchive::ZipArchive(std::shared_ptr<const ByteSource> source, std::string kind)
    : source_(std::move(source)), kind_(std::move(kind)) {
  const std::uint64_t size = source_->size();
  // The end-of-central-directory record lies in the last 64 KiB + 22 bytes.
  const std::uint64_t tail_size = std::min<std::uint64_t>(size, 65536 + 22);
  const std::uint64_t tail_start = size - tail_size;
  const std::string tail = source_->read_string(tail_start, tail_size);
  const auto at = tail.rfind(std::string("PK\x05\x06", 4));
  if (at == std::string::npos || tail.size() - at < 22) damaged("no end of central directory (the file is truncated?)");
  std::uint64_t entries = le(tail, at + 10, 2), dir_size = le(tail, at + 12, 4), dir_offset = le(tail, at + 16, 4);
  if (entries == 0xffff || dir_size == 0xffffffffu || dir_offset == 0xffffffffu) {
    // ZIP64: a locator just before the record gives the offset of the larger record.
    if (at < 20 || tail.compare(at - 20, 4, std::string("PK\x06\x07", 4)) != 0) damaged("a ZIP64 archive without its locator");
    const std::uint64_t record = le(tail, at - 20 + 8, 8);
    if (record > size || size - record < 56) damaged("the ZIP64 record lies past the end of the file");
    const std::string z64 = source_->read_string(record, 56);
    if (z64.compare(0, 4, std::string("PK\x06\x06", 4)) != 0) damaged("the ZIP64 record is malformed");
    entries = le(z64, 32, 8);
    dir_size = le(z64, 40, 8);
    dir_offset = le(z64, 48, 8);
  }
  if (dir_offset > size || dir_size > size - dir_offset) damaged("the central directory lies past the end of the file");
  if (entries > dir_size / 46) damaged("the central directory is shorter than its entries");
  const std::string dir = source_->read_string(dir_offset, dir_size);
  std::set<std::string> folded_names;
  std::size_t pos = 0;
  for (std::uint64_t i = 0; i < entries; ++i) {
    if (pos + 46 > dir.size() || dir.compare(pos, 4, std::string("PK\x01\x02", 4)) != 0) {
      damaged("the central directory is malformed");
    }
    Entry e;
    e.method = static_cast<unsigned>(le(dir, pos + 10, 2));
    e.crc = static_cast<std::uint32_t>(le(dir, pos + 16, 4));
    e.compressed = le(dir, pos + 20, 4);
    e.size = le(dir, pos + 24, 4);
    const std::size_t name_len = le(dir, pos + 28, 2), extra_len = le(dir, pos + 30, 2), comment = le(dir, pos + 32, 2);
    e.header = le(dir, pos + 42, 4);
    if (pos + 46 + name_len + extra_len > dir.size()) damaged("the central directory is malformed");
    std::string name = dir.substr(pos + 46, name_len);
    // ZIP64 extra field: the 64-bit values of the fields that read 0xffffffff, in this order.
    std::size_t x = pos + 46 + name_len;
    const std::size_t x_end = x + extra_len;
    while (x + 4 <= x_end) {
      const std::uint64_t id = le(dir, x, 2), len = le(dir, x + 2, 2);
      if (x + 4 + len > x_end) damaged("an entry's extra field is malformed");
      if (id == 1) {
        std::size_t v = x + 4;
        for (std::uint64_t* field : {&e.size, &e.compressed, &e.header}) {
          if (*field != 0xffffffffu) continue;
          if (v + 8 > x + 4 + len) damaged("an entry's ZIP64 field is malformed");
          *field = le(dir, v, 8);
          v += 8;
        }
      }
      x += 4 + len;
    }
    if (e.method != 0 && e.method != 8) damaged("the entry " + name + " uses compression method " + std::to_string(e.method));
    if (e.method == 0 && e.compressed != e.size) damaged("the sizes of " + name + " disagree");
    // Deflate expands at most about 1032 times: a larger claim is a lie.
    if (e.method == 8 && e.size / 1032 > e.compressed + 1) damaged("the entry " + name + " claims more than its data can inflate to");
    if (e.header > size || e.compressed > size - e.header) damaged("the entry " + name + " lies past the end of the file");
    // LibTorch's zip lookup ignores case: of two such entries, pevis could
    // not know which one LibTorch reads.
    if (!folded_names.insert(lower_case(name)).second) damaged("two entries are named " + one_line(name) + " (letter case aside)");
    entries_[std::move(name)] = e;
    pos += 46 + name_len + extra_len + comment;
  }
}

void ZipArchive::damaged(const std::string& why) const {
  throw bad_input(source_->name(), "not a readable " + kind_ + ": " + why, "the file may be truncated or damaged");
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
  const auto found = entries_.find(name);
  return found == entries_.end() ? nullptr : &found->second;
}

std::vector<std::string> ZipArchive::names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

const std::string* ZipArchive::find_suffix(const std::string& suffix) const {
  for (const auto& [name, e] : entries_) {
    if (name == suffix || (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
                           name[name.size() - suffix.size() - 1] == '/')) {
      return &name;
    }
  }
  return nullptr;
}

void ZipArchive::read(const std::string& name, const Entry& e, void* out) const {
  const std::string local = source_->read_string(e.header, 30);
  if (local.compare(0, 4, std::string("PK\x03\x04", 4)) != 0) damaged("the local header of " + name + " is malformed");
  const std::uint64_t start = e.header + 30 + le(local, 26, 2) + le(local, 28, 2);
  if (start > source_->size() || e.compressed > source_->size() - start) damaged("the entry " + name + " lies past the end of the file");
  if (e.method == 0) {
    source_->read_at(start, out, e.size);
  } else {
    const std::string packed = source_->read_string(start, e.compressed);
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) damaged("zlib cannot start");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
    z.avail_in = static_cast<uInt>(std::min<std::uint64_t>(packed.size(), 0xffffffffu));
    z.next_out = static_cast<Bytef*>(out);
    z.avail_out = static_cast<uInt>(std::min<std::uint64_t>(e.size, 0xffffffffu));
    const int status = inflate(&z, Z_FINISH);
    const std::uint64_t produced = z.total_out;
    inflateEnd(&z);
    if (status != Z_STREAM_END || produced != e.size || e.size > 0xffffffffu) damaged("the entry " + name + " does not inflate to its size");
  }
  // zlib's crc32 takes at most 4 GiB at a time.
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* bytes = static_cast<const Bytef*>(out);
  for (std::uint64_t done = 0; done < e.size;) {
    const auto step = static_cast<uInt>(std::min<std::uint64_t>(e.size - done, 1u << 30));
    crc = crc32(crc, bytes + done, step);
    done += step;
  }
  // torch.save can be told to write no checksums (torch.serialization.set_crc32_options); they read 0.
  if (e.crc != 0 && static_cast<std::uint32_t>(crc) != e.crc) damaged("the entry " + name + " fails its checksum");
}

std::string ZipArchive::read(const std::string& name) const {
  const Entry* e = find(name);
  if (!e) damaged("it lacks " + name);
  std::string bytes(static_cast<std::size_t>(e->size), '\0');
  read(name, *e, bytes.data());
  return bytes;
}

}  // namespace pevis
