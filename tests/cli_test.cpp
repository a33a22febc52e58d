// Tests of the command line: exit codes, messages and files. Most run the
// command line in this process (the function `main` calls, with the runners
// of pevis-torch); a few per subcommand run the real binary end to end.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "in_process.h"
#include "pevis/encoding/encoding.h"
#include "test_util.h"

namespace pevis {
namespace {

using test::RunResult;

RunResult pevis(const std::vector<std::string>& args, const test::TempDir& dir,
                const std::map<std::string, std::string>& env = {}) {
  return test::run_in_process(args, dir.path(), env);
}

RunResult pevis_binary(const std::vector<std::string>& args, const test::TempDir& dir,
                       const std::map<std::string, std::string>& env = {}) {
  return test::run(PEVIS_BINARY, args, dir.path(), env);
}

// An error is one line on stderr, "pevis: ...", and no LibTorch or C++ runtime noise.
void expect_one_line_error(const RunResult& r, int code, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("pevis: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << "expected '" << fragment << "' in: " << r.err;
  for (const char* noise : {"terminate called", "Exception raised from", "c10::", "what():"}) {
    EXPECT_EQ(r.err.find(noise), std::string::npos) << r.err;
  }
}

TEST(Cli, VersionAndHelp) {
  test::TempDir dir;
  auto r = pevis_binary({"--version"}, dir);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("pevis ", 0), 0u) << r.out;
  r = pevis_binary({"--help"}, dir);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("encoding"), std::string::npos);
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos);
  r = pevis_binary({"encoding", "--help"}, dir);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* text : {"Examples:", "--d-model", "--format", "--data", "--script", "--size", "--palette", "--json"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text;
  }
}

TEST(Cli, UsageErrorsExit2) {
  test::TempDir dir;
  expect_one_line_error(pevis_binary({}, dir), 2, "subcommand");
  expect_one_line_error(pevis_binary({"frobnicate"}, dir), 2, "frobnicate");
  expect_one_line_error(pevis_binary({"encoding"}, dir), 2, "--d-model");
  expect_one_line_error(pevis_binary({"encoding", "--d-model", "abc"}, dir), 2, "abc");
  expect_one_line_error(pevis_binary({"encoding", "--dmodel", "512"}, dir), 2, "did you mean --d-model?");
  expect_one_line_error(pevis_binary({"encoding", "--d-model", "8", "--format", "gif"}, dir), 2, "gif");
  expect_one_line_error(pevis_binary({"encoding", "--d-model", "8", "--size", "10x10"}, dir), 2, "--size");
  expect_one_line_error(pevis_binary({"encoding", "--d-model", "8", "--positions", "abc"}, dir), 2, "--positions");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "a failed run wrote files";
}

TEST(Cli, BadValuesExit3BeforeAnyWork) {
  test::TempDir dir;
  expect_one_line_error(pevis({"encoding", "--d-model", "7"}, dir), 3, "--d-model 7");
  expect_one_line_error(pevis({"encoding", "--d-model", "0"}, dir), 3, "--d-model 0");
  expect_one_line_error(pevis({"encoding", "--d-model", "-4"}, dir), 3, "--d-model -4");
  expect_one_line_error(pevis({"encoding", "--d-model", "8", "--max-len", "0"}, dir), 3, "--max-len 0");
  expect_one_line_error(pevis({"encoding", "--d-model", "8", "--base", "1"}, dir), 3, "--base 1");
  expect_one_line_error(pevis({"encoding", "--d-model", "8", "--dims", "0,8"}, dir), 3, "--dims 8");
  expect_one_line_error(pevis({"encoding", "--d-model", "8", "--max-len", "10", "--positions", "5:50"}, dir), 3,
                        "--positions 5:50");
  const auto start = std::chrono::steady_clock::now();
  expect_one_line_error(pevis({"encoding", "--max-len", "10000000", "--d-model", "100000"}, dir), 3, "TB");
  expect_one_line_error(pevis({"encoding", "--max-len", "9223372036854775807", "--d-model", "9223372036854775806"}, dir),
                        3, "memory");
  // Refused up front, not after trying to allocate terabytes.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "a refused run wrote files";
}

