#!/usr/bin/env bash
# Stops what tests/cluster/up.sh started (by the PIDs it recorded) and removes
# its state dir. Safe to run when nothing is up.
#
# Usage: tests/cluster/down.sh
# Env:   WARBLER_CLUSTER_DIR   state dir (default /tmp/warbler-cluster)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
state=${WARBLER_CLUSTER_DIR:-/tmp/warbler-cluster}
case "$state" in /*) ;; *) state="$PWD/$state" ;; esac
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$here/lib.sh"

log() { echo "down.sh: $*" >&2; }

if [ ! -e "$state" ]; then
    log "nothing in $state"
    exit 0
fi
if [ ! -f "$state/$marker" ]; then
    log "$state was not made by up.sh (no $marker file): leaving it alone"
    exit 1
fi

# stop NAME: TERM, up to 20 s for a clean exit, then KILL. Only a PID that
# still runs our binary of that name is signalled (see alive in lib.sh).
stop() {
    local name=$1 pid _
    alive "$state" "$name" || return 0
    pid=$(cat "$state/pids/$name.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        running "$pid" || { log "stopped $name (pid $pid)"; return 0; }
        sleep 0.2
    done
    log "$name (pid $pid) ignored TERM for 20s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 25); do
        running "$pid" || return 0
        sleep 0.2
    done
    log "$name (pid $pid) is still there after KILL"
    return 1
}

# In three waves, each stopped in parallel (each takes 1-3 s to exit
# cleanly): the clients first, so nothing logs connection errors while the
# apiserver and etcd go away; then the apiserver; then its storage.
failed=0
stop_all() { # names...: stop them in parallel, set failed=1 if one resists
    local name jobs=()
    for name in "$@"; do
        stop "$name" &
        jobs+=($!)
    done
    for name in "${jobs[@]}"; do wait "$name" || failed=1; done
}
stop_all kwok kube-scheduler kube-controller-manager
stop_all kube-apiserver
stop_all etcd
if [ "$failed" = 1 ]; then
    log "some processes could not be stopped; keeping $state for inspection"
    exit 1
fi

rm -rf "$state"
log "removed $state"
