#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

#include "pevis/base/matrix.h"

namespace pevis {

/// Shortest decimal text that reads back as the same float; non-finite values
/// are spelled `nan`, `inf` and `-inf`.
std::string format_float(float value);

/// One CSV field, quoted as RFC 4180 asks when it holds a comma, a double
/// quote, a CR or LF, or leading/trailing spaces.
std::string csv_field(const std::string& text);

/// Writes `m` as CSV: a header row (`row_title`, then the column labels), then
/// one line per row starting with its label. Lines end in CRLF as RFC 4180 says.
void write_csv(std::ostream& out, const LabeledMatrix& m);

/// Writes `m` as one JSON object `{"name", "row_title", "row_labels",
/// "col_labels", "values"}`, values as an array of rows; non-finite values are
/// the strings "nan", "inf", "-inf" (JSON has no numbers for them).
void write_json(std::ostream& out, const LabeledMatrix& m);

/// Writes `m`'s values as a NumPy .npy file (format 1.0): little-endian
/// float32, C order, shape (rows, cols); `numpy.load` reads it as it is.
void write_npy(std::ostream& out, const LabeledMatrix& m);

/// The bytes `write_npy` writes for `m`.
std::uint64_t npy_bytes(const LabeledMatrix& m);

/// Writes what an .npy file cannot hold beside it: one JSON object
/// `{"name", "row_title", "row_labels", "col_labels", "shape"}`.
void write_npy_labels(std::ostream& out, const LabeledMatrix& m);

/// Shortest decimal text that reads back as the same double; non-finite
/// values as in `format_float`.
std::string format_double(double value);

/// Writes a table as CSV: the header row, then one line per row.
void write_csv(std::ostream& out, const Table& table);

/// Writes a table as JSON: `{"name", "columns", "rows"}`, each row an object
/// from column name to value (non-finite numbers as strings, as for matrices).
void write_json(std::ostream& out, const Table& table);

/// Writes a file so that `path` holds either its old content or the complete
/// new one, never a part: `fill` writes to a temporary file in the same folder,
/// which is renamed over `path` once it is complete. Throws `pevis::Error`
/// (exit 4) when the file cannot be written; the temporary file is removed.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& fill);

/// The same for writers that take a file name (LibTorch's `save`): `write`
/// writes the whole file under the temporary name it is given, which is then
/// renamed over `path`. Every file pevis writes goes through here. Throws
/// `pevis::Error` (exit 4) when `write` throws or the rename fails; the
/// temporary file is removed.
void write_via_temporary(const std::string& path, const std::function<void(const std::string& temp)>& write);

/// Its first half, for a temporary made beforehand: runs `write` on `temp`.
/// Throws `pevis::Error` as it is, and any other exception as exit 4 naming
/// `path`, after trying to remove `temp`.
void write_temporary(const std::string& path, const std::string& temp,
                     const std::function<void(const std::string& temp)>& write);

/// The first half of `write_file_atomic`, for files that must appear together
/// or not at all (`X.npy` and `X.labels.json`): writes the complete file under
/// a temporary name beside `path` and returns that name. Throws as
/// `write_file_atomic` does, leaving no temporary file.
std::string write_staged(const std::string& path, const std::function<void(std::ostream&)>& fill);

/// The second half: renames a staged file over `path`. Throws `pevis::Error`
/// (exit 4) when it cannot, removing the staged file.
void commit_staged(const std::string& staged, const std::string& path);

}  // namespace pevis
