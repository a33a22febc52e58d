// Hostile files and inputs: every subcommand that takes them refuses with
// exit 3 and one line, runs nothing, writes nothing; and text that reaches
// gnuplot never runs a command. The breadth runs in this process, through
// the function `main` calls; a few runs of the real binary check that what
// a shell sees is the same.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "in_process.h"
#include "pevis/base/error.h"
#include "pevis/output/html.h"
#include "pevis/plot/gnuplot.h"
#include "test_util.h"

namespace pevis {
namespace {

const std::string kData = PEVIS_TEST_DATA;
namespace fs = std::filesystem;

test::RunResult pevis(const std::vector<std::string>& args, const test::TempDir& dir,
                      const std::map<std::string, std::string>& env = {}) {
  return test::run_in_process(args, dir.path(), env);
}

test::RunResult pevis_binary(const std::vector<std::string>& args, const test::TempDir& dir) {
  return test::run(PEVIS_BINARY, args, dir.path());
}

void expect_refused(const test::RunResult& r, const std::string& what) {
  EXPECT_EQ(r.exit_code, 3) << what << ": " << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1) << what << ": " << r.err;
  EXPECT_EQ(r.err.rfind("pevis: ", 0), 0u) << what;
  for (const char* noise : {"terminate called", "Exception raised from", "AddressSanitizer", "runtime error:"}) {
    EXPECT_EQ(r.err.find(noise), std::string::npos) << what << ": " << r.err;
  }
}

std::vector<std::string> bad_models() {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(kData + "/bad")) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 4 && name.substr(name.size() - 4) == ".txt") continue;
    files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  files.push_back(kData + "/bad");  // a folder
  files.push_back(kData + "/simple_net.model.pt");
  files.push_back(kData + "/simple_net.legacy.pt");
  files.push_back(kData + "/bad_header_length.safetensors");
  return files;
}

// The commands that take a model, for one file of the corpus.
std::vector<std::vector<std::string>> model_commands(const std::string& file) {
  return {
      {"bias", file},
      {"bias", kData + "/simple_net.state.pt", file},
      {"summary", file, "--input", "ids.txt"},
      {"encoding", file},
      {"attention", file, "--input", "ids.txt"},
      {"export", file, "out.pt"},
  };
}

void expect_nothing_written(const test::TempDir& dir) {
  EXPECT_FALSE(fs::exists(dir / "pevis-out")) << "a refused run wrote output";
  EXPECT_FALSE(fs::exists(dir / "out.pt"));
  EXPECT_FALSE(fs::exists(dir / "SENTINEL"));
}

// Every subcommand that takes a model, on every file of the corpus.
TEST(Hostile, EveryModelSubcommandRefusesTheBadCorpus) {
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "1 2 3");
  const auto files = bad_models();
  ASSERT_GE(files.size(), 18u);
  std::size_t runs = 0;
  for (const auto& file : files) {
    for (const auto& command : model_commands(file)) {
      expect_refused(pevis(command, dir), command[0] + " " + file);
      ++runs;
    }
  }
  EXPECT_EQ(runs, files.size() * 6);
  expect_nothing_written(dir);
}

// The same refusals as a shell sees them, from both executables, for one
// file of each kind of damage: random bytes, a truncated archive, a pickle
// that calls os.system, a file of a newer PyTorch.
TEST(Hostile, TheBinaryRefusesAsTheFunctionDoes) {
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "1 2 3");
  const std::vector<std::string> files = {kData + "/bad/random.bin", kData + "/bad_truncated.pt",
                                          kData + "/bad_os_system.pt", kData + "/bad/newer_operator.pt"};
  for (std::size_t i = 0; i < files.size(); ++i) {
    ASSERT_TRUE(fs::exists(files[i])) << files[i];
    // A different subcommand for each file: bias, bias with two files,
    // summary, encoding (attention and export meet the binary in cli_test).
    {
      const auto command = model_commands(files[i])[i];
      const auto binary = pevis_binary(command, dir);
      expect_refused(binary, "binary: " + command[0] + " " + files[i]);
      EXPECT_EQ(binary.err, pevis(command, dir).err) << command[0] << " " << files[i];
    }
  }
  expect_nothing_written(dir);
}

// Programs that load (every operator is allowed) and fail when run: exit 3
// and one line, never a signal.
TEST(Hostile, ProgramsThatFailWhenRunAreRefused) {
  test::TempDir dir;
  const std::map<std::string, std::string> why = {
      {"pt2_floordiv_min.pt2", "a size overflows: -9223372036854775808 // -1"},
      {"pt2_expand_sum.pt2", "more than the 17179869184 pevis lets one operator take"}};
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(kData + "/hostile_run")) {
    const std::string file = entry.path().string();
    ASSERT_EQ(why.count(entry.path().filename().string()), 1u) << file;
    ++files;
    for (const std::vector<std::string>& command : {std::vector<std::string>{"summary", file},
                                                     std::vector<std::string>{"attention", file}}) {
      const auto r = pevis(command, dir);
      expect_refused(r, command[0] + " " + file);
      EXPECT_NE(r.err.find(why.at(entry.path().filename().string())), std::string::npos) << r.err;
    }
  }
  EXPECT_EQ(files, why.size());
  expect_nothing_written(dir);
}

