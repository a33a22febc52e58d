#!/bin/sh
# Runs the browser tests under CTest, a range of page_test.mjs's cases at a time.
#   run.sh FIRST-LAST   cases FIRST to LAST (from 1, in the file's order)
#   run.sh --accepts M  whether Node.js M (a major version) runs the pinned
#                       playwright-core: exit 0 if so
# A missing Node.js, or one older than the pinned playwright-core needs,
# skips the tests (77) on a developer's machine and fails them under CI.
cd "$(dirname "$0")" || exit 1
need=$(sed -n 's/.*"node": *">= *\([0-9][0-9]*\).*/\1/p' package-lock.json | head -n 1)
pinned=$(sed -n 's/.*"playwright-core": *"\([^"]*\)".*/\1/p' package.json | head -n 1)
if [ "${1:-}" = "--accepts" ]; then
  [ -n "$need" ] || { echo "package-lock.json names no Node.js version for playwright-core"; exit 1; }
  [ "$2" -ge "$need" ] && exit 0
  echo "playwright-core $pinned needs Node.js $need or newer, not $2"
  exit 1
fi
skip() {
  echo "$1"
  [ -n "${CI:-}" ] && exit 1
  exit 77
}
command -v node >/dev/null 2>&1 || skip "no node: install nodejs (scripts/test does)"
have=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || skip "node does not run: reinstall nodejs"
[ "$have" -ge "${need:-0}" ] ||
  skip "node $(node --version) is older than the $need that playwright-core $pinned needs: install a newer nodejs"
PEVIS_BROWSER_CASES=$1 exec node page_test.mjs
