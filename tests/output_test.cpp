#include "pevis/output/products.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "pevis/base/error.h"
#include "pevis/base/parallel.h"
#include "pevis/plot/gnuplot.h"
#include "test_util.h"

namespace pevis {
namespace {

Product heatmap_product(const std::string& name) {
  LabeledMatrix m;
  m.name = name;
  m.row_title = "row";
  m.rows = 3;
  m.cols = 4;
  m.row_labels = index_labels(3);
  m.col_labels = index_labels(4);
  m.values = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  plot::Heatmap heat;
  heat.matrix = m;
  plot::Figure figure;
  figure.name = name;
  figure.title = name;
  figure.panels.push_back({"", "column", "row", heat});
  return {figure, {m}, {}};
}

std::vector<WrittenFile> write_all(std::vector<Product> products, const OutputSpec& spec) {
  std::vector<WrittenFile> files;
  write_products(std::move(products), spec, [&](const WrittenFile& f) { files.push_back(f); });
  return files;
}

TEST(Parallel, CallsEveryIndexOnceAndKeepsWhatEachThrew) {
  std::vector<std::atomic<int>> calls(1000);
  const auto failures = for_each_index(calls.size(), [&](std::size_t i) {
    ++calls[i];
    if (i % 100 == 7) throw std::runtime_error("index " + std::to_string(i));
  });
  ASSERT_EQ(failures.size(), calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i], 1) << i;
    EXPECT_EQ(failures[i] != nullptr, i % 100 == 7) << i;
  }
  try {
    rethrow_first(failures);
    FAIL() << "nothing rethrown";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "index 7");
  }
  EXPECT_NO_THROW(rethrow_first(for_each_index(0, [](std::size_t) { throw 1; })));
}

TEST(Output, WritesFiguresOfEveryFormatWithTheirData) {
  for (const auto format : {plot::Format::kPng, plot::Format::kSvg, plot::Format::kPdf}) {
    test::TempDir dir;
    OutputSpec spec;
    spec.dir = (dir / "out").string();
    spec.figures = format;
    const auto files = write_all({heatmap_product("one"), heatmap_product("sub/two")}, spec);
    const std::string ext = plot::extension(format);
    EXPECT_TRUE(test::looks_like(dir / ("out/one." + ext), ext));
    EXPECT_TRUE(test::looks_like(dir / ("out/sub/two." + ext), ext));
    EXPECT_EQ(test::read_file(dir / "out/one.csv").substr(0, 17), "row,0,1,2,3\r\n0,0,");
    ASSERT_EQ(files.size(), 4u);
    EXPECT_EQ(files[0].kind, "data");
    EXPECT_EQ(files[3].kind, "figure");
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
      EXPECT_EQ(entry.path().string().find(".part-"), std::string::npos) << "left behind: " << entry.path();
    }
  }
}

TEST(Output, JsonDataAndRunnableScripts) {
  test::TempDir dir;
  OutputSpec spec;
  spec.dir = dir.path().string();
  spec.data = DataFormat::kJson;
  spec.scripts = true;
  write_all({heatmap_product("h"), heatmap_product("sub/h2")}, spec);
  const auto j = nlohmann::json::parse(test::read_file(dir / "h.json"));
  EXPECT_EQ(j["values"][2][3], 11);
  // The kept scripts draw the same figures with plain gnuplot, in their own folders.
  std::filesystem::remove(dir / "h.png");
  std::filesystem::remove(dir / "sub/h2.png");
  auto result = test::run(plot::find_gnuplot(), {"h.gp"}, dir.path());
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(test::looks_like(dir / "h.png", "png"));
  result = test::run(plot::find_gnuplot(), {"h2.gp"}, dir / "sub");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(test::looks_like(dir / "sub/h2.png", "png"));
}

TEST(Output, NoneWritesNothingOfThatKind) {
  test::TempDir dir;
  OutputSpec spec;
  spec.dir = dir.path().string();
  spec.figures = std::nullopt;
  spec.data = DataFormat::kNone;
  EXPECT_TRUE(write_all({heatmap_product("h")}, spec).empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Output, WithoutGnuplotDataIsWrittenAndTheErrorSaysSo) {
  test::TempDir dir, empty;
  OutputSpec spec;
  spec.dir = dir.path().string();
  const std::string saved = std::getenv("PATH");
  ::setenv("PATH", empty.path().c_str(), 1);
  std::vector<WrittenFile> files;
  try {
    write_products({heatmap_product("h")}, spec, [&](const WrittenFile& f) { files.push_back(f); });
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kOutput);
  }
  ::setenv("PATH", saved.c_str(), 1);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(dir / "h.csv"));
  EXPECT_FALSE(std::filesystem::exists(dir / "h.png"));
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1) << "a partial figure was left behind";
}

TEST(Output, AFileWhereTheFolderShouldBeIsAnOutputError) {
  test::TempDir dir;
  test::write_file(dir / "taken", "x");
  OutputSpec spec;
  spec.dir = (dir / "taken").string();
  try {
    write_all({heatmap_product("h")}, spec);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kOutput);
  }
}

// A sub-folder pevis writes into (attention/ in OUT/attention/SITE.png) that
// someone planted as a link to another folder is not followed.
TEST(Output, ALinkPlantedInsideTheOutputFolderIsNotFollowed) {
  test::TempDir dir, elsewhere;
  std::filesystem::create_directories(dir / "out");
  std::filesystem::create_directory_symlink(elsewhere.path(), dir / "out" / "attention");
  for (const auto data : {DataFormat::kCsv, DataFormat::kNpy}) {
    OutputSpec spec;
    spec.dir = (dir / "out").string();
    spec.figures = std::nullopt;
    spec.data = data;
    try {
      write_all({heatmap_product("attention/site")}, spec);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kOutput);
      EXPECT_NE(std::string(e.what()).find("symbolic link"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(std::filesystem::is_empty(elsewhere.path()));
}

// gnuplot writes each figure under a temporary name first; a link planted
// under that name is replaced, not written through.
TEST(Output, ALinkPlantedAtAFiguresTemporaryNameIsNotWrittenThrough) {
  test::TempDir dir, elsewhere;
  test::write_file(elsewhere / "victim", "precious");
  std::filesystem::create_symlink(elsewhere / "victim", dir / ("h.png.part-" + std::to_string(::getpid())));
  OutputSpec spec;
  spec.dir = dir.path().string();
  spec.data = DataFormat::kNone;
  const auto files = write_all({heatmap_product("h")}, spec);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(test::looks_like(dir / "h.png", "png"));
  EXPECT_EQ(test::read_file(elsewhere / "victim"), "precious");
}

// X.npy and X.labels.json appear together or not at all, and a failed run
// leaves no data file.
TEST(Output, AFailedRunLeavesNoHalfOfANpyPair) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "h.labels.json");  // in the way of the second file
  OutputSpec spec;
  spec.dir = dir.path().string();
  spec.figures = std::nullopt;
  spec.data = DataFormat::kNpy;
  try {
    write_all({heatmap_product("g"), heatmap_product("h")}, spec);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kOutput);
  }
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1) << "data files or temporary files were left behind";
}

}  // namespace
}  // namespace pevis
