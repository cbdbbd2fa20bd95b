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
