#!/usr/bin/env bash
# The tests: formatting, lints, unit and integration tests (installs what is missing first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --cross

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# No two files of the loader name each other (src/ has cycles still being removed: run
# `scripts/import-cycles src` to see them).
scripts/import-cycles loader/src
cargo test --workspace
