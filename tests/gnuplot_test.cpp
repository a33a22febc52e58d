#include "pevis/plot/gnuplot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "pevis/base/error.h"
#include "test_util.h"

namespace pevis::plot {
namespace {

// Strings that try to break out of a gnuplot string or run a command.
const std::vector<std::string> kHostile = {
    "it's",
    "`touch SENTINEL`",
    "x\"`touch SENTINEL`\"y",
    "$(touch SENTINEL)",
    "'; system('touch SENTINEL'); '",
    "back\\slash\\n",
    "new\nline",
    "cr\rtab\t",
    "@macro",
    "naïve 注意 ✓",
    "bad \xff\xfe utf8",
    "''",
};

// Reads a single-quoted gnuplot literal back (the way gnuplot does): returns
// false when it is not exactly one literal.
bool parse_single_quoted(const std::string& literal, std::string& text) {
  if (literal.size() < 2 || literal.front() != '\'' || literal.back() != '\'') return false;
  text.clear();
  for (std::size_t i = 1; i + 1 < literal.size(); ++i) {
    if (literal[i] == '\'') {
      if (i + 2 >= literal.size() || literal[i + 1] != '\'') return false;  // the literal would end here
      ++i;
    }
    text += literal[i];
  }
  return true;
}

TEST(Quote, EveryStringStaysOneLiteral) {
  for (const auto& input : kHostile) {
    const std::string quoted = quote(input);
    std::string back;
    ASSERT_TRUE(parse_single_quoted(quoted, back)) << quoted;
    EXPECT_EQ(quoted.find('\n'), std::string::npos);
    EXPECT_EQ(quoted.find('\r'), std::string::npos);
    for (unsigned char c : back) EXPECT_FALSE(c < 0x20 || c == 0x7f) << "control character survived in " << quoted;
  }
}

TEST(Quote, KeepsTextAndDoublesQuotes) {
  EXPECT_EQ(quote("it's"), "'it''s'");
  EXPECT_EQ(quote("''"), "''''''");
  EXPECT_EQ(quote("`touch x`"), "'`touch x`'");
  EXPECT_EQ(quote("$(rm -rf /)"), "'$(rm -rf /)'");
  EXPECT_EQ(quote("a\\b"), "'a\\b'");
  EXPECT_EQ(quote("new\nline"), "'new line'");
  EXPECT_EQ(quote("naïve 注意"), "'naïve 注意'");
  EXPECT_EQ(quote("bad \xff"), "'bad \xEF\xBF\xBD'");
  EXPECT_EQ(quote(""), "''");
}

LabeledMatrix labelled(std::size_t rows, std::size_t cols, const std::vector<std::string>& labels) {
  LabeledMatrix m;
  m.name = "m";
  m.row_title = "token";
  m.rows = rows;
  m.cols = cols;
  for (std::size_t i = 0; i < rows; ++i) m.row_labels.push_back(labels[i % labels.size()]);
  for (std::size_t i = 0; i < cols; ++i) m.col_labels.push_back(labels[(i + 3) % labels.size()]);
  for (std::size_t i = 0; i < rows * cols; ++i) m.values.push_back(static_cast<float>(i % 7) / 7.0f - 0.4f);
  return m;
}

Figure hostile_heatmap() {
  Heatmap heat;
  heat.matrix = labelled(6, 5, kHostile);
  heat.label_rows = heat.label_cols = true;
  heat.value_title = "weight `touch SENTINEL`";
  Figure figure;
  figure.name = "hostile";
  figure.title = "title with it's and `touch SENTINEL` and\nnewline";
  figure.size = {600, 400};
  figure.panels.push_back({"panel $(touch SENTINEL)", "key 'x'", "query \"y\"", heat});
  return figure;
}

Figure two_series() {
  XYPlot xy;
  xy.series.push_back({"dim 0", {0, 1, 2, 3}, {0, 0.5, 1, 0.5}});
  xy.series.push_back({"it's `dim 1`", {0, 1, 2, 3}, {1, 0.5, 0, std::nan("")}});
  XYPlot dots;
  dots.style = XYPlot::Style::kPoints;
  dots.series.push_back({"", {0, 1}, {2, 3}});
  Figure figure;
  figure.name = "lines";
  figure.title = "two panels";
  figure.size = {800, 300};
  figure.columns = 2;
  figure.panels.push_back({"lines", "position", "value", xy});
  figure.panels.push_back({"dots", "", "", dots});
  return figure;
}

void check_golden(const std::string& name, const std::string& text) {
  const std::string path = std::string(PEVIS_GOLDEN_DIR) + "/" + name;
  if (const char* update = std::getenv("PEVIS_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    test::write_file(path, text);
  }
  const std::string golden = test::read_file(path);
  ASSERT_FALSE(golden.empty()) << "missing golden file " << path << " (make it with PEVIS_UPDATE_GOLDEN=1)";
  EXPECT_EQ(text, golden) << "rendered script differs from " << path
                          << "; if the change is intended, rerun with PEVIS_UPDATE_GOLDEN=1";
}

TEST(Render, HostileHeatmapMatchesGolden) {
  check_golden("hostile_heatmap.gp", render_script(hostile_heatmap(), {Format::kPng, "hostile.png"}));
}

TEST(Render, LinePanelsMatchGolden) {
  check_golden("two_series.gp", render_script(two_series(), {Format::kSvg, "lines.svg"}));
}

TEST(Render, TextHeatmapMatchesGolden) {
  check_golden("text_heatmap.gp", render_script(hostile_heatmap(), {Format::kText, ""}));
}

// The script with every single-quoted literal cut out: what gnuplot parses as
// commands. No double quote or backquote may be left there.
std::string outside_literals(const std::string& script) {
  std::string rest;
  bool inside = false;
  for (std::size_t i = 0; i < script.size(); ++i) {
    if (script[i] == '\'') {
      if (inside && i + 1 < script.size() && script[i + 1] == '\'') {
        ++i;
        continue;
      }
      inside = !inside;
      continue;
    }
    if (!inside) rest += script[i];
    else if (script[i] == '\n') ADD_FAILURE() << "newline inside a string literal";
  }
  EXPECT_FALSE(inside) << "unterminated string literal";
  return rest;
}

TEST(Render, UserTextStaysInsideSingleQuotes) {
  for (const auto& script : {render_script(hostile_heatmap(), {Format::kPng, "a.png"}),
                             render_script(two_series(), {Format::kPdf, "b.pdf"}),
                             render_script(hostile_heatmap(), {Format::kText, ""})}) {
    const std::string commands = outside_literals(script);
    EXPECT_EQ(commands.find('"'), std::string::npos) << commands;
    EXPECT_EQ(commands.find('`'), std::string::npos) << commands;
    EXPECT_EQ(commands.find("SENTINEL"), std::string::npos) << commands;
    EXPECT_NE(script.find("noenhanced"), std::string::npos);
  }
}

TEST(Render, LongTitlesAreShortenedInTheMiddleToFit) {
  std::string name = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
  for (int i = 0; i < 3; ++i) name += ".é'`x`";
  Figure figure;
  figure.size = {600, 400};
  figure.title = "T5 bias: " + name + " END";
  XYPlot xy;
  xy.series.push_back({"", {0, 1}, {0, 1}});
  figure.panels.push_back({"panel " + name + " TAIL", "x", "y", xy});
  const std::string script = render_script(figure, {Format::kPng, "t.png"});
  const auto line_of = [&](const std::string& start) {
    const auto at = script.find(start);
    return at == std::string::npos ? std::string() : script.substr(at, script.find('\n', at) - at);
  };
  const std::string title = line_of("set multiplot title ");
  EXPECT_NE(title.find("'T5 bias: encoder"), std::string::npos) << title;
  EXPECT_NE(title.find("é''`x` END'"), std::string::npos) << title;  // the end kept, its quote doubled
  EXPECT_NE(title.find("\xE2\x80\xA6"), std::string::npos) << title;
  EXPECT_LT(title.size(), 120u) << title;  // 63 characters at 600 pixels, and the command
  const std::string panel = line_of("set title ");
  EXPECT_NE(panel.find("TAIL'"), std::string::npos) << panel;
  EXPECT_LT(panel.size(), 100u) << panel;
  EXPECT_EQ(outside_literals(script).find('`'), std::string::npos);
  // Short titles are left as they are.
  figure.title = "short";
  EXPECT_NE(render_script(figure, {Format::kPng, "t.png"}).find("title 'short'"), std::string::npos);
}

// The plot area of panel `index`, in pixels, as the script sets its margins.
std::pair<double, double> plot_pixels(const std::string& script, std::size_t index, const Size& size) {
  const auto from = script.find("# panel " + std::to_string(index) + "\n");
  const auto at = [&](const std::string& side) {
    const auto p = script.find("set " + side + "margin at screen ", from);
    return std::stod(script.substr(p + side.size() + 21));
  };
  return {(at("r") - at("l")) * size.width, (at("t") - at("b")) * size.height};
}

TEST(Render, SquareCellsShrinkTheLongerSideOfThePlot) {
  Heatmap heat;
  heat.matrix = labelled(10, 20, {"p"});
  heat.square_cells = true;
  Figure figure;
  figure.size = {1200, 400};
  figure.panels.push_back({"", "key", "query", heat});
  const std::string script = render_script(figure, {Format::kPng, "sq.png"});
  const auto [width, height] = plot_pixels(script, 0, figure.size);
  EXPECT_NEAR(width / 20, height / 10, 1e-6);  // cells as wide as tall
  EXPECT_LT(width, 1200 - 95 - 140);             // the wide panel gave up width, not height
  heat.square_cells = false;
  figure.panels[0].content = heat;
  const std::string plain = render_script(figure, {Format::kPng, "p.png"});
  EXPECT_NE(plain, script);
}

TEST(Render, NumericTicsLeaveRoomForTheirNumbers) {
  // 1024 values in a narrow panel: gnuplot's own choice (every 100) runs the numbers together.
  XYPlot dots;
  dots.style = XYPlot::Style::kPoints;
  Series s;
  for (int i = 0; i < 1024; ++i) s.x.push_back(i), s.y.push_back(std::sin(i));
  dots.series.push_back(s);
  Figure figure;
  figure.size = {1200, 800};
  figure.columns = 4;
  for (int p = 0; p < 4; ++p) figure.panels.push_back({"v", "index", "value", dots});
  Heatmap heat;
  heat.matrix = labelled(50, 5000, {"p"});
  Figure table;
  table.size = {600, 400};
  table.panels.push_back({"", "dimension", "position", heat});
  for (const Figure* f : {&figure, &table}) {
    const std::string script = render_script(*f, {Format::kPng, "t.png"});
    const auto at = script.find("set xtics ", script.find("# panel 0\n"));
    ASSERT_NE(at, std::string::npos);
    const double step = std::stod(script.substr(at + 10));
    const double span = f == &figure ? 1023 : 5000, digits = 4;
    const double tics = std::floor(span / step) + 1;
    EXPECT_LE(tics * 7.5 * (digits + 1), plot_pixels(script, 0, f->size).first) << "step " << step;
    EXPECT_GE(tics, 3);  // still a readable axis
  }
}

// The lines of a figure's notes, as its script sets them (labels 1000 on).
std::vector<std::string> note_lines(const std::string& script) {
  std::vector<std::string> lines;
  for (auto at = script.find("set label 10"); at != std::string::npos; at = script.find("set label 10", at + 1)) {
    const auto start = script.find('\'', at), end = script.find("' at screen", at);
    if (start == std::string::npos || end == std::string::npos) break;
    lines.push_back(script.substr(start + 1, end - start - 1));
  }
  return lines;
}

// The figure's notes as one text: its lines, joined by spaces.
std::string notes_of(const std::string& script) {
  std::string notes;
  for (const auto& line : note_lines(script)) notes += (notes.empty() ? "" : " ") + line;
  return notes;
}

TEST(Render, ANoteOffersTheDataFileOnlyWhenOneIsWritten) {
  Heatmap heat;
  heat.matrix = labelled(5000, 64, {"p"});
  Figure figure;
  figure.size = {600, 400};
  figure.panels.push_back({"", "dimension", "position", heat});
  EXPECT_NE(notes_of(render_script(figure, {Format::kPng, "a.png"})).find("; the data file has every value"),
            std::string::npos);
  Target without{Format::kPng, "b.png"};
  without.data_written = false;
  const std::string script = render_script(figure, without);
  EXPECT_NE(script.find("box-averaged from 5000x64 to"), std::string::npos);
  EXPECT_EQ(notes_of(script).find("data file"), std::string::npos);
}

TEST(RunGnuplot, TextFiguresDrawTheAxisTitleAndTheNoteOnLinesOfTheirOwn) {
  ASSERT_FALSE(find_gnuplot().empty());
  Heatmap heat;
  heat.matrix = labelled(500, 64, {"p"});
  Figure figure;
  figure.size = {1000, 500};
  figure.panels.push_back({"", "dimension XTITLE", "position", heat});
  test::TempDir dir;
  const auto text = dir / "out.txt";
  const int fd = ::open(text.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  run_gnuplot(render_script(figure, {Format::kText, ""}), dir.path().string(), fd);
  ::close(fd);
  std::istringstream lines(test::read_file(text));
  std::string line, title_line, note_line;
  while (std::getline(lines, line)) {
    if (line.find("XTITLE") != std::string::npos) title_line = line;
    if (line.find("box-averaged") != std::string::npos) note_line = line;
  }
  ASSERT_FALSE(title_line.empty()) << test::read_file(text);
  ASSERT_FALSE(note_line.empty()) << test::read_file(text);
  EXPECT_NE(title_line, note_line) << "the axis title is drawn over the note";
  EXPECT_NE(note_line.find("box-averaged from 500x64 to"), std::string::npos) << note_line;
}

// A note longer than the figure is wide is broken into lines, not cut at
// the right edge (Swin V2's --scale note was).
TEST(RunGnuplot, LongNotesAreWrappedToTheFiguresWidth) {
  ASSERT_FALSE(find_gnuplot().empty());
  Heatmap heat;
  heat.matrix = labelled(8, 8, {"p"});
  Figure figure;
  figure.size = {600, 500};
  figure.panels.push_back({"", "key", "query", heat});
  const std::string note =
      "colours over 0 to the 99th percentile of the weights, 0.0123 (--scale max for 0 to the largest, 0.87); "
      "the rest of this note ENDWORD";
  figure.notes.push_back(note);
  const std::string script = render_script(figure, {Format::kPng, "a.png"});
  const auto lines = note_lines(script);
  EXPECT_GE(lines.size(), 2u) << script;
  for (const auto& line : lines) EXPECT_LE(display_width(line), (600 * 0.98 - 8) / 8) << script;
  test::TempDir dir;
  const auto text = dir / "out.txt";
  const int fd = ::open(text.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  run_gnuplot(render_script(figure, {Format::kText, ""}), dir.path().string(), fd);
  ::close(fd);
  const std::string drawn = test::read_file(text);
  // Every word is drawn whole, the last one too.
  std::istringstream words(note);
  for (std::string word; words >> word;) EXPECT_NE(drawn.find(word), std::string::npos) << word << "\n" << drawn;
}

TEST(Render, ReducesLargeMatricesAndSaysSo) {
  Heatmap heat;
  heat.matrix = labelled(5000, 64, {"p"});
  Figure figure;
  figure.name = "big";
  figure.size = {600, 400};
  figure.panels.push_back({"", "dimension", "position", heat});
  const std::string script = render_script(figure, {Format::kPng, "big.png"});
  EXPECT_NE(script.find("box-averaged from 5000x64"), std::string::npos);
  const auto begin = script.find("<< EOD\n"), end = script.find("\nEOD\n");
  ASSERT_NE(begin, std::string::npos);
  const std::string block = script.substr(begin + 7, end - begin - 7);
  const int rows = test::count_lines(block);
  EXPECT_LT(rows, 400);  // no more rows than the figure has pixels
  EXPECT_GT(rows, 200);

  heat.matrix = labelled(50, 64, {"p"});
  figure.panels[0].content = heat;
  EXPECT_EQ(render_script(figure, {Format::kPng, "small.png"}).find("box-averaged"), std::string::npos);
}

TEST(RunGnuplot, DrawsAndRunsNoCommandFromText) {
  ASSERT_FALSE(find_gnuplot().empty()) << "gnuplot is needed (scripts/bootstrap installs gnuplot-nox)";
  test::TempDir dir;
  const int devnull = ::open("/dev/null", O_WRONLY);
  for (const auto format : {Format::kPng, Format::kSvg, Format::kPdf}) {
    const std::string name = "hostile." + extension(format);
    run_gnuplot(render_script(hostile_heatmap(), {format, name}) + render_script(two_series(), {format, "lines." + extension(format)}),
                dir.path().string(), devnull);
    EXPECT_TRUE(test::looks_like(dir / name, extension(format))) << name;
    EXPECT_TRUE(test::looks_like(dir / ("lines." + extension(format)), extension(format)));
  }
  run_gnuplot(render_script(hostile_heatmap(), {Format::kText, ""}), dir.path().string(), devnull);
  ::close(devnull);
  EXPECT_FALSE(std::filesystem::exists(dir / "SENTINEL")) << "a command in a label was executed";
  // The labels are drawn, not dropped: they are in the SVG's text.
  const std::string svg = test::read_file(dir / "hostile.svg");
  EXPECT_NE(svg.find("`touch SENTINEL`"), std::string::npos);
  EXPECT_NE(svg.find("<text>it's</text>"), std::string::npos);
}

// Heatmap values read as binary float32 draw exactly the image the text
// datablock draws: same cells, same places (box-averaged, offset rows,
// a compact panel, a missing value).
TEST(RunGnuplot, BinaryHeatmapDataDrawsTheSameImageAsText) {
  ASSERT_FALSE(find_gnuplot().empty());
  Heatmap big;
  big.matrix = labelled(300, 170, {"a"});
  for (std::size_t i = 0; i < big.matrix.values.size(); ++i) big.matrix.values[i] = std::sin(0.001f * i * i);
  big.matrix.values[5] = std::nanf("");
  big.row_first = 10;
  Heatmap small;
  small.matrix = labelled(7, 9, {"b"});
  small.compact = true;
  Figure figure;
  figure.name = "same";
  figure.size = {500, 300};
  figure.columns = 2;
  figure.panels.push_back({"big", "dimension", "position", big});
  figure.panels.push_back({"small", "", "", small});

  test::TempDir dir;
  const Script binary = render(figure, {Format::kPng, "binary.png", "data"});
  ASSERT_EQ(binary.files.size(), 2u);
  EXPECT_EQ(binary.files[0].name, "data-0.bin");
  EXPECT_EQ(binary.files[1].bytes.size(), 7 * 9 * sizeof(float));
  EXPECT_EQ(binary.data, "") << "heatmaps need no datablock";
  EXPECT_NE(binary.body.find("'data-1.bin' binary array=(9,7) format='%float32'"), std::string::npos) << binary.body;
  for (const auto& file : binary.files) {
    std::ofstream(dir / file.name, std::ios::binary) << file.bytes;
  }
  run_gnuplot(binary.text(), dir.path().string(), 2);
  run_gnuplot(render_script(figure, {Format::kPng, "text.png"}), dir.path().string(), 2);
  const std::string drawn = test::read_file(dir / "binary.png");
  EXPECT_TRUE(test::looks_like(dir / "binary.png", "png"));
  EXPECT_TRUE(drawn == test::read_file(dir / "text.png")) << "binary and text data drew different images";
  // Text figures keep datablocks: the dumb terminal draws them as labels.
  EXPECT_TRUE(render(figure, {Format::kText, "", "data"}).files.empty());
}

TEST(RunGnuplot, ReportsGnuplotErrors) {
  ASSERT_FALSE(find_gnuplot().empty());
  test::TempDir dir;
  try {
    run_gnuplot("set terminal pngcairo\nplot no_such_function(x)\n", dir.path().string(), 2);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kOutput);
    EXPECT_NE(std::string(e.what()).find("no_such_function"), std::string::npos) << e.what();
  }
}

TEST(RunGnuplot, MissingGnuplotSaysHowToInstall) {
  const std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  test::TempDir empty;
  ::setenv("PATH", empty.path().c_str(), 1);
  EXPECT_EQ(find_gnuplot(), "");
  try {
    run_gnuplot("plot x\n", empty.path().string(), 2);
    ::setenv("PATH", saved.c_str(), 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    ::setenv("PATH", saved.c_str(), 1);
    EXPECT_EQ(e.code(), ExitCode::kOutput);
    EXPECT_NE(std::string(e.what()).find("apt-get install gnuplot-nox"), std::string::npos);
  }
}

}  // namespace
}  // namespace pevis::plot

namespace pevis::plot {
namespace {

// The multiplot title a figure of `width` pixels draws for `title`.
std::string drawn_title(const std::string& title, int width) {
  Figure figure;
  figure.title = title;
  figure.size = {width, 400};
  XYPlot xy;
  xy.series.push_back({"", {0, 1}, {0, 1}});
  figure.panels.push_back({"", "x", "y", xy});
  const std::string script = render_script(figure, {});
  const auto start = script.find("set multiplot title '") + 21;
  return script.substr(start, script.find("' font", start) - start);
}

// A title too long for its figure gives way paths first: a file path to its
// name, a module path to its ends; numbers stay whole.
TEST(Render, LongTitlesShortenPathsNeverNumbers) {
  const std::string title = "Rotary wavelengths: model.layers.0.self_attn.rotary_emb.inv_freq of "
                            "/data/checkpoints/llama/Meta-Llama-3.1-8B/model-00001-of-00004.safetensors "
                            "(base 500000, llama3 x8)";
  EXPECT_EQ(drawn_title(title, 4000), title);  // room enough: whole
  // 1500 pixels: the file path gives way to the file's name.
  EXPECT_EQ(drawn_title(title, 1500),
            "Rotary wavelengths: model.layers.0.self_attn.rotary_emb.inv_freq of model-00001-of-00004.safetensors "
            "(base 500000, llama3 x8)");
  // Narrower: the module path to its ends, then words without numbers.
  EXPECT_EQ(drawn_title(title, 1200), "Rotary wavelengths: model.\xE2\x80\xA6.rotary_emb.inv_freq \xE2\x80\xA6 (base 500000, llama3 x8)");
  for (int width : {1000, 800}) {
    const std::string narrow = drawn_title(title, width);
    EXPECT_LE(narrow.size(), static_cast<std::size_t>(width / 11.5) + 4) << narrow;
    EXPECT_NE(narrow.find("(base 500000, llama3 x8)"), std::string::npos) << narrow;
    EXPECT_EQ(narrow.rfind("Rotary", 0), 0u) << narrow;
  }
}

}  // namespace
}  // namespace pevis::plot