// A safetensors file whose header is `header`, padded, with no data.
void write_raw_safetensors(const fs::path& path, std::string header) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  test::write_file(path, bytes + header);
}

std::string deep_json(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// JSON nested hundreds of thousands deep overflowed the stack where it was
// parsed, copied or printed: refused before parsing, or ignored where the
// file is only shown (a folder's config.json).
TEST(Hostile, DeeplyNestedJsonIsRefusedWithoutACrash) {
  test::TempDir dir;
  write_raw_safetensors(dir / "deep.safetensors", "{\"__metadata__\":{\"a\":" + deep_json(500000) + "}}");
  auto r = pevis({"bias", "deep.safetensors"}, dir);
  expect_refused(r, "deep safetensors header");
  EXPECT_NE(r.err.find("nests deeper than 256 levels"), std::string::npos) << r.err;

  fs::create_directories(dir / "indexed");
  test::write_safetensors(dir / "indexed" / "a.safetensors", {{"fc.bias", "F32", {2}, test::float_bytes({1, 2})}});
  test::write_file(dir / "indexed" / "model.safetensors.index.json",
                   "{\"metadata\":" + deep_json(300000) + ",\"weight_map\":{\"fc.bias\":\"a.safetensors\"}}");
  r = pevis({"bias", "indexed"}, dir);
  expect_refused(r, "deep index");

  fs::create_directories(dir / "configured");
  test::write_safetensors(dir / "configured" / "model.safetensors", {{"fc.bias", "F32", {2}, test::float_bytes({1, 2})}});
  test::write_file(dir / "configured" / "config.json", "{\"a\":" + deep_json(300000) + "}");
  r = pevis({"summary", "configured", "--format", "none", "--data", "none", "-v"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cannot be read (ignored)"), std::string::npos) << r.out;
}

// A FIFO where a model, a shard or a config.json should be is refused (or,
// for config.json, ignored) at once: opening it used to wait for a writer.
TEST(Hostile, FifosAreRefusedWithoutWaiting) {
  test::TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "model.fifo").c_str(), 0600), 0);
  expect_refused(pevis({"bias", "model.fifo"}, dir), "a FIFO as the model");
  fs::create_directories(dir / "folder");
  ASSERT_EQ(::mkfifo((dir / "folder" / "model.safetensors").c_str(), 0600), 0);
  expect_refused(pevis({"bias", "folder"}, dir), "a FIFO as model.safetensors");
  fs::create_directories(dir / "configured");
  test::write_safetensors(dir / "configured" / "model.safetensors", {{"fc.bias", "F32", {2}, test::float_bytes({1, 2})}});
  ASSERT_EQ(::mkfifo((dir / "configured" / "config.json").c_str(), 0600), 0);
  const auto r = pevis({"bias", "configured", "--format", "none", "--data", "none"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// An index's shard that is a link leading out of the folder is refused.
TEST(Hostile, AShardLinkedFromOutsideTheFolderIsRefused) {
  test::TempDir dir;
  fs::create_directories(dir / "elsewhere");
  fs::create_directories(dir / "model");
  test::write_safetensors(dir / "elsewhere" / "a.safetensors", {{"fc.bias", "F32", {2}, test::float_bytes({1, 2})}});
  fs::create_symlink(dir / "elsewhere" / "a.safetensors", dir / "model" / "a.safetensors");
  test::write_file(dir / "model" / "model.safetensors.index.json", "{\"weight_map\":{\"fc.bias\":\"a.safetensors\"}}");
  const auto r = pevis({"bias", "model"}, dir);
  expect_refused(r, "a shard linked from elsewhere");
  EXPECT_NE(r.err.find("leads outside the folder"), std::string::npos) << r.err;
}

// 100,000 tensors in one header: read (it took 16 s when each key was
// looked up in an ordered object).
TEST(Hostile, AHeaderOfManyTensorsIsRead) {
  test::TempDir dir;
  std::string header = "{";
  for (int i = 0; i < 100000; ++i) {
    header += (i ? "," : "") + std::string("\"t") + std::to_string(i) + ".bias\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
  }
  write_raw_safetensors(dir / "many.safetensors", header + "}");
  const auto r = pevis({"summary", "many.safetensors", "--format", "none", "--data", "none"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(Hostile, BadTextInputsAreRefused) {
  test::TempDir dir;
  const std::string model = "builtin:transformer-lm";
  test::write_file(dir / "words.txt", "the cat");
  test::write_file(dir / "vocab.txt", "the\ncat\n");
  expect_refused(pevis({"attention", model, "--input", kData + "/bad/latin1_tokens.txt"}, dir), "latin-1 tokens");
  expect_refused(pevis({"attention", model, "--input", "words.txt", "--vocab", kData + "/bad/duplicate_vocab.txt"}, dir),
                 "duplicate vocabulary");
  expect_refused(pevis({"summary", model, "--input", kData + "/bad/latin1_tokens.txt"}, dir), "summary latin-1");
  // 100 MB on one line: refused by size before it is read.
  {
    std::ofstream big(dir / "big.txt", std::ios::binary);
    const std::string chunk(1 << 20, 'a');
    for (int i = 0; i < 100; ++i) big << chunk;
  }
  const auto start = std::chrono::steady_clock::now();
  expect_refused(pevis({"attention", model, "--input", "big.txt"}, dir), "100 MB token file");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  // 100k tokens of attention: refused up front, with the limit.
  {
    std::ofstream many(dir / "many.txt");
    for (int i = 0; i < 100000; ++i) many << (i % 20) << ' ';
  }
  const auto r = pevis({"attention", model, "--input", "many.txt"}, dir);
  expect_refused(r, "100k tokens");
  EXPECT_NE(r.err.find("8192"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "pevis-out"));
}

// Text from a model that reaches a message (a tensor's name, a .pt2 string)
// cannot steer the terminal: C0 and C1 controls, bidi overrides and
// isolates, zero-width characters and bytes that are not UTF-8 are shown
// or replaced, never passed on.
TEST(Hostile, MessagesCarryNoTerminalControls) {
  const std::string hostile = "name\x1b]0;owned\x07\xc2\x9b" "2J\xe2\x80\xae" "gnp.exe\xe2\x81\xa6x\xe2\x80\x8b"
                              "\x9b\r\npevis: internal error";
  const std::string message = bad_input(hostile, "a reason " + hostile, "").what();
  for (const char* control : {"\x1b", "\x07", "\x9b", "\r", "\n", "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x80\x8b"}) {
    EXPECT_EQ(message.find(control), std::string::npos) << message;
  }
  EXPECT_NE(message.find("\u27e8U+009B\u27e92J\u27e8U+202E\u27e9gnp.exe\u27e8U+2066\u27e9x\u27e8U+200B\u27e9?"), std::string::npos) << message;
  // Ordinary text, accents and CJK included, is kept as it is.
  EXPECT_EQ(one_line("layers.0.self_attn naïve 注意 ✓"), "layers.0.self_attn naïve 注意 ✓");
}

// Text from a model on the terminal, in tables, figures and pages: a
// safetensors file's tensor names and __metadata__ set the terminal's title
// (ESC ] 0; ... BEL), cleared the screen (CSI 2J, as ESC [ and as the C1
// byte U+009B), split a table row (CR LF) and reversed the text after them
// (U+202E). Each is now shown, one row per name.
TEST(Hostile, ModelTextIsShownNeverObeyed) {
  test::TempDir dir;
  const std::vector<std::string> names = {"l\x1b]0;TITLE\x07.bias", "m\xe2\x80\xae" "etyb.bias", "n\r\nfake row.bias",
                                          "o\xc2\x9b" "2J.bias"};
  std::string header = R"({"__metadata__":{"format":"pt\u001b[2J","note\u202e":"x\ny"})";
  for (std::size_t i = 0; i < names.size(); ++i) {
    header += ",\"" + nlohmann::json(names[i]).dump().substr(1);
    header.pop_back();
    header += "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + std::to_string(8 * i) + "," + std::to_string(8 * i + 8) + "]}";
  }
  header += "}";
  std::string bytes(8, '\0');
  for (int k = 0; k < 8; ++k) bytes[k] = static_cast<char>((header.size() >> (8 * k)) & 0xff);
  test::write_file(dir / "evil.safetensors", bytes + header + test::float_bytes({0, 1, 2, 3, 4, 5, 6, 7}));
  const auto shown_on_the_terminal = [](const std::string& out) {
    for (const char* control : {"\x1b", "\x07", "\r", "\xc2\x9b", "\xe2\x80\xae"}) {
      EXPECT_EQ(out.find(control), std::string::npos) << out;
    }
    EXPECT_NE(out.find("m\u27e8U+202E\u27e9etyb"), std::string::npos) << out;
    EXPECT_NE(out.find("o\u27e8U+009B\u27e92J"), std::string::npos) << out;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) EXPECT_NE(line.rfind("fake row", 0), 0u) << "a row was split: " << out;
  };
  auto r = pevis({"bias", "evil.safetensors", "--verbose", "--format", "none", "--data", "none"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  shown_on_the_terminal(r.out);
  EXPECT_NE(r.out.find("  format = pt [2J\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  note\u27e8U+202E\u27e9 = x y\n"), std::string::npos) << r.out;
  r = pevis({"summary", "evil.safetensors", "--format", "none", "--data", "none"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  shown_on_the_terminal(r.out);
  // Figures and pages show the marks too; data files keep the names exact.
  EXPECT_NE(plot::quote("m\xe2\x80\xae" "etyb").find("m\u27e8U+202E\u27e9etyb"), std::string::npos);
  const std::string page = script_json(nlohmann::json{{"token", "a\xe2\x80\xae" "b\xe2\x81\xa6"}});
  EXPECT_NE(page.find("a\\u27e8U+202E\\u27e9b\\u27e8U+2066\\u27e9"), std::string::npos) << page;
  EXPECT_EQ(html_text("x\xe2\x80\xae<"), "x\u27e8U+202E\u27e9&lt;");
  r = pevis({"bias", "evil.safetensors", "--format", "none", "--data", "json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(test::read_file(dir / "pevis-out/bias.json").find("\"m\xe2\x80\xae" "etyb.bias\""), std::string::npos);
}

TEST(Hostile, NoTextReachingGnuplotRunsACommand) {
  test::TempDir dir;
  // Model files and an output folder named to break out of quotes; their
  // names become figure titles and paths.
  const std::string evil = "it's \"q\" `id>SENTINEL` $(id>SENTINEL) system('id>SENTINEL') @x";
  fs::copy_file(kData + "/simple_net.state.pt", dir / (evil + ".pt"));
  fs::copy_file(kData + "/simple_net.after.ckpt.pt", dir / (evil + " after.pt"));
  fs::copy_file(kData + "/word_lm.pt", dir / (evil + " lm.pt"));
  const std::string newline_name = "line\nbreak.pt";
  fs::copy_file(kData + "/simple_net.state.pt", dir / newline_name);
  std::string vocab;
  for (int i = 0; i < 33; ++i) vocab += "w" + std::to_string(i) + "\n";  // 33 + 7: the model's 40 ids
  vocab += "`id>SENTINEL`\n$(id>SENTINEL)\nit's\n\"q\"\nsystem('id>SENTINEL')\n@x\nnaïve\n";
  test::write_file(dir / "vocab.txt", vocab);
  test::write_file(dir / "seq.txt", "`id>SENTINEL` w1 $(id>SENTINEL) it's \"q\" system('id>SENTINEL') @x naïve");
  const std::string out = "out " + evil;
  const std::vector<std::vector<std::string>> runs = {
      {"bias", evil + ".pt", "--format", "svg", "-o", out + "/1", "--script"},
      {"bias", evil + ".pt", evil + " after.pt", newline_name, "--format", "svg", "-o", out + "/2"},
      {"encoding", evil + " lm.pt", "--format", "svg", "-o", out + "/3"},
      {"summary", evil + " lm.pt", "--input", "seq.txt", "--vocab", "vocab.txt", "--format", "svg", "-o", out + "/4"},
      {"attention", evil + " lm.pt", "--input", "seq.txt", "--vocab", "vocab.txt", "--rollout", "--format", "svg", "-o",
       out + "/5"},
      {"attention", evil + " lm.pt", "--input", "seq.txt", "--vocab", "vocab.txt", "--format", "txt", "--data", "none"},
      {"encoding", "--d-model", "8", "--max-len", "10", "--format", "pdf", "-o", out + "/6"},
  };
  for (const auto& args : runs) {
    const auto r = pevis(args, dir);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "SENTINEL")) << "a command ran";
  EXPECT_FALSE(fs::exists(dir / out / "SENTINEL"));
  // The hostile labels are drawn, not dropped.
  const std::string svg = test::read_file(dir / out / "5/attention/transformer_encoder.layers.0.self_attn.svg");
  EXPECT_NE(svg.find("`id>SENTINEL`"), std::string::npos) << "labels missing";
  EXPECT_NE(svg.find("naïve"), std::string::npos);
  const std::string bias_svg = test::read_file(dir / out / "1/bias.svg");
  EXPECT_NE(bias_svg.find("$(id>SENTINEL)"), std::string::npos);
  // The kept script runs on its own and runs nothing either.
  const auto script = test::run("/usr/bin/env", {"gnuplot", "bias.gp"}, dir / out / "1");
  EXPECT_EQ(script.exit_code, 0) << script.err;
  EXPECT_FALSE(fs::exists(dir / out / "1/SENTINEL"));
}

}  // namespace
}  // namespace pevis