TEST(Cli, EncodingWritesFiguresAndTheExactNumbers) {
  test::TempDir dir;
  const auto r = pevis({"encoding", "--d-model", "16", "--max-len", "40", "--dims", "0,1,8"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"encoding", "encoding-dims", "encoding-similarity"}) {
    EXPECT_TRUE(test::looks_like(dir / ("pevis-out/" + std::string(name) + ".png"), "png")) << name;
    EXPECT_TRUE(std::filesystem::exists(dir / ("pevis-out/" + std::string(name) + ".csv"))) << name;
    EXPECT_NE(r.out.find("pevis-out/" + std::string(name) + ".png"), std::string::npos) << "path not printed";
  }
  // encoding.csv: header position,0..15, then each row equal to the table.
  std::istringstream csv(test::read_file(dir / "pevis-out/encoding.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "position,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\r");
  const at::Tensor pe = sinusoidal_table({16, 40, 10000.0});
  int rows = 0;
  while (std::getline(csv, line)) {
    std::istringstream cells(line);
    std::string cell;
    std::getline(cells, cell, ',');
    ASSERT_EQ(cell, std::to_string(rows));
    for (int d = 0; d < 16; ++d) {
      std::getline(cells, cell, ',');
      EXPECT_EQ(std::stof(cell), pe[rows][d].item<float>()) << "position " << rows << " dim " << d;
    }
    ++rows;
  }
  EXPECT_EQ(rows, 40);
  std::getline(std::istringstream(test::read_file(dir / "pevis-out/encoding-dims.csv")), line);
  EXPECT_EQ(line, "position,0,1,8\r");
}

TEST(Cli, JsonSummaryOnStdoutAndMessagesOnStderr) {
  test::TempDir dir;
  const auto r = pevis_binary({"encoding", "--d-model", "8", "--max-len", "20", "--json", "--data", "json", "--format", "svg",
                        "--script", "-o", "o"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["command"], "encoding");
  EXPECT_EQ(j["d_model"], 8);
  std::map<std::string, int> kinds;
  for (const auto& file : j["files"]) {
    kinds[file["kind"]]++;
    EXPECT_TRUE(std::filesystem::exists(dir / file["path"].get<std::string>())) << file;
  }
  EXPECT_EQ(kinds["figure"], 3);
  EXPECT_EQ(kinds["data"], 3);
  EXPECT_EQ(kinds["script"], 3);
  EXPECT_NE(r.err.find("wrote o/encoding.svg"), std::string::npos);
  EXPECT_TRUE(test::looks_like(dir / "o/encoding.svg", "svg"));
  const auto data = nlohmann::json::parse(test::read_file(dir / "o/encoding.json"));
  EXPECT_EQ(data["row_labels"].size(), 20u);
  EXPECT_EQ(data["values"][0][1], 1);  // cos(0)
}

TEST(Cli, TextFiguresGoToTheTerminal) {
  test::TempDir dir;
  const auto r = pevis_binary({"encoding", "--d-model", "16", "--max-len", "50", "--format", "txt", "--data", "none"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Sinusoidal positional encoding"), std::string::npos);
  EXPECT_NE(r.out.find("shades"), std::string::npos);
  EXPECT_GT(test::count_lines(r.out), 60);
  EXPECT_FALSE(std::filesystem::exists(dir / "pevis-out/encoding.txt"));
}

TEST(Cli, PdfAndPalettes) {
  test::TempDir dir;
  for (const char* palette : {"viridis", "magma", "gray", "diverging"}) {
    const auto r = pevis({"encoding", "--d-model", "8", "--max-len", "16", "--format", "pdf", "--palette", palette,
                          "--size", "640x480", "-o", palette},
                         dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(test::looks_like(dir / (std::string(palette) + "/encoding.pdf"), "pdf")) << palette;
  }
}

TEST(Cli, OutputProblemsExit4) {
  test::TempDir dir, empty;
  test::write_file(dir / "file", "x");
  expect_one_line_error(pevis({"encoding", "--d-model", "8", "-o", "file"}, dir), 4, "file");
  // A folder that cannot be made (a read-only file system), whoever runs the test.
  expect_one_line_error(pevis({"encoding", "--d-model", "8", "-o", "/proc/pevis-out"}, dir), 4, "/proc/pevis-out");
  // Without gnuplot the numbers are still written, and the error says how to get it.
  const auto r = pevis({"encoding", "--d-model", "8", "--max-len", "10", "-o", "nognuplot"}, dir,
                       {{"PATH", empty.path().string()}});
  expect_one_line_error(r, 4, "gnuplot-nox");
  EXPECT_TRUE(std::filesystem::exists(dir / "nognuplot/encoding.csv"));
  EXPECT_FALSE(std::filesystem::exists(dir / "nognuplot/encoding.png"));
}

TEST(Cli, HostileOutputFolderRunsNoCommand) {
  test::TempDir dir;
  const std::string folder = "it's \"`touch SENTINEL`\" $(touch SENTINEL) @x";
  const auto r = pevis({"encoding", "--d-model", "8", "--max-len", "10", "--script", "-o", folder}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(test::looks_like(dir / folder / "encoding.png", "png"));
  EXPECT_FALSE(std::filesystem::exists(dir / "SENTINEL"));
  EXPECT_FALSE(std::filesystem::exists(dir / folder / "SENTINEL"));
}


// ---- pevis bias

const std::string kData = PEVIS_TEST_DATA;

std::vector<std::vector<std::string>> read_csv_rows(const std::filesystem::path& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(test::read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> cells;
    std::istringstream fields(line);
    std::string cell;
    while (std::getline(fields, cell, ',')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

TEST(CliBias, OneFileGivesScatterDistributionAndExactNumbers) {
  test::TempDir dir;
  const auto r = pevis_binary({"bias", kData + "/simple_net.safetensors"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : {"bias.png", "bias-hist.png"}) EXPECT_TRUE(test::looks_like(dir / "pevis-out" / f, "png")) << f;
  EXPECT_NE(r.out.find("fc1.bias"), std::string::npos);
  EXPECT_NE(r.out.find("nonfinite"), std::string::npos);
  const auto expected = nlohmann::json::parse(test::read_file(kData + "/simple_net.expected.json"))["before"];
  const auto rows = read_csv_rows(dir / "pevis-out/bias.csv");
  ASSERT_EQ(rows.size(), 31u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"layer", "index", "value"}));
  for (std::size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(std::stof(rows[i][2]), expected[rows[i][0]][std::stoi(rows[i][1])].get<float>()) << rows[i][0];
  }
  const auto stats = read_csv_rows(dir / "pevis-out/bias-stats.csv");
  EXPECT_EQ(stats[0], (std::vector<std::string>{"layer", "size", "mean", "std", "min", "max", "l2", "nonfinite"}));
  EXPECT_EQ(stats[1][0], "fc1.bias");
  EXPECT_EQ(stats[1][1], "20");
}

TEST(CliBias, TwoFilesShowWhatTrainingChanged) {
  test::TempDir dir;
  const auto r = pevis({"bias", kData + "/simple_net.state.pt", kData + "/simple_net.after.ckpt.pt", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(test::looks_like(dir / "pevis-out/bias-compare.png", "png"));
  EXPECT_NE(r.err.find("l2_change"), std::string::npos);
  const auto e = nlohmann::json::parse(test::read_file(kData + "/simple_net.expected.json"));
  const auto rows = read_csv_rows(dir / "pevis-out/bias-delta.csv");
  EXPECT_EQ(rows[0], (std::vector<std::string>{"layer", "index", "before", "after", "delta"}));
  ASSERT_EQ(rows.size(), 31u);
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const float before = e["before"][rows[i][0]][std::stoi(rows[i][1])].get<float>();
    const float after = e["after"][rows[i][0]][std::stoi(rows[i][1])].get<float>();
    EXPECT_EQ(std::stof(rows[i][2]), before);
    EXPECT_EQ(std::stof(rows[i][3]), after);
    EXPECT_EQ(std::stof(rows[i][4]), after - before);
  }
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["command"], "bias");
  EXPECT_TRUE(j["only_before"].empty());
}

TEST(CliBias, CheckpointsOverTimeDrift) {
  test::TempDir dir;
  const auto r = pevis({"bias", kData + "/simple_net.state.pt", kData + "/simple_net.after.list.pt",
                        kData + "/simple_net.after.ckpt.pt", "--format", "svg"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(test::looks_like(dir / "pevis-out/bias-drift.svg", "svg"));
  const auto rows = read_csv_rows(dir / "pevis-out/bias-drift.csv");
  ASSERT_EQ(rows.size(), 7u);  // 2 layers x 3 checkpoints
  EXPECT_EQ(rows[0][0], "layer");
}

TEST(CliBias, NonFiniteValuesFailTheCheckOnlyWhenAsked) {
  test::TempDir dir;
  auto r = pevis({"bias", kData + "/simple_net.nonfinite.pt", "--format", "none"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = pevis({"bias", kData + "/simple_net.nonfinite.pt", "--format", "none", "--fail-on-nonfinite", "-o", "gate"}, dir);
  expect_one_line_error(r, 5, "2 NaN or Inf values in fc2.bias");
  EXPECT_TRUE(std::filesystem::exists(dir / "gate/bias-stats.csv")) << "the numbers are written before the check fails";
}

TEST(CliBias, BadFilesExit3AndRunNothing) {
  test::TempDir dir;
  expect_one_line_error(pevis({"bias", kData + "/bad_os_system.pt"}, dir), 3, "posix.system");
  expect_one_line_error(pevis({"bias", kData + "/simple_net.model.pt"}, dir), 3, "state_dict()");
  expect_one_line_error(pevis({"bias", kData + "/bad_truncated.pt"}, dir), 3, "truncated");
  expect_one_line_error(pevis({"bias", "no-such-file.pt"}, dir), 3, "no-such-file.pt");
  expect_one_line_error(pevis({"bias", kData}, dir), 3, "folder");
  expect_one_line_error(pevis({"bias", kData + "/simple_net.state.pt", "--match", "("}, dir), 2, "--match");
  expect_one_line_error(pevis({"bias", kData + "/simple_net.state.pt", "--layer", "nothing"}, dir), 3, "--match");
  EXPECT_FALSE(std::filesystem::exists(dir / "SENTINEL"));
  EXPECT_FALSE(std::filesystem::exists(dir / "pevis-out")) << "a refused run wrote files";
}


// ---- pevis attention

TEST(CliAttention, ListsSites) {
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "3 1 4 1 5 9 2 6\n");
  const auto r = pevis({"attention", kData + "/attn_encoder.pt", "--input", "ids.txt", "--list"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("encoder.layers.0.self_attn      4      1        1  1x4x8x8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("encoder.layers.1.self_attn"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "pevis-out"));
}

// --format html: the page alone (the confined binary may write it), or beside
// the figures; html is for attention only and named once.
TEST(CliAttention, TheHtmlPageAloneOrBesideTheFigures) {
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "3 1 4 1 5 9 2 6\n");
  const std::string model = kData + "/attn_encoder.pt";
  auto r = pevis_binary({"attention", model, "--input", "ids.txt", "--format", "html", "--data", "none", "-o", "a"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "wrote a/attention.html\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "a/attention"));
  const std::string page = test::read_file(dir / "a/attention.html");
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("\"name\":\"encoder.layers.1.self_attn\""), std::string::npos);
  r = pevis({"attention", model, "--input", "ids.txt", "--format", "png,html", "--data", "none", "-o", "b"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "b/attention.html"));
  EXPECT_TRUE(std::filesystem::exists(dir / "b/attention/encoder.layers.0.self_attn.png"));
  expect_one_line_error(pevis({"attention", model, "--input", "ids.txt", "--format", "html,html"}, dir), 2, "named twice");
  expect_one_line_error(pevis({"attention", model, "--input", "ids.txt", "--format", "png,svg"}, dir), 2,
                        "one figure format at a time");
  expect_one_line_error(pevis({"bias", model, "--format", "html"}, dir), 2,
                        "made by pevis attention and pevis summary only");
  expect_one_line_error(pevis({"attention", model, "--input", "ids.txt", "--format", "html", "--page-budget", "0.5"}, dir),
                        2, "--page-budget");
}

TEST(CliAttention, WordsWithAVocabularyGivePyTorchsWeights) {
  test::TempDir dir;
  // Ids 3 1 4 1 5 9 2 6 spelled as words of a vocabulary, with hostile spellings.
  std::vector<std::string> vocab;
  for (int i = 0; i < 20; ++i) vocab.push_back("w" + std::to_string(i));
  vocab[3] = "it's";
  vocab[4] = "`id>SENTINEL`";
  vocab[5] = "$(id>SENTINEL)";
  vocab[9] = "\"q\"";
  std::string vocab_text;
  for (const auto& v : vocab) vocab_text += v + "\n";
  test::write_file(dir / "vocab.txt", vocab_text);
  test::write_file(dir / "seq.txt", "it's w1 `id>SENTINEL` w1\n$(id>SENTINEL) \"q\" w2 w6");
  const auto r = pevis_binary({"attention", kData + "/attn_encoder.pt", "--input", "seq.txt", "--vocab", "vocab.txt",
                        "--rollout", "--format", "svg"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "SENTINEL"));
  const auto out = dir / "pevis-out/attention";
  for (const char* f : {"encoder.layers.0.self_attn.svg", "encoder.layers.1.self_attn.svg", "overview.svg", "rollout.svg"}) {
    EXPECT_TRUE(test::looks_like(out / f, "svg")) << f;
  }
  const std::string svg = test::read_file(out / "encoder.layers.0.self_attn.svg");
  EXPECT_NE(svg.find("<text>`id>SENTINEL`</text>"), std::string::npos) << "token labels are drawn";
  const auto e = nlohmann::json::parse(test::read_file(kData + "/attention.expected.json"));
  for (int layer = 0; layer < 2; ++layer) {
    const auto& want = e["attn_encoder.pt"]["sites"]["encoder.layers." + std::to_string(layer) + ".self_attn"][0];
    for (int h = 0; h < 4; ++h) {
      const auto rows = read_csv_rows(out / ("encoder.layers." + std::to_string(layer) + ".self_attn.head" + std::to_string(h) + ".csv"));
      ASSERT_EQ(rows.size(), 9u);
      EXPECT_EQ(rows[1][0], "it's");
      for (int q = 0; q < 8; ++q)
        for (int k = 0; k < 8; ++k) EXPECT_NEAR(std::stod(rows[q + 1][k + 1]), want[h][q][k].get<double>(), 1e-5);
    }
  }
  EXPECT_TRUE(std::filesystem::exists(out / "encoder.layers.1.self_attn.mean.csv"));
  EXPECT_TRUE(std::filesystem::exists(out / "rollout.csv"));
}

TEST(CliAttention, OneHeadOneLayer) {
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "3 1 4 1 5 9 2 6");
  const auto r = pevis({"attention", kData + "/attn_selfattention.pt", "--input", "ids.txt", "--layout", "batch-first",
                        "--head", "2", "--json"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["sites"].size(), 1u);
  EXPECT_EQ(j["sites"][0]["name"], "model");
  EXPECT_EQ(j["sites"][0]["heads"], 4);
  EXPECT_TRUE(test::looks_like(dir / "pevis-out/attention/model.png", "png"));
  const auto encoder = pevis({"attention", kData + "/attn_encoder.pt", "--input", "ids.txt", "--layer", "layers\\.1\\.",
                              "--head", "mean", "-o", "one"},
                             dir);
  ASSERT_EQ(encoder.exit_code, 0) << encoder.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "one/attention/encoder.layers.1.self_attn.png"));
  EXPECT_FALSE(std::filesystem::exists(dir / "one/attention/encoder.layers.0.self_attn.png"));
}

TEST(CliAttention, TimingsCompareCapturingWithAPlainForward) {
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "3 1 4 1 5 9 2 6");
  const auto r = pevis({"attention", kData + "/attn_encoder.pt", "--input", "ids.txt", "--timings", "--json",
                        "--format", "none", "--data", "none"},
                       dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto seconds = nlohmann::json::parse(r.out)["seconds"];
  for (const char* step : {"load", "plain_forward", "plain_forward_warm", "capture", "prepare"}) {
    ASSERT_TRUE(seconds.contains(step)) << step;
    EXPECT_GT(seconds[step].get<double>(), 0.0) << step;
  }
  EXPECT_NE(r.err.find("capturing forward"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("x the first plain run"), std::string::npos) << r.err;
}

TEST(CliAttention, FloatInputOfAGivenShape) {
  test::TempDir dir;
  const auto r = pevis({"attention", kData + "/attn_features.pt", "--input-shape", "1,6,16", "--seed", "3", "--list"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("attn      2      1        1  1x2x6x6"), std::string::npos) << r.out;
  const auto drawn = pevis({"attention", kData + "/attn_features.pt", "--input-shape", "1,6,16"}, dir);
  ASSERT_EQ(drawn.exit_code, 0) << drawn.err;
  const auto rows = read_csv_rows(dir / "pevis-out/attention/attn.head1.csv");
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"query", "0", "1", "2", "3", "4", "5"}));
  double sum = 0;
  for (int k = 1; k <= 6; ++k) sum += std::stod(rows[3][k]);
  EXPECT_NEAR(sum, 1.0, 1e-5);  // each query's weights sum to one
}

TEST(CliAttention, BadInputsAreClearErrors) {
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "3 1 4");
  test::write_file(dir / "words.txt", "the cat");
  test::write_file(dir / "empty.txt", " \n");
  test::write_file(dir / "latin1.txt", "caf\xe9");
  const std::string model = kData + "/attn_encoder.pt";
  expect_one_line_error(pevis({"attention", model}, dir), 2, "--input");
  expect_one_line_error(pevis({"attention", model, "--input", "ids.txt", "--input-shape", "1,2"}, dir), 2, "--input");
  expect_one_line_error(pevis({"attention", kData + "/simple_net.state.pt", "--input", "ids.txt"}, dir), 3, "TorchScript");
  expect_one_line_error(pevis({"attention", model, "--input", "missing.txt"}, dir), 3, "missing.txt");
  expect_one_line_error(pevis({"attention", model, "--input", "words.txt"}, dir), 3, "--vocab");
  expect_one_line_error(pevis({"attention", model, "--input", "empty.txt"}, dir), 3, "no tokens");
  expect_one_line_error(pevis({"attention", model, "--input", "latin1.txt"}, dir), 3, "UTF-8");
  expect_one_line_error(pevis({"attention", model, "--input-shape", "1,3"}, dir), 3, "forward takes (tokens: Tensor)");
  expect_one_line_error(pevis({"attention", model, "--input", "ids.txt", "--head", "7"}, dir), 3, "4 heads");
  expect_one_line_error(pevis({"attention", model, "--input", "ids.txt", "--layer", "nothing"}, dir), 3, "--list");
  test::write_file(dir / "big.txt", "99");
  expect_one_line_error(pevis({"attention", model, "--input", "big.txt"}, dir), 3,
                        "failed on this input: token id 99 is outside the vocabulary of embed (20 rows: ids 0 to 19)");
  EXPECT_FALSE(std::filesystem::exists(dir / "pevis-out"));
}


// ---- built-ins

TEST(CliAttention, WindowsAndBatchesAreSaidAndChosen) {
  test::TempDir dir;
  const std::string swin = kData + "/positions/swin_tiny.scripted.pt";
  auto r = pevis({"attention", swin, "--input-shape", "2,3,16,16", "--list"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("features.1.1.attn      2      2  16 (4x4)  32x2x4x4"), std::string::npos) << r.out;
  r = pevis({"attention", swin, "--input-shape", "2,3,16,16", "--batch-index", "1", "--layer", "features.3.1", "--json"},
            dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["batch_index"], 1);
  EXPECT_EQ(summary["sites"][0]["windows"], 4);
  const auto rows = read_csv_rows(dir / "pevis-out/attention/features.3.1.attn.head3.csv");
  ASSERT_EQ(rows.size(), 1u + 4 * 4);  // header, then 4 windows x 4 queries
  EXPECT_EQ(rows[0][0], "window:query");
  EXPECT_EQ(rows[16][0], "3:3");
  EXPECT_TRUE(test::looks_like(dir / "pevis-out/attention/features.3.1.attn.png", "png"));
  expect_one_line_error(pevis({"attention", swin, "--input-shape", "2,3,16,16", "--batch-index", "2"}, dir), 3,
                        "has a batch of 2");
  expect_one_line_error(pevis({"attention", swin, "--input-shape", "1,3,16,16", "--rollout"}, dir), 3, "16 windows");
}

TEST(CliBuiltins, ListWriteAndExport) {
  test::TempDir dir;
  auto r = pevis({"builtins", "--write", "inputs"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"simple-net", "simple-net-trained", "transformer-lm", "self-attention", "reverse"}) {
    EXPECT_NE(r.out.find(std::string("builtin:") + name + "\n"), std::string::npos) << name;
  }
  EXPECT_EQ(test::read_file(dir / "inputs/reverse.txt"), "3 1 4 1 5 9 2 6\n");
  r = pevis({"attention", "builtin:transformer-lm", "--input", "inputs/seq.txt", "--vocab", "inputs/vocab.txt", "--list"},
            dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("transformer_encoder.layers.1.self_attn"), std::string::npos);
  r = pevis({"attention", "builtin:reverse", "--input", "inputs/reverse.txt", "--layout", "batch-first"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(test::looks_like(dir / "pevis-out/attention/attn.png", "png"));
  r = pevis({"export", "builtin:simple-net", "net.pt"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = pevis({"bias", "net.pt", "builtin:simple-net-trained", "--format", "none"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("fc2.bias"), std::string::npos);
  expect_one_line_error(pevis({"export", "builtin:nothing", "x.pt"}, dir), 3, "the built-ins are");
  expect_one_line_error(pevis({"export", kData + "/simple_net.state.pt", "x.pt"}, dir), 3, "no module");
  expect_one_line_error(pevis({"export", "builtin:simple-net", "no/such/folder/x.pt"}, dir), 4, "x.pt");
}


// ---- pevis summary and pevis encoding MODEL

TEST(CliSummary, TableTotalsAndFiles) {
  test::TempDir dir;
  test::write_file(dir / "six.txt", "1 5 9 2 7 3");
  auto r = pevis_binary({"summary", kData + "/word_lm.pt", "--input", "six.txt", "--json", "--depth", "2"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["total_params"], 19688);
  EXPECT_EQ(j["trainable_params"], 19688);
  EXPECT_EQ(j["non_trainable_params"], 0);
  EXPECT_GT(j["total_mult_adds"].get<std::int64_t>(), 0);
  EXPECT_NE(r.err.find("├─ transformer_encoder: TransformerEncoder"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Total params: 19,688"), std::string::npos);
  EXPECT_TRUE(test::looks_like(dir / "pevis-out/summary.png", "png"));
  const auto rows = read_csv_rows(dir / "pevis-out/summary.csv");
  EXPECT_EQ(rows[0][0], "path");
  EXPECT_TRUE(std::filesystem::exists(dir / "pevis-out/summary-totals.csv"));
  r = pevis({"summary", kData + "/word_lm.pt", "--ascii", "--depth", "4", "--fold-repeats", "--format", "none"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("`- 0: TransformerEncoderLayer (x2, each)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("norm2: LayerNorm"), std::string::npos) << "named siblings are not folded";
  EXPECT_EQ(r.out.find("1: TransformerEncoderLayer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("need a forward pass"), std::string::npos);
  r = pevis({"summary", kData + "/simple_net.safetensors", "--format", "none", "--data", "none"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Total params: 430"), std::string::npos) << r.out;
}

TEST(CliEncodingModel, FindsAndChecksThePositionalTable) {
  test::TempDir dir;
  auto r = pevis_binary({"encoding", kData + "/word_lm.pt", "--list"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("pos_encoder.pe  5000x1x32  buffer"), std::string::npos) << r.out;
  r = pevis({"encoding", kData + "/word_lm.pt", "--positions", "0:100", "--fail-if-not-sinusoidal", "1e-6"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("sinusoidal"), std::string::npos) << r.out;
  EXPECT_TRUE(test::looks_like(dir / "pevis-out/encoding.png", "png"));
  const auto rows = read_csv_rows(dir / "pevis-out/encoding.csv");
  EXPECT_EQ(rows.size(), 101u);
  // A learned table fails the check, after writing its figures.
  r = pevis({"encoding", "builtin:reverse", "--fail-if-not-sinusoidal", "0.01", "-o", "learned"}, dir);
  expect_one_line_error(r, 5, "deviates from the sinusoid");
  EXPECT_TRUE(std::filesystem::exists(dir / "learned/encoding.png"));
  expect_one_line_error(pevis({"encoding", kData + "/simple_net.state.pt"}, dir), 3, "--tensor");
  expect_one_line_error(pevis({"encoding", kData + "/word_lm.pt", "--tensor", "decoder.weight", "--d-model", "8"}, dir), 2,
                        "either");
}

TEST(CliEncoding, RopeAndAlibiComputedWithTheirFiguresAndNumbers) {
  test::TempDir dir;
  const std::string positions = kData + "/positions/";
  auto r = pevis({"encoding", "--kind", "rope", "--config", positions + "llama3.1-8b.config.json", "--positions", "0:16",
                  "--max-len", "32768"},
                 dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("llama3 x8 (original context 8192)"), std::string::npos) << r.out;
  for (const char* name : {"rope-angles", "rope-wavelengths", "rope-decay"}) {
    EXPECT_TRUE(test::looks_like(dir / ("pevis-out/" + std::string(name) + ".png"), "png")) << name;
  }
  auto rows = read_csv_rows(dir / "pevis-out/rope-cos.csv");
  ASSERT_EQ(rows.size(), 17u);
  EXPECT_EQ(rows[0].size(), 65u);  // position, then 64 pairs
  EXPECT_EQ(rows[16][0], "15");
  EXPECT_NEAR(std::stod(rows[16][1]), std::cos(15.0), 1e-6);  // pair 0 turns one radian per position
  rows = read_csv_rows(dir / "pevis-out/rope-wavelengths.csv");
  ASSERT_EQ(rows.size(), 65u);
  EXPECT_EQ(rows[0][1], "inv_freq");
  EXPECT_EQ(rows[0][6], "reference_wavelength");
  // Pair 63 of Llama 3.1 is interpolated by 8: 8 x 2 pi 500000^(126/128).
  EXPECT_NEAR(std::stod(rows[64][2]), 8 * 2 * M_PI * std::pow(500000.0, 126.0 / 128), 1e-3);

  r = pevis({"encoding", "--kind", "alibi", "--heads", "6", "--max-len", "5", "-o", "alibi", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["kind"], "alibi");
  EXPECT_EQ(summary["slopes"].size(), 6u);
  rows = read_csv_rows(dir / "alibi/alibi-slopes.csv");
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(std::stod(rows[1][1]), 0.25);  // 4 heads' first slope 2^-2, then 8 heads' 2^-1, 2^-3
  EXPECT_EQ(std::stod(rows[5][1]), 0.5);
  EXPECT_TRUE(test::looks_like(dir / "alibi/alibi-bias.png", "png"));

  expect_one_line_error(pevis({"encoding", "--kind", "rope"}, dir), 2, "--d-head");
  expect_one_line_error(pevis({"encoding", "--kind", "rotary"}, dir), 2, "rotary");
  expect_one_line_error(pevis({"encoding", "--kind", "rope", "--d-head", "64", "--scaling", "yarn"}, dir), 2, "--factor");
  expect_one_line_error(pevis({"encoding", "--kind", "rope", "--d-head", "63"}, dir), 3, "--d-head 63");
  expect_one_line_error(pevis({"encoding", "--kind", "alibi"}, dir), 2, "--heads");
  expect_one_line_error(pevis({"encoding", "--kind", "alibi", "--heads", "0"}, dir), 3, "--heads 0");
  expect_one_line_error(pevis({"encoding", "--kind", "rope", "--config", kData + "/seq.txt"}, dir), 3, "not valid JSON");
}

TEST(CliEncodingModel, RotaryT5AndSwinTensorsAndTheBaseCheck) {
  test::TempDir dir;
  const std::string positions = kData + "/positions/";
  auto r = pevis({"encoding", positions + "rope_buffers.pt", "--tensor", "llama3.rotary_emb.inv_freq",
                  "--expect-rope-base", "500000", "--format", "none"},
                 dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("base 500000 (d_head 128), llama3 scaling x8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("base 500000 as expected"), std::string::npos) << r.out;
  // A checkpoint converted with the wrong theta fails the check, after writing its data.
  r = pevis({"encoding", positions + "rope_buffers.pt", "--tensor", "qwen2.rotary_emb.inv_freq", "--expect-rope-base",
             "10000", "--format", "none", "-o", "wrong"},
            dir);
  expect_one_line_error(r, 5, "is not base 10000");
  EXPECT_TRUE(std::filesystem::exists(dir / "wrong/rope-wavelengths.csv"));
  expect_one_line_error(pevis({"encoding", positions + "t5_bias.pt", "--expect-rope-base", "10000"}, dir), 2,
                        "not a rotary inv_freq");

  r = pevis({"encoding", positions + "t5_bias.pt", "--list"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight  32x4  tensor  t5"),
            std::string::npos)
      << r.out;
  r = pevis({"encoding", positions + "t5_bias.pt", "--tensor",
             "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", "--max-len", "10", "-o", "t5"},
            dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("causal"), std::string::npos) << r.out;
  EXPECT_EQ(read_csv_rows(dir / "t5/t5-bias.csv").size(), 11u);  // header, relative -9..0
  EXPECT_TRUE(test::looks_like(dir / "t5/t5-matrix.png", "png"));

  r = pevis({"encoding", positions + "swin_bias.pt", "-o", "swin"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("features.1.0.attn.relative_position_bias_table: Swin relative position bias, 3 heads, 49 tokens"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(read_csv_rows(dir / "swin/swin-bias.csv").size(), 1u + 3 * 49);
  EXPECT_TRUE(test::looks_like(dir / "swin/swin-bias.png", "png"));

  // A weights-only folder: the rotary settings its config.json declares.
  r = pevis({"encoding", positions + "llama3_folder", "--list"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("config.json  rope, d_head 128, base 500000, llama3 x8"), std::string::npos) << r.out;
  r = pevis({"encoding", positions + "llama3_folder", "--positions", "0:4", "--format", "none", "-o", "folder"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_csv_rows(dir / "folder/rope-sin.csv").size(), 5u);
  EXPECT_NE(r.out.find("config.json declares rope, d_head 128, base 500000, llama3 x8 (original context 8192): "
                       "model.layers.0.self_attn.rotary_emb.inv_freq matches it"),
            std::string::npos)
      << r.out;
  // A config.json whose rotary settings pevis cannot use is said and ignored, as the folder reader ignores it.
  std::filesystem::create_directories(dir / "odd");
  std::filesystem::copy_file(positions + "llama3_folder/model.safetensors", dir / "odd/model.safetensors");
  test::write_file(dir / "odd/config.json", R"({"rope_theta": 10000})");
  r = pevis({"encoding", (dir / "odd").string(), "--list"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("config.json: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(ignored)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model.layers.0.self_attn.rotary_emb.inv_freq  64  tensor  rope"), std::string::npos) << r.out;
  // A checkpoint converted with the wrong theta: its inv_freq and config.json disagree.
  r = pevis({"encoding", positions + "qwen2_wrong_theta", "--format", "none", "--data", "none"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("base 10000 (d_head 128), no scaling"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("config.json declares rope, d_head 128, base 1000000: "
                       "model.layers.0.self_attn.rotary_emb.inv_freq does not match it"),
            std::string::npos)
      << r.out;
}

TEST(Cli, MaxFilesAndMaxBytesBoundARunBeforeItWrites) {
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "3 1 4 1 5 9 2 6");
  const std::string model = std::string(PEVIS_TEST_DATA) + "/corpus/gpt2.pt";
  const std::vector<std::string> job = {"attention", model, "--input", "ids.txt", "--layout", "batch-first", "-o", "out"};
  auto with = [&job](std::vector<std::string> more) {
    more.insert(more.begin(), job.begin(), job.end());
    return more;
  };
  auto r = pevis(with({"--max-files", "5"}), dir);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("the run would write 15 files, about "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("more than --max-files 5 (draw fewer sites"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out/attention")) << "a refused run wrote something";
  r = pevis(with({"--max-bytes", "1K", "--format", "none"}), dir);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("more than --max-bytes 1 kB (draw fewer sites"), std::string::npos) << r.err;
  for (const std::string bad : {"0", "12Q", "G", "-5M", "5MB", "99999999999999999999", "999999999T"}) {
    r = pevis(with({"--max-bytes", bad}), dir);
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("expected a size such as 800M or 20G"), std::string::npos) << r.err;
  }
  r = pevis(with({"--max-files", "0"}), dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = pevis(with({"--max-files", "15", "--max-bytes", "20M"}), dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "out/attention/overview.png"));
}

// A causal LM handed its ids as [S, 1] (the default layout) reads S
// sequences of one token: every map is 1x1, and pevis says why.
TEST(Cli, MapsOfOneByOneSayWhichLayoutWouldGiveOneSequence) {
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "3 1 4 1 5 9 2 6");
  const std::string model = std::string(PEVIS_TEST_DATA) + "/corpus/llama_trace.pt";
  auto r = pevis({"attention", model, "--input", "ids.txt", "--format", "none", "--data", "none"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("pevis: note: every attention map is 1x1: the model read the 8 tokens as 8 sequences of one"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--layout batch-first gives it one sequence [1, S]"), std::string::npos) << r.err;
  r = pevis({"attention", model, "--input", "ids.txt", "--layout", "batch-first", "--format", "none", "--data", "none"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("1x1"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pevis
