# Sourced by up.sh, down.sh and smoke.sh: how a state dir and its processes are recognised.
# shellcheck shell=bash

# File that marks a state dir as made by up.sh, so down.sh never deletes a
# folder it did not create (WARBLER_CLUSTER_DIR could be set to anything).
# shellcheck disable=SC2034 # used by the scripts that source this file
marker=.warbler-cluster

# The processes of a cluster, in start order.
# shellcheck disable=SC2034
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# running PID: the process exists and is not a zombie. The processes outlive
# up.sh, so their parent becomes PID 1 (or a subreaper), which may reap them
# late: an exited process waiting to be reaped counts as stopped.
running() {
    kill -0 "$1" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# alive STATE NAME: the PID in STATE/pids/NAME.pid runs, and is still our
# NAME binary (guards against the PID having been reused by another program).
alive() {
    local pidfile="$1/pids/$2.pid" pid exe
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [ -n "$pid" ] && running "$pid" || return 1
    exe=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1) || return 1
    [ "${exe##*/}" = "$2" ]
}

# all_alive STATE: every component of STATE runs.
all_alive() {
    local c
    for c in "${components[@]}"; do alive "$1" "$c" || return 1; done
}
