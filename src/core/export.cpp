#include "pevis/export.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <random>

#include "pevis/error.h"

namespace pevis {

std::vector<std::string> index_labels(std::size_t count, long long first) {
  std::vector<std::string> labels;
  labels.reserve(count);
  for (std::size_t i = 0; i < count; ++i) labels.push_back(std::to_string(first + static_cast<long long>(i)));
  return labels;
}

std::string format_float(float value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[32];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string format_double(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[40];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
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

void write_csv(std::ostream& out, const LabeledMatrix& m) {
  out << csv_field(m.row_title);
  for (const auto& label : m.col_labels) out << ',' << csv_field(label);
  out << "\r\n";
  for (std::size_t r = 0; r < m.rows; ++r) {
    out << csv_field(m.row_labels[r]);
    for (std::size_t c = 0; c < m.cols; ++c) out << ',' << format_float(m.at(r, c));
    out << "\r\n";
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
  for (std::size_t r = 0; r < m.rows; ++r) {
    out << (r ? ",[" : "[");
    for (std::size_t c = 0; c < m.cols; ++c) {
      float v = m.at(r, c);
      if (c) out << ',';
      if (std::isfinite(v)) out << format_float(v);
      else out << '"' << format_float(v) << '"';
    }
    out << ']';
  }
  out << "]}\n";
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

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& fill) {
  std::random_device entropy;
  std::string temp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(entropy() % 1000000);
  {
    std::ofstream file(temp, std::ios::binary | std::ios::trunc);
    if (!file) {
      throw output_error(path, std::string("cannot create file: ") + std::strerror(errno),
                         "check that the output folder exists and is writable");
    }
    try {
      fill(file);
    } catch (...) {
      file.close();
      std::remove(temp.c_str());
      throw;
    }
    file.flush();
    if (!file) {
      std::remove(temp.c_str());
      throw output_error(path, "writing failed", "check free disk space and permissions");
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    int saved = errno;
    std::remove(temp.c_str());
    throw output_error(path, std::string("cannot replace file: ") + std::strerror(saved),
                       "check that the output folder is writable");
  }
}

}  // namespace pevis
