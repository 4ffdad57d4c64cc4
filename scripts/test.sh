#!/usr/bin/env bash
# The tests: formatting, lints, unit and integration tests (installs what is missing first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --cross

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# No two files of either crate name each other.
scripts/import-cycles src loader/src capi/src
cargo test --workspace
