#!/usr/bin/env bash
# Sets up what the tests need on a fresh machine, then runs every test.
# Usage: bash tests/run.sh   (from anywhere inside the checkout)
set -euo pipefail
cd "$(dirname "$0")/.."

# The guests compile to WebAssembly (components for WASI, and core modules the
# host encodes for the built-ins); rust-toolchain.toml names the targets too,
# this makes the step explicit for toolchains without rustup sync.
rustup target add wasm32-wasip2 wasm32-unknown-unknown >/dev/null

# Debian packages: real servers the end-to-end tests start on loopback, and
# the Python and Node.js the non-Rust example policies are built with.
need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
# Signing keys and signatures made outside Warbler, for its cosign checks.
command -v openssl >/dev/null || need+=(openssl)
command -v python3 >/dev/null || need+=(python3)
command -v componentize-py >/dev/null || python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
command -v npm >/dev/null || need+=(nodejs npm)
# A real browser for the dashboard's tests.
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Guest toolchains, pinned: componentize-py from PyPI (in a virtualenv under
# target/, so the system Python is left alone) and componentize-js from npm.
if ! command -v componentize-py >/dev/null; then
    python3 -m venv target/guest-python
    target/guest-python/bin/pip install -q -r policies/examples/python-zscore/requirements.txt
    export PATH="$PWD/target/guest-python/bin:$PATH"
fi
(cd policies/examples/js-zscore && [ -d node_modules ] || npm ci --no-audit --no-fund --silent)
# playwright-core drives that chromium (no browser download).
(cd tests/browser && [ -d node_modules ] || npm ci --no-audit --no-fund --silent)
# PyPI's oras SDK, which pushes an artifact the way another tool would.
[ -x target/interop-python/bin/python3 ] || {
    python3 -m venv target/interop-python
    target/interop-python/bin/pip install -q -r tests/tools/requirements.txt
}
export WARBLER_TEST_PYTHON="$PWD/target/interop-python/bin/python3"

# The tests' policy cache and its sealing key stay inside the checkout.
export WARBLER_CACHE_DIR="$PWD/target/test-policy-cache"
export WARBLER_CACHE_KEY="$PWD/target/test-policy-cache.key"

# The controller is tested against a real control plane built from Go
# modules (tests/cluster/): its binaries are cached outside the checkout
# (~/.cache/warbler-cluster), so only a machine's first run builds them, in
# the background while cargo builds (it runs at the lowest priority).
mkdir -p target
tests/cluster/build.sh >target/cluster-build.log 2>&1 &
cluster_build=$!

log=$(mktemp)
cluster_dir=$(mktemp -d)
cleanup() {
    WARBLER_CLUSTER_DIR="$cluster_dir" tests/cluster/down.sh >/dev/null 2>&1 || true
    kill "$cluster_build" 2>/dev/null || true
    rm -rf "$log" "$cluster_dir"
}
trap cleanup EXIT
cargo test --workspace --locked 2>&1 | tee "$log"

if ! wait "$cluster_build"; then
    tail -n 30 target/cluster-build.log >&2
    echo "tests/run.sh: building the test cluster failed (log: target/cluster-build.log)" >&2
    exit 1
fi
kubeconfig=$(WARBLER_CLUSTER_DIR="$cluster_dir" tests/cluster/up.sh | tail -n 1)
# Five at a time: ten at once on two cores slow the API server enough to
# cost a leader its lease and steps their timing.
WARBLER_TEST_KUBECONFIG="$kubeconfig" cargo test --workspace --test all --locked -- --ignored cluster:: --test-threads 5 2>&1 | tee -a "$log"
WARBLER_CLUSTER_DIR="$cluster_dir" tests/cluster/down.sh >/dev/null
bash tests/cluster/smoke.sh 2>&1 | tee -a "$log"
bash tests/cluster/chart.sh 2>&1 | tee -a "$log"

# cargo prints one result line per test binary, the last often a crate with
# no doctests, and the cluster scripts one line each; close with the totals.
awk '/^test result:/ { passed += $4; failed += $6 }
     /^(smoke|chart): [0-9]+ passed, [0-9]+ failed$/ { passed += $2; failed += $4 }
     END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
