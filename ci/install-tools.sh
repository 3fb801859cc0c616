#!/usr/bin/env bash
# install-tools.sh installs the external oracles linkcheck drives: LLVM 16
# (lld, llvm-objdump, llvm-mc, clang), wabt, libunicorn and wine64.
#
# It is idempotent: packages already installed are left alone, and when
# nothing is missing it does not even run `apt-get update`. It works as root
# and, for other users, through sudo. It fails loudly, naming the package
# that could not be installed, and prints each tool's version at the end.
set -euo pipefail

PACKAGES=(lld-16 llvm-16 clang-16 wabt libunicorn2 libunicorn-dev mold binutils)
NO_RECOMMENDS=(wine64 chromium)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-tools: not root and no sudo: run as root" >&2
    exit 1
  fi
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
missing_nr=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
for p in "${NO_RECOMMENDS[@]}"; do installed "$p" || missing_nr+=("$p"); done

if [ ${#missing[@]} -gt 0 ] || [ ${#missing_nr[@]} -gt 0 ]; then
  echo "install-tools: installing: ${missing[*]} ${missing_nr[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null || { echo "install-tools: apt-get update failed" >&2; exit 1; }
  for p in "${missing[@]}"; do
    $SUDO apt-get install -y -q "$p" >/dev/null || { echo "install-tools: failed to install package $p" >&2; exit 1; }
  done
  for p in "${missing_nr[@]}"; do
    $SUDO apt-get install -y -q --no-install-recommends "$p" >/dev/null || { echo "install-tools: failed to install package $p" >&2; exit 1; }
  done
else
  echo "install-tools: all packages present"
fi

B=/usr/lib/llvm-16/bin
v() { printf '%-14s ' "$1"; shift; "$@" 2>&1 | head -n 1 || echo "(not runnable)"; }
v ld.lld       "$B/ld.lld" --version
v ld64.lld     "$B/ld64.lld" --version
v lld-link     "$B/lld-link" --version
v wasm-ld      "$B/wasm-ld" --version
v llvm-mc      "$B/llvm-mc" --version
v llvm-objdump "$B/llvm-objdump" --version
v clang        "$B/clang" --version
v wasm-validate wasm-validate --version
v wine64       /usr/lib/wine/wine64 --version
printf '%-14s %s\n' libunicorn "$(dpkg-query -W -f='${Version}' libunicorn2)"
