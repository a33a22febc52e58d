#!/usr/bin/env bash
# Remakes tests/data/architectures (weights-only folders and transformers'
# own attention weights for them) with Hugging Face transformers, run on
# Debian 13's PyTorch 2.6 in the root that scripts/debian13 makes. The tests
# do not need this: the folders and expected.json are committed.
#
#   tests/data/architectures/make.sh TRANSFORMERS_SRC HUB_SRC
#
# TRANSFORMERS_SRC is a checkout of transformers at a release tag (v5.15.0
# made the committed references), HUB_SRC one of huggingface_hub (v1.28.0).
# Neither is a Debian package; both are pure Python and are installed in the
# root without their dependencies, which come from Debian 13 instead. Two
# things differ from a pip install: transformers' import-time version check
# asks for newer regex and safetensors than Debian 13 has, and for the Rust
# tokenizers package, which is absent, so those three are dropped from it;
# make_architectures.py stands in a module for tokenizers (the models never
# call it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -eq 2 ] && [ -f "$1/setup.py" ] && [ -d "$2/src/huggingface_hub" ] || {
  echo "usage: $0 TRANSFORMERS_SRC HUB_SRC (source checkouts of transformers and huggingface_hub)" >&2
  exit 2
}
packages=(python3-torch python3-safetensors python3-pip python3-setuptools python3-wheel python3-regex python3-yaml
  python3-packaging python3-tqdm python3-filelock python3-requests python3-httpx python3-fsspec python3-typer)
as_root=()
[ "$(id -u)" -ne 0 ] && as_root=(sudo)
root=$("$here/../../../scripts/debian13" root "${packages[@]}")
in_root() { "${as_root[@]}" chroot "$root" /usr/bin/env OMP_NUM_THREADS=1 "$@" 2> >(grep -v "UCX\|cpuinfo" >&2); }

# The two sources, installed once (again when their versions change).
want="$(cd "$1" && git describe --tags 2>/dev/null || echo local) $(cd "$2" && git describe --tags 2>/dev/null || echo local)"
if [ "$(cat "$root/opt/pevis-references" 2>/dev/null)" != "$want" ]; then
  echo "pevis: installing transformers and huggingface_hub in the Debian 13 root" >&2
  "${as_root[@]}" rm -rf "$root/opt/src"
  "${as_root[@]}" mkdir -p "$root/opt/src"
  "${as_root[@]}" cp -r "$1" "$root/opt/src/transformers"
  "${as_root[@]}" cp -r "$2" "$root/opt/src/hub"
  "${as_root[@]}" sed -i '/^    "regex",$/d; /^    "safetensors",$/d; /^    "tokenizers",$/d' "$root/opt/src/transformers/src/transformers/dependency_versions_check.py"
  for src in hub transformers; do
    in_root pip install -q --no-deps --no-index --no-build-isolation --break-system-packages "/opt/src/$src" >&2
  done
  echo "$want" | "${as_root[@]}" tee "$root/opt/pevis-references" >/dev/null
fi

work="$root/tmp/pevis-architectures"
"${as_root[@]}" rm -rf "$work"
"${as_root[@]}" mkdir -p "$work/out"
"${as_root[@]}" cp "$here/make_architectures.py" "$work/"
in_root python3 /tmp/pevis-architectures/make_architectures.py /tmp/pevis-architectures/out
for old in "$here"/*/; do rm -rf "$old"; done
cp -r "$work"/out/* "$here/"
echo "pevis: folders and expected.json written to $here" >&2
