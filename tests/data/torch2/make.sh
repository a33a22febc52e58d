#!/usr/bin/env bash
# Makes the fixtures of tests/data/torch2 with PyTorch 2.6 and torchvision 0.21,
# which Debian 13 "trixie" packages. They run in a root of their own, made
# here with debootstrap (installed from Debian 12 when missing), so the
# machine's LibTorch 1.13 stays as it is: scripts/debian13, which
# scripts/test --debian13 uses too. The tests do not need this: the fixtures
# and their reference values are committed.
#
#   tests/data/torch2/make.sh              the fixtures and .pt2 programs, then the operator survey
#   tests/data/torch2/make.sh --no-survey  the fixtures and programs only (about a minute)
#   PEVIS_TRIXIE_ROOT=DIR ...              where the root lives (made once, kept)
#
# Making the root takes about 4 minutes on a 2-core machine (debootstrap 1:15,
# packages 2:35), once for both uses. The survey scripts and traces some 330 models (about 25
# minutes, 38 GB of files, removed as they are checked).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
survey=1
[ "${1:-}" = "--no-survey" ] && survey=0
packages=(python3-torch python3-torchvision python3-safetensors)

as_root=()
[ "$(id -u)" -ne 0 ] && as_root=(sudo)
# The same Debian 13 root as scripts/test --debian13 (made once, kept).
root=$("$here/../../../scripts/debian13" root "${packages[@]}")

# The scripts run inside the root on a copy; their outputs come back here.
work="$root/tmp/pevis-torch2"
rm -rf "$work" && mkdir -p "$work/out" "$work/files"
cp "$here"/make_fixtures.py "$here"/make_exports.py "$here"/make_sdpa_forms.py "$here"/survey.py "$work/"
in_root() { "${as_root[@]}" chroot "$root" /usr/bin/env OMP_NUM_THREADS=1 "$@" 2> >(grep -v "UCX\|cpuinfo" >&2); }
rm -f "$here"/v26_* "$here"/v113_* "$here"/pt2_*
in_root python3 /tmp/pevis-torch2/make_fixtures.py /tmp/pevis-torch2/out
in_root python3 /tmp/pevis-torch2/make_exports.py /tmp/pevis-torch2/out
in_root python3 /tmp/pevis-torch2/make_sdpa_forms.py /tmp/pevis-torch2/out
cp "$work"/out/* "$here/"
mv "$here/v26_unknown_op.pt" "$here/../bad/newer_operator.pt"
for bad in "$here"/bad_pt2_*.pt2; do mv "$bad" "$here/../bad/${bad##*/bad_}"; done

# PyTorch 1.13's traces of the fused kernels, made on this machine.
cd "$here/../../.."
PEVIS_EXTRA_PACKAGES="python3-torch python3-torchvision" scripts/bootstrap
OMP_NUM_THREADS=1 /usr/bin/python3 "$here/make_fixtures.py" "$here"

[ "$survey" = 1 ] || { echo "pevis: fixtures written to $here" >&2; exit 0; }

# The survey: every operator the files of PyTorch 2.6 call, and whether
# pevis loads each file (the files are removed once checked).
in_root python3 /tmp/pevis-torch2/survey.py /tmp/pevis-torch2/survey.json /tmp/pevis-torch2/files
scripts/build pevis
loads="$work/loads.txt"
: >"$loads"
for file in "$work"/files/*.pt; do
  if message=$(build/pevis summary "$file" --format none --data none 2>&1 >/dev/null); then
    echo "$(basename "$file" .pt) loads" >>"$loads"
  else
    echo "$(basename "$file" .pt) refused: $message" >>"$loads"
  fi
  rm -f "$file"
done
cp "$work/survey.json" "$here/survey.json"
/usr/bin/python3 "$here/survey_report.py" "$work/survey.json" "$loads" >"$here/survey.md"
echo "pevis: fixtures and survey.md written to $here" >&2
