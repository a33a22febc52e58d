#!/usr/bin/env bash
# Makes the model corpus of tests/data/corpus with PyTorch 2.6, torchvision
# 0.21 and torchaudio 2.6 in the Debian 13 root that scripts/debian13 keeps
# (made once, about 5 minutes). The tests do not need this: the files and
# PyTorch's values for them (expected.json) are committed. About 10 seconds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
as_root=()
[ "$(id -u)" -ne 0 ] && as_root=(sudo)
root=$("$here/../../../scripts/debian13" root python3-torch python3-torchvision python3-torchaudio)
work="$root/tmp/pevis-corpus"
"${as_root[@]}" rm -rf "$work" && "${as_root[@]}" mkdir -p "$work/out"
"${as_root[@]}" cp "$here/make_corpus.py" "$here/../torch2/make_fixtures.py" "$here/../positions/make_positions.py" "$work/"
"${as_root[@]}" chroot "$root" /usr/bin/env OMP_NUM_THREADS=1 python3 /tmp/pevis-corpus/make_corpus.py /tmp/pevis-corpus/out \
  2> >(grep -v "UCX\|cpuinfo\|weight_norm" >&2)
find "$here" -maxdepth 1 \( -name '*.pt' -o -name '*.pt2' -o -name expected.json \) -delete
cp "$work"/out/* "$here/"
echo "pevis: corpus written to $here" >&2
