#!/bin/sh
# Build the JavaScript zscore policy into a WebAssembly component:
#   sh build.sh [OUT.wasm]
# Needs Node.js; installs componentize-js from package-lock.json if missing.
set -eu
out=$(realpath -m "${1:-zscore-js.wasm}")
cd "$(dirname "$0")"
[ -d node_modules ] || npm ci --no-audit --no-fund
OUT="$out" npm run --silent build
