# Sourced by smoke.sh and chart.sh: counted checks, and the closing line
# tests/run.sh adds to its totals. Set `suite` (the script's name in its
# output) before sourcing.
# shellcheck shell=bash

passed=0
failed=0

log() { echo "$suite: $*" >&2; }

# finish: the closing line; fails if a check failed.
finish() {
    echo "$suite: $passed passed, $failed failed"
    [ "$failed" = 0 ]
}

# check DESCRIPTION COMMAND...: counts the result; the first failure ends the
# run (later checks depend on earlier ones), after down.sh via the EXIT trap.
check() {
    local what=$1
    shift
    log "check: $what"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        log "FAILED: $what"
        exit 1
    fi
}

# start_cluster: up.sh (in $state) as the first check; sets kubeconfig, bin
# (the cluster's binaries) and adds the cluster's processes to pids.
start_cluster() {
    local started f
    started=$(date +%s)
    log "check: up.sh"
    if kubeconfig=$("$here/up.sh" | tail -n 1) && [ -f "$kubeconfig" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        log "FAILED: up.sh"
        exit 1
    fi
    log "up.sh took $(($(date +%s) - started))s"
    bin=$(cat "$state/bin-dir")
    for f in "$state"/pids/*.pid; do pids+=("$(cat "$f")"); done
}
