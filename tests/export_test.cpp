#include "pevis/output/data_files.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "pevis/base/error.h"
#include "test_util.h"

namespace pevis {
namespace {

LabeledMatrix small_matrix() {
  LabeledMatrix m;
  m.name = "m";
  m.row_title = "token";
  m.rows = 2;
  m.cols = 3;
  m.row_labels = {"a,b", "say \"hi\""};
  m.col_labels = {"0", "x y", "line\nbreak"};
  m.values = {0.1f, -2.5f, std::numeric_limits<float>::quiet_NaN(), 1e-8f, INFINITY, -INFINITY};
  return m;
}

TEST(Export, FloatsReadBackExactly) {
  EXPECT_EQ(format_float(0.1f), "0.1");
  EXPECT_EQ(format_float(1.0f), "1");
  EXPECT_EQ(format_float(-2.5f), "-2.5");
  EXPECT_EQ(format_float(std::nanf("")), "nan");
  EXPECT_EQ(format_float(INFINITY), "inf");
  EXPECT_EQ(format_float(-INFINITY), "-inf");
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1e6f, 1e6f);
  for (int i = 0; i < 10000; ++i) {
    const float v = dist(rng) * std::pow(10.0f, static_cast<float>(i % 20 - 10));
    EXPECT_EQ(std::strtof(format_float(v).c_str(), nullptr), v);
  }
}

TEST(Export, CsvFieldsAreQuotedAsRfc4180Says) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("line\nbreak"), "\"line\nbreak\"");
  EXPECT_EQ(csv_field("cr\rhere"), "\"cr\rhere\"");
  EXPECT_EQ(csv_field(" lead"), "\" lead\"");
  EXPECT_EQ(csv_field("`touch x`"), "`touch x`");
}

TEST(Export, CsvHasHeaderRowLabelsAndSpelledOutNonFinite) {
  std::ostringstream out;
  write_csv(out, small_matrix());
  EXPECT_EQ(out.str(),
            "token,0,x y,\"line\nbreak\"\r\n"
            "\"a,b\",0.1,-2.5,nan\r\n"
            "\"say \"\"hi\"\"\",1e-08,inf,-inf\r\n");
}

TEST(Export, JsonHasNameLabelsAndValues) {
  std::ostringstream out;
  LabeledMatrix m = small_matrix();
  m.row_labels[0] = "bad \xff utf8";
  write_json(out, m);
  const auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["name"], "m");
  EXPECT_EQ(j["row_title"], "token");
  EXPECT_EQ(j["row_labels"][0], "bad \xEF\xBF\xBD utf8");
  EXPECT_EQ(j["col_labels"][2], "line\nbreak");
  ASSERT_EQ(j["values"].size(), 2u);
  EXPECT_FLOAT_EQ(j["values"][0][0].get<float>(), 0.1f);
  EXPECT_EQ(j["values"][0][2], "nan");
  EXPECT_EQ(j["values"][1][1], "inf");
  EXPECT_EQ(j["values"][1][2], "-inf");
  EXPECT_FLOAT_EQ(j["values"][1][0].get<float>(), 1e-8f);
}

TEST(Export, AtomicWriteReplacesWholeOrNothing) {
  test::TempDir dir;
  const std::string path = (dir / "data.csv").string();
  write_file_atomic(path, [](std::ostream& out) { out << "old"; });
  EXPECT_EQ(test::read_file(path), "old");
  EXPECT_THROW(write_file_atomic(path,
                                 [](std::ostream& out) {
                                   out << "half of the new";
                                   throw bad_input("x", "failed half way");
                                 }),
               Error);
  EXPECT_EQ(test::read_file(path), "old");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) files += entry.is_regular_file();
  EXPECT_EQ(files, 1) << "a temporary file was left behind";
  write_file_atomic(path, [](std::ostream& out) { out << "new"; });
  EXPECT_EQ(test::read_file(path), "new");
}

TEST(Export, UnwritablePlaceIsAnOutputError) {
  test::TempDir dir;
  try {
    write_file_atomic((dir / "missing-folder/data.csv").string(), [](std::ostream& out) { out << "x"; });
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kOutput);
    EXPECT_NE(std::string(e.what()).find("missing-folder/data.csv"), std::string::npos);
  }
}

}  // namespace
}  // namespace pevis
