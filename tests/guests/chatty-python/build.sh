#!/bin/sh
# Build the chatty Python test policy: sh build.sh OUT.wasm
set -eu
out=$(realpath -m "$1")
cd "$(dirname "$0")"
componentize-py -d ../../../wit -w policy componentize app -o "$out"
rm -rf __pycache__
