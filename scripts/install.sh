#!/usr/bin/env bash
# Installs aotlink the way C libraries are installed:
#
#   PREFIX/bin/aotlink
#   PREFIX/lib/libaotlink.so.VERSION, .so.ABI -> it, .so -> .so.ABI, libaotlink.a   (aotlink.h)
#   PREFIX/lib/libaotload.so.VERSION, .so.ABI -> it, .so -> .so.ABI, libaotload.a   (aotload.h)
#   PREFIX/include/aotlink.h, PREFIX/include/aotload.h
#   PREFIX/lib/pkgconfig/aotlink.pc, aotload.pc
#
# so that `pkg-config --cflags --libs aotlink aotload` is all a C build needs (with
# PKG_CONFIG_PATH=PREFIX/lib/pkgconfig outside the usual prefixes). The soname (ABI) is the
# one the library was linked with (capi/build.rs, loader/build.rs); libaotlink finds
# PREFIX/bin/aotlink beside it to check untrusted inputs in a child process.
#
# By hand, not with cargo-c: see "Installing" in docs/DESIGN.md for why.
#
# Usage: scripts/install.sh --prefix DIR [--profile release|dev] [--no-build] [--no-static]
#   --no-build   install the aotlink executable and libaotload that `cargo build` already made
#                for the profile (the tests do: other tests run them meanwhile); libaotlink is
#                still brought up to date, since its static link flags are read from its build
#   --no-static  leave out the static archives (libaotlink.a holds all of LLVM: ~500 MB)
set -euo pipefail
cd "$(dirname "$0")/.."

prefix="" profile=release build=1 static=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --profile) profile="${2:?--profile needs a name}"; shift 2 ;;
    --profile=*) profile="${1#--profile=}"; shift ;;
    --no-build) build=0; shift ;;
    --no-static) static=0; shift ;;
    *) echo "install: unknown argument $1 (usage: $0 --prefix DIR [--profile release|dev] [--no-build] [--no-static])" >&2; exit 2 ;;
  esac
done
[ -n "$prefix" ] || { echo "install: --prefix DIR is required" >&2; exit 2; }
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

case "$profile" in
  dev) out_dir=debug ;;
  *) out_dir="$profile" ;;
esac
target_dir="${CARGO_TARGET_DIR:-target}"
built="$target_dir/$out_dir"

# libaotlink is built (or found fresh) by the same command whose note gives its link flags for
# a static link (Libs.private): cargo replays the note when nothing changed.
aotlink_static_libs=""
if [ "$build" = 1 ]; then
  cargo build --profile "$profile" -p aotlink --bin aotlink
fi
# Separate builds: cargo would unify the loader's features across them, and libaotlink links
# the loader without its C API (it exports its own functions and has its own soname).
aotlink_static_libs="$(cargo rustc --profile "$profile" -p aotlink-capi --lib \
  -- --print native-static-libs 2>&1 | tee /dev/stderr | sed -n 's/.*native-static-libs: //p' | tail -n1)"
if [ "$build" = 1 ]; then
  cargo build --profile "$profile" -p aotload --lib
fi

for f in aotlink libaotlink.so libaotlink.a libaotload.so libaotload.a; do
  [ -f "$built/$f" ] || { echo "install: $built/$f is missing (build it, or drop --no-build)" >&2; exit 1; }
done

# The loader links nothing natively but Rust's standard library: what an empty static library
# needs is what it needs.
std_static_libs() {
  local scratch
  scratch="$(mktemp -d)"
  echo "" | rustc --crate-type staticlib --crate-name empty --print native-static-libs \
    -o "$scratch/libempty.a" - 2>&1 | sed -n 's/.*native-static-libs: //p' | tail -n1
  rm -rf "$scratch"
}

version_of() { sed -n 's/^version = "\(.*\)"$/\1/p' "$1" | head -n1; }
soname_of() { objdump -p "$1" | awk '$1 == "SONAME" { print $2 }'; }

install -d "$prefix/bin" "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$built/aotlink" "$prefix/bin/aotlink"

# install_library NAME VERSION HEADER STATIC-LIBS DESCRIPTION
install_library() {
  local name="$1" version="$2" header="$3" static_libs="$4" description="$5"
  local soname real rpath private
  soname="$(soname_of "$built/lib$name.so")"
  [ -n "$soname" ] || { echo "install: $built/lib$name.so has no soname" >&2; exit 1; }
  real="lib$name.so.$version"
  # The three names ldconfig and linkers expect: the file, the soname, the link-time name.
  rm -f "$prefix/lib/lib$name.so" "$prefix/lib/$soname" "$prefix/lib/$real"
  install -m 0755 "$built/lib$name.so" "$prefix/lib/$real"
  [ "$soname" = "$real" ] || ln -s "$real" "$prefix/lib/$soname"
  ln -s "$soname" "$prefix/lib/lib$name.so"
  private=""
  if [ "$static" = 1 ]; then
    install -m 0644 "$built/lib$name.a" "$prefix/lib/lib$name.a"
    private="$static_libs"
  fi
  install -m 0644 "$header" "$prefix/include/"
  # Outside /usr the dynamic loader would not find the library: the program carries the path.
  rpath=""
  case "$prefix" in /usr) ;; *) rpath=' -Wl,-rpath,${libdir}' ;; esac
  cat > "$prefix/lib/pkgconfig/$name.pc" <<EOF
prefix=$prefix
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: $name
Description: $description
Version: $version
Libs: -L\${libdir} -l$name$rpath
Libs.private: $private
Cflags: -I\${includedir}
EOF
  echo "install: $prefix/lib/$real ($soname), $prefix/include/$(basename "$header"), $prefix/lib/pkgconfig/$name.pc"
}

install_library aotlink "$(version_of capi/Cargo.toml)" capi/include/aotlink.h "$aotlink_static_libs" \
  "Builds aotlink images (multiversioned shared libraries) from LLVM bitcode"
install_library aotload "$(version_of loader/Cargo.toml)" loader/include/aotload.h "$(std_static_libs)" \
  "Loads and verifies aotlink images"
echo "install: $prefix/bin/aotlink"
