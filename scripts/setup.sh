#!/usr/bin/env bash
# Installs what aotlink needs from Debian when it is missing: LLVM 22 (headers and static
# libraries), its tools (llvm-as-22 and llvm-dis-22: tests compare text and bitcode inputs),
# LLD 22 (linked into aotlink), clang 22 (compiles examples to IR), gcc and
# binutils (the system C compiler the sysimg link and the reference builds of the tests use),
# g++ and pkg-config (the C API tests compile C and C++ programs against an installed prefix).
# With --cross, also what the cross-image tests run images with: qemu-user and an aarch64 gcc
# and C library, wine and the MinGW gcc, clang's compiler-rt builtins for MinGW (its libgcc
# passes _Float16 differently from LLVM), the Rust standard library for aarch64 Linux and
# Windows (the loader is built for them and run under qemu and wine), clang 14 and clang 19,
# whose typed-pointer and older IR the tests feed to aotlink (nothing links them), numba 0.68
# from PyPI in a venv (a test builds images from its IR), and BuildGrid 0.4.4 from PyPI in a
# venv (the remote-cache tests start it on 127.0.0.1 as their REAPI server), and ziglang 0.17.1
# from PyPI in a venv (its Darwin headers compile C for macOS in the macOS tests, and its
# libSystem.tbd is what those tests hold the images and the vendored stub to).
# Idempotent; needs root or sudo only when something is missing.
set -euo pipefail

packages=(llvm-22-dev llvm-22 libpolly-22-dev liblld-22-dev clang-22 lld-22 zlib1g-dev libzstd-dev libxml2-dev libffi-dev gcc g++ binutils pkg-config)
if [ "${1:-}" = "--cross" ]; then
  packages+=(python3-venv clang-14 clang-19 qemu-user libc6-arm64-cross libc6-dev-arm64-cross gcc-aarch64-linux-gnu wine64 gcc-mingw-w64-x86-64 libclang-rt-22-dev-win)
fi

if [ "${1:-}" = "--cross" ] && command -v rustup >/dev/null; then
  for t in aarch64-unknown-linux-gnu x86_64-pc-windows-gnu; do
    rustup target list --installed | grep -qx "$t" || rustup target add "$t" >/dev/null 2>&1 ||
      echo "setup: could not add the Rust target $t: the loader's cross tests will be skipped" >&2
  done
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    as_root=(sudo)
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python packages the cross tests use, each in a venv of its own, made once:
# venv_with PACKAGE VERSION MODULE DIR.
venv_with() {
  local package=$1 version=$2 module=$3 venv=$4
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import $module" 2>/dev/null; then
    echo "setup: installing $package $version into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$package==$version"
  fi
}
if [ "${1:-}" = "--cross" ]; then
  # numba, for the test that builds images from its IR.
  venv_with numba 0.68.1 numba "${AOTLINK_NUMBA_VENV:-$HOME/.local/share/aotlink-test/numba-0.68.1}"
  # BuildGrid, the REAPI server the remote-cache tests start (about 35 s).
  venv_with buildgrid 0.4.4 buildgrid "${AOTLINK_BUILDGRID_VENV:-$HOME/.local/share/aotlink-test/buildgrid-0.4.4}"
  # ziglang, for the macOS tests (a 100 MB wheel, nothing compiled).
  venv_with ziglang 0.17.1 ziglang "${AOTLINK_ZIGLANG_VENV:-$HOME/.local/share/aotlink-test/ziglang-0.17.1}"
fi
