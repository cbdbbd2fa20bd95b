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

cargo test --workspace --locked
