#!/bin/sh
# Build the policy component into policy.wasm (needs: pip install -r requirements.txt).
set -eu
cd "$(dirname "$0")"
componentize-py -d wit -w policy componentize app -o policy.wasm
rm -rf __pycache__
