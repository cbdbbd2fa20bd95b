#!/bin/sh
# Build the Python zscore policy into a WebAssembly component:
#   sh build.sh [OUT.wasm]
# Needs componentize-py (pip install -r requirements.txt).
set -eu
out=$(realpath -m "${1:-zscore-python.wasm}")
cd "$(dirname "$0")"
componentize-py -d ../../../wit -w policy componentize app -o "$out"
rm -rf __pycache__
