#!/usr/bin/env bash
# Writes a kubeconfig that acts as a service account: a copy of KUBECONFIG's
# current context (certificates embedded) whose user impersonates
# system:serviceaccount:NAMESPACE:SA (the kubeconfig's users[].user.as). The
# API server then gives it that account's groups (system:serviceaccounts,
# system:serviceaccounts:NAMESPACE, system:authenticated) and nothing of the
# admin's, so a controller run out of the cluster with it
#
#   POD_NAMESPACE=warbler POD_NAME=$(hostname) warbler controller --kubeconfig OUT --leader-elect
#
# has exactly the RBAC that the chart grants. The user of KUBECONFIG must be
# allowed to impersonate (tests/cluster's admin is in system:masters).
# Prints OUT.
#
# Usage: tests/cluster/sa-kubeconfig.sh KUBECONFIG NAMESPACE SA OUT
set -euo pipefail

usage() {
    echo "usage: $0 KUBECONFIG NAMESPACE SA OUT" >&2
    exit 2
}
[ $# = 4 ] || usage
in=$1 namespace=$2 sa=$3 out=$4
[ -f "$in" ] || { echo "sa-kubeconfig.sh: no kubeconfig at $in" >&2; exit 2; }
[ -n "$namespace" ] && [ -n "$sa" ] || usage

# The copy holds the admin's key: written 0600, and only complete (renamed
# into place), so a reader never sees half of it.
umask 077
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# --minify: the current context alone; --flatten: certificate files embedded,
# so the copy stands alone; --raw: keep the keys and tokens.
kubectl config view --kubeconfig "$in" --raw --flatten --minify >"$tmp"
user=$(kubectl config view --kubeconfig "$tmp" -o jsonpath='{.users[0].name}')
case "$user" in
    "" | *.*)
        echo "sa-kubeconfig.sh: cannot set the user '$user' of $in (none, or a dot in its name)" >&2
        exit 1
        ;;
esac
# `act-as` is kubectl's property name for the file's `as` field.
kubectl config --kubeconfig "$tmp" set "users.$user.act-as" \
    "system:serviceaccount:$namespace:$sa" >/dev/null
mv "$tmp" "$out"
trap - EXIT
echo "$out"
