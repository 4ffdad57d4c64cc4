#!/usr/bin/env bash
# The main job on the bundled example: build aotlink, compile examples/kernels/kernels.c to
# LLVM IR, build a package image (embedded LLD) and a system image (cc) from it, show what the
# image holds, and call functions from it through the loader.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

cargo build --release --quiet
aotlink=target/release/aotlink
out=target/demo
mkdir -p "$out"

# Frontend step: C -> IR. Vectorization is left to aotlink, which runs it per CPU target.
clang-22 -O2 -fno-vectorize -fno-slp-vectorize -ffp-contract=off -emit-llvm -S \
  examples/kernels/kernels.c -o "$out/kernels.ll"

$aotlink build "$out/kernels.ll" --trace examples/kernels/trace.txt --export-all \
  --image-data examples/kernels/data.txt --kind pkg -o "$out/kernels-pkg.so"
$aotlink build "$out/kernels.ll" --trace examples/kernels/trace.txt --export-all \
  --image-data examples/kernels/data.txt --kind sysimg -o "$out/kernels-sys.so"

$aotlink inspect "$out/kernels-pkg.so"
echo
# The loader picks the best CPU target this machine runs (-v says which).
$aotlink run -v "$out/kernels-pkg.so" dot_product 1000 0.5 1 2 0.25 >/dev/null
echo
for image in "$out/kernels-pkg.so" "$out/kernels-sys.so"; do
  echo "== $image"
  echo "dot_product(1000, 0.5, 1, 2, 0.25) = $($aotlink run "$image" dot_product 1000 0.5 1 2 0.25)"
  echo "prime_at(10)                      = $($aotlink run "$image" prime_at 10)"
  echo "apply_op(2, 6, 7)                 = $($aotlink run "$image" apply_op 2 6 7)"
  echo "image_data_size()                 = $($aotlink run "$image" image_data_size)"
done
