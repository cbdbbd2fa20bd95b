#!/usr/bin/env bash
# Sets up what the tests need on a fresh machine, then runs every test.
# Usage: bash tests/run.sh   (from anywhere inside the checkout)
set -euo pipefail
cd "$(dirname "$0")/.."

# The guests compile to WebAssembly components; rust-toolchain.toml names the
# target too, this makes the step explicit for toolchains without rustup sync.
rustup target add wasm32-wasip2 >/dev/null

# Real servers the end-to-end tests start on loopback.
if ! command -v prometheus >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
    else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# cargo prints one result line per test binary, the last often a crate with
# no doctests; close with the totals.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
