#!/bin/sh
# Build the chatty JavaScript test policy: sh build.sh OUT.wasm
# Uses the componentize-js the js-zscore example pins (npm ci there).
set -eu
out=$(realpath -m "$1")
cd "$(dirname "$0")"
examples=../../../policies/examples/js-zscore
[ -d "$examples/node_modules" ] || (cd "$examples" && npm ci --no-audit --no-fund)
# Unlike the examples, stdio stays in: this guest is about its output.
"$examples/node_modules/.bin/componentize-js" policy.js \
  --wit ../../../wit --world-name policy -o "$out" -d http fetch-event random clocks
