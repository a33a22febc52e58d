#!/usr/bin/env bash
# Makes the fixtures of tests/data/torch2 with PyTorch 2.6 and torchvision 0.21,
# which Debian 13 "trixie" packages. They run in a root of their own, made
# here with debootstrap (installed from Debian 12 when missing), so the
# machine's LibTorch 1.13 stays as it is. The tests do not need this: the
# fixtures and their reference values are committed.
#
#   tests/data/torch2/make.sh           the fixtures, then the operator survey
#   PEVIS_TRIXIE_ROOT=DIR ...           where the root lives (made once, kept)
#
# Making the root takes about 5 minutes (debootstrap ~1, packages ~3.5).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root=${PEVIS_TRIXIE_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/pevis/trixie-root}
packages=(python3-torch python3-torchvision python3-safetensors)

as_root=()
[ "$(id -u)" -ne 0 ] && as_root=(sudo)
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "pevis: installing debootstrap (once)" >&2
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq debootstrap >/dev/null
fi
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}

if [ ! -x "$root/usr/bin/python3" ] || ! chroot "$root" python3 -c "import torch, torchvision, safetensors" 2>/dev/null; then
  if [ ! -f "$root/etc/debian_version" ]; then
    echo "pevis: making a Debian 13 root in $root (once, about a minute)" >&2
    mkdir -p "$root"
    "${as_root[@]}" debootstrap --variant=minbase trixie "$root" "$mirror" >"$root.log" 2>&1 ||
      { tail -n 20 "$root.log" >&2; echo "pevis: debootstrap failed: see above" >&2; exit 1; }
  fi
  echo "pevis: installing ${packages[*]} in the root (once, about 4 minutes)" >&2
  "${as_root[@]}" chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${packages[*]}" >"$root.log" 2>&1 ||
    { tail -n 20 "$root.log" >&2; echo "pevis: installing in the root failed: see above" >&2; exit 1; }
fi

# The scripts run inside the root on a copy; their outputs come back here.
work="$root/tmp/pevis-torch2"
rm -rf "$work" && mkdir -p "$work/out"
cp "$here"/make_fixtures.py "$here"/survey.py "$work/"
"${as_root[@]}" chroot "$root" /usr/bin/env OMP_NUM_THREADS=1 python3 /tmp/pevis-torch2/make_fixtures.py /tmp/pevis-torch2/out
"${as_root[@]}" chroot "$root" /usr/bin/env OMP_NUM_THREADS=1 python3 /tmp/pevis-torch2/survey.py /tmp/pevis-torch2/out/survey.json
cp "$work"/out/* "$here/"
echo "pevis: wrote $(ls "$work/out" | wc -l) files to $here" >&2
