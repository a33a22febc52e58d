// The README and the pages of docs/: every link reaches a file that exists
// and, where it names a heading, a heading that exists; every picture is
// there; the README stays a front page.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace pevis {
namespace {

namespace fs = std::filesystem;
const fs::path kRoot = fs::path(PEVIS_TEST_DATA) / ".." / "..";

// A heading's anchor as GitHub makes it: lower case, punctuation other than
// '-' and '_' dropped, spaces to '-'.
std::string anchor_of(const std::string& heading) {
  std::string out;
  for (const unsigned char c : heading) {
    if (c >= 0x80 || std::isalnum(c) || c == '-' || c == '_') out += static_cast<char>(std::tolower(c));
    else if (c == ' ') out += '-';
  }
  return out;
}

// The anchors of a Markdown file's headings (outside code blocks).
std::set<std::string> anchors_of(const fs::path& file) {
  std::set<std::string> anchors;
  std::istringstream lines(test::read_file(file));
  bool code = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("```", 0) == 0) code = !code;
    if (code || line.empty() || line[0] != '#') continue;
    const auto text = line.find_first_not_of('#');
    if (text == std::string::npos || line[text] != ' ') continue;
    anchors.insert(anchor_of(line.substr(text + 1)));
  }
  return anchors;
}

struct Link {
  fs::path file;
  std::size_t line;
  std::string target;
};

// The links and pictures of a Markdown file, outside code blocks and code spans.
std::vector<Link> links_of(const fs::path& file) {
  std::vector<Link> links;
  std::istringstream lines(test::read_file(file));
  static const std::regex link(R"(\]\(([^()\s]+)\))");
  static const std::regex code_span("`[^`]*`");
  bool code = false;
  std::size_t number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    if (line.rfind("```", 0) == 0) code = !code;
    if (code || line.rfind("    ", 0) == 0) continue;
    const std::string text = std::regex_replace(line, code_span, "``");
    for (std::sregex_iterator it(text.begin(), text.end(), link), end; it != end; ++it) {
      links.push_back({file, number, (*it)[1].str()});
    }
  }
  return links;
}

std::vector<fs::path> pages() {
  std::vector<fs::path> files = {kRoot / "README.md"};
  for (const auto& entry : fs::directory_iterator(kRoot / "docs")) {
    if (entry.path().extension() == ".md") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Docs, EveryLinkReachesAFileAndAHeadingThatExist) {
  std::size_t checked = 0, to_headings = 0;
  for (const auto& page : pages()) {
    for (const auto& link : links_of(page)) {
      const std::string where = page.filename().string() + ":" + std::to_string(link.line) + ": " + link.target;
      if (link.target.rfind("http://", 0) == 0 || link.target.rfind("https://", 0) == 0) continue;
      const auto hash = link.target.find('#');
      const std::string path = link.target.substr(0, hash);
      const fs::path target = path.empty() ? page : page.parent_path() / path;
      ++checked;
      ASSERT_TRUE(fs::exists(target)) << where << ": no such file";
      if (hash == std::string::npos) continue;
      ++to_headings;
      EXPECT_EQ(anchors_of(target).count(link.target.substr(hash + 1)), 1u) << where << ": no such heading";
    }
  }
  // The README and the pages link to each other and show pictures.
  EXPECT_GT(checked, 60u);
  EXPECT_GT(to_headings, 5u);
}

TEST(Docs, EveryPageOfDocsIsLinkedFromTheReadme) {
  std::set<std::string> linked;
  for (const auto& link : links_of(kRoot / "README.md")) linked.insert(link.target.substr(0, link.target.find('#')));
  for (const auto& page : pages()) {
    if (page.filename() == "README.md") continue;
    EXPECT_EQ(linked.count("docs/" + page.filename().string()), 1u) << page;
  }
}

TEST(Docs, TheReadmeIsAFrontPage) {
  std::istringstream lines(test::read_file(kRoot / "README.md"));
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line);) ++count;
  EXPECT_LE(count, 350u) << "the reference belongs in docs/";
}

// The checker finds what it is meant to find.
TEST(Docs, TheCheckerSeesBrokenLinks) {
  test::TempDir dir;
  {
    std::ofstream out(dir / "a.md");
    out << "# A page: `with code`\n\nSee [b](b.md#missing), [here](#a-page-with-code), `[not](a link)`.\n"
           "```\n[code](nowhere.md)\n```\n";
    std::ofstream(dir / "b.md") << "## Present\n";
  }
  const auto links = links_of(dir / "a.md");
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[0].target, "b.md#missing");
  EXPECT_EQ(anchors_of(dir / "b.md").count("missing"), 0u);
  EXPECT_EQ(anchors_of(dir / "a.md").count("a-page-with-code"), 1u);
  EXPECT_EQ(anchor_of("The interactive page: `--format html`"), "the-interactive-page---format-html");
}

}  // namespace
}  // namespace pevis
