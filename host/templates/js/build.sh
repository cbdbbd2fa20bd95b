#!/bin/sh
# Build the policy component into policy.wasm (needs Node.js and npm).
set -eu
cd "$(dirname "$0")"
[ -d node_modules ] || npm install --no-audit --no-fund --prefer-offline
npm run --silent build
