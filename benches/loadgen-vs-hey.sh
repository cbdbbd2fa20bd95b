#!/usr/bin/env bash
# Compares the built-in load generator with hey against the same sample app
# on loopback, and prints both request rates.
# Usage: bash benches/loadgen-vs-hey.sh [DURATION] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
concurrency=${2:-50}
command -v hey >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hey >/dev/null; }
cargo build --release --locked -p warbler --quiet
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/release/warbler sample-app --listen "127.0.0.1:$port" 2>/dev/null &
app=$!
trap 'kill $app' EXIT
sleep 1
url="http://127.0.0.1:$port/"
hey_rate=$(hey -z "$duration" -c "$concurrency" "$url" | awk '/Requests\/sec/ {print $2}')
ours_rate=$(./target/release/warbler loadtest -z "$duration" -c "$concurrency" "$url" | awk '/Requests\/sec/ {print $2}')
echo "hey:              $hey_rate req/s"
echo "warbler loadtest: $ours_rate req/s"
