#include "pevis/output/data_files.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <random>

#include "pevis/base/error.h"

namespace pevis {

namespace {

// Room for any float or double in shortest round-trip form.
constexpr std::size_t kNumberChars = 40;

// Writes `value` at `out` (room for kNumberChars): the shortest text that
// reads back as the same value, or nan, inf, -inf. Returns the end.
template <typename T>
char* number_chars(char* out, T value) {
  const char* word = std::isnan(value) ? "nan" : std::isinf(value) ? (value > 0 ? "inf" : "-inf") : nullptr;
  if (word) return std::copy(word, word + std::strlen(word), out);
  return std::to_chars(out, out + kNumberChars, value).ptr;
}

}  // namespace

std::string format_float(float value) {
  char buffer[kNumberChars];
  return std::string(buffer, number_chars(buffer, value));
}

std::string format_double(double value) {
  char buffer[kNumberChars];
  return std::string(buffer, number_chars(buffer, value));
}

std::string csv_field(const std::string& text) {
  bool needs_quotes = text.find_first_of(",\"\r\n") != std::string::npos ||
                      (!text.empty() && (text.front() == ' ' || text.back() == ' '));
  if (!needs_quotes) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

namespace {

// Numbers formatted into a buffer that goes to the stream in large blocks:
// a matrix of millions of values costs one formatting call per value, no
// string or stream operation.
class NumberWriter {
 public:
  explicit NumberWriter(std::ostream& out) : out_(out) { buffer_.reserve(kBlock + 64); }
  ~NumberWriter() { flush(); }
  NumberWriter(const NumberWriter&) = delete;
  NumberWriter& operator=(const NumberWriter&) = delete;

  void text(const std::string& s) {
    buffer_ += s;
    if (buffer_.size() >= kBlock) flush();
  }
  void put(char c) { buffer_ += c; }
  // `quote_non_finite`: nan and inf inside double quotes (JSON has no such numbers).
  void number(float v, bool quote_non_finite) {
    const bool quoted = quote_non_finite && !std::isfinite(v);
    char digits[kNumberChars];
    if (quoted) buffer_ += '"';
    buffer_.append(digits, number_chars(digits, v));
    if (quoted) buffer_ += '"';
    if (buffer_.size() >= kBlock) flush();
  }
  void flush() {
    out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    buffer_.clear();
  }

 private:
  static constexpr std::size_t kBlock = 1 << 20;
  std::ostream& out_;
  std::string buffer_;
};

}  // namespace

void write_csv(std::ostream& out, const LabeledMatrix& m) {
  NumberWriter writer(out);
  writer.text(csv_field(m.row_title));
  for (const auto& label : m.col_labels) {
    writer.put(',');
    writer.text(csv_field(label));
  }
  writer.text("\r\n");
  for (std::size_t r = 0; r < m.rows; ++r) {
    writer.text(csv_field(m.row_labels[r]));
    const float* row = m.values.data() + r * m.cols;
    for (std::size_t c = 0; c < m.cols; ++c) {
      writer.put(',');
      writer.number(row[c], false);
    }
    writer.text("\r\n");
  }
}

namespace {

std::string json_string(const std::string& text) {
  // Labels can come from files of any encoding: invalid UTF-8 becomes U+FFFD.
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write_json_labels(std::ostream& out, const std::vector<std::string>& labels) {
  out << '[';
  for (std::size_t i = 0; i < labels.size(); ++i) out << (i ? "," : "") << json_string(labels[i]);
  out << ']';
}

}  // namespace

void write_json(std::ostream& out, const LabeledMatrix& m) {
  out << "{\"name\":" << json_string(m.name) << ",\"row_title\":" << json_string(m.row_title)
      << ",\"row_labels\":";
  write_json_labels(out, m.row_labels);
  out << ",\"col_labels\":";
  write_json_labels(out, m.col_labels);
  out << ",\"values\":[";
  NumberWriter writer(out);
  for (std::size_t r = 0; r < m.rows; ++r) {
    writer.text(r ? ",[" : "[");
    const float* row = m.values.data() + r * m.cols;
    for (std::size_t c = 0; c < m.cols; ++c) {
      if (c) writer.put(',');
      writer.number(row[c], true);
    }
    writer.put(']');
  }
  writer.flush();
  out << "]}\n";
}

namespace {

// The .npy header: magic, version 1.0, the length of the header text, and
// the text itself, a Python dict padded with spaces so that the data starts
// at a multiple of 64 bytes, ending in a newline.
std::string npy_header(const LabeledMatrix& m) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(m.rows) + ", " +
                     std::to_string(m.cols) + "), }";
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string header = "\x93NUMPY";
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>((dict.size() >> 8) & 0xff);
  return header + dict;
}

}  // namespace

void write_npy(std::ostream& out, const LabeledMatrix& m) {
  static_assert(sizeof(float) == 4, "float32");
  const std::uint32_t probe = 1;
  const bool little = *reinterpret_cast<const unsigned char*>(&probe) == 1;
  out << npy_header(m);
  if (little) {
    out.write(reinterpret_cast<const char*>(m.values.data()), static_cast<std::streamsize>(m.values.size() * sizeof(float)));
    return;
  }
  for (float v : m.values) {
    char bytes[4];
    std::memcpy(bytes, &v, 4);
    std::reverse(bytes, bytes + 4);
    out.write(bytes, 4);
  }
}

std::uint64_t npy_bytes(const LabeledMatrix& m) { return npy_header(m).size() + m.values.size() * sizeof(float); }

void write_npy_labels(std::ostream& out, const LabeledMatrix& m) {
  out << "{\"name\":" << json_string(m.name) << ",\"row_title\":" << json_string(m.row_title) << ",\"shape\":[" << m.rows
      << "," << m.cols << "],\"row_labels\":";
  write_json_labels(out, m.row_labels);
  out << ",\"col_labels\":";
  write_json_labels(out, m.col_labels);
  out << "}\n";
}

namespace {

std::string cell_text(const Cell& cell) {
  if (const auto* text = std::get_if<std::string>(&cell)) return *text;
  if (const auto* f = std::get_if<float>(&cell)) return format_float(*f);
  if (const auto* d = std::get_if<double>(&cell)) return format_double(*d);
  return std::to_string(std::get<std::int64_t>(cell));
}

std::string cell_json(const Cell& cell) {
  if (const auto* text = std::get_if<std::string>(&cell)) return json_string(*text);
  const std::string number = cell_text(cell);
  const bool finite = !(number == "nan" || number == "inf" || number == "-inf");
  return finite ? number : "\"" + number + "\"";
}

}  // namespace

void write_csv(std::ostream& out, const Table& table) {
  for (std::size_t c = 0; c < table.columns.size(); ++c) out << (c ? "," : "") << csv_field(table.columns[c]);
  out << "\r\n";
  for (const auto& row : table.rows) {
    for (std::size_t c = 0; c < row.size(); ++c) out << (c ? "," : "") << csv_field(cell_text(row[c]));
    out << "\r\n";
  }
}

void write_json(std::ostream& out, const Table& table) {
  out << "{\"name\":" << json_string(table.name) << ",\"columns\":";
  write_json_labels(out, table.columns);
  out << ",\"rows\":[";
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    out << (r ? ",{" : "{");
    for (std::size_t c = 0; c < table.rows[r].size() && c < table.columns.size(); ++c) {
      out << (c ? "," : "") << json_string(table.columns[c]) << ':' << cell_json(table.rows[r][c]);
    }
    out << '}';
  }
  out << "]}\n";
}

namespace {

std::string temporary_name(const std::string& path) {
  std::random_device entropy;
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(entropy() % 1000000);
}

void fill_file(const std::string& path, const std::string& temp, const std::function<void(std::ostream&)>& fill) {
  std::ofstream file(temp, std::ios::binary | std::ios::trunc);
  if (!file) {
    throw output_error(path, std::string("cannot create file: ") + std::strerror(errno),
                       "check that the output folder exists and is writable");
  }
  fill(file);
  file.flush();
  if (!file) throw output_error(path, "writing failed", "check free disk space and permissions");
}

}  // namespace

void commit_staged(const std::string& staged, const std::string& path) {
  if (std::rename(staged.c_str(), path.c_str()) != 0) {
    int saved = errno;
    std::remove(staged.c_str());
    throw output_error(path, std::string("cannot replace file: ") + std::strerror(saved),
                       "check that the output folder is writable");
  }
}

void write_temporary(const std::string& path, const std::string& temp,
                     const std::function<void(const std::string& temp)>& write) {
  try {
    write(temp);
  } catch (const Error&) {
    std::remove(temp.c_str());
    throw;
  } catch (const std::exception& e) {
    std::remove(temp.c_str());
    throw output_error(path, "writing failed: " + first_line(e.what()), "check free disk space and permissions");
  }
}

void write_via_temporary(const std::string& path, const std::function<void(const std::string& temp)>& write) {
  const std::string temp = temporary_name(path);
  write_temporary(path, temp, write);
  commit_staged(temp, path);
}

std::string write_staged(const std::string& path, const std::function<void(std::ostream&)>& fill) {
  const std::string temp = temporary_name(path);
  write_temporary(path, temp, [&](const std::string& name) { fill_file(path, name, fill); });
  return temp;
}

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& fill) {
  commit_staged(write_staged(path, fill), path);
}

}  // namespace pevis
