#!/usr/bin/env bash
# Smoke check of the test cluster: up.sh, a Deployment that rolls out on the
# kwok nodes, the routing CRDs Warbler writes to (established, and objects of
# each validate), a Helm release, down.sh, and no process left behind.
# Uses only files in the repository. Ends with 'smoke: N passed, N failed'.
#
# Usage: tests/cluster/smoke.sh
# Env:   WARBLER_CLUSTER_DIR   state dir (default: a new /tmp/warbler-cluster-smoke-PID,
#                              so an already running cluster is never touched)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$here/lib.sh"
suite=smoke
# shellcheck source=checks.sh source-path=SCRIPTDIR
. "$here/checks.sh"
export WARBLER_CLUSTER_DIR=${WARBLER_CLUSTER_DIR:-/tmp/warbler-cluster-smoke-$$}
state=$WARBLER_CLUSTER_DIR
export KUBECACHEDIR="$state/kube-cache" # not ~/.kube/cache (see up.sh)
pids=()


cleanup() {
    local rc=$?
    trap - EXIT
    if [ -d "$state" ]; then
        "$here/down.sh" || rc=1
    fi
    finish || rc=1
    exit "$rc"
}
trap cleanup EXIT

start_cluster
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }

check "two fake nodes are Ready" \
    k wait --for=condition=Ready node -l type=kwok --timeout=60s

k create namespace smoke >/dev/null
k -n smoke apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
EOF
check "Deployment rolls out (kwok makes the pods Running/Ready)" \
    k -n smoke rollout status deployment/web --timeout=180s
pods_running() {
    local out
    out=$(k -n smoke get pods -l app=web \
        -o jsonpath='{range .items[*]}{.status.phase}/{.spec.nodeName}{"\n"}{end}')
    echo "$out" >&2
    [ "$(grep -c '^Running/kwok-node-' <<<"$out")" = 2 ]
}
check "both pods Running on kwok nodes" pods_running

# The Gateway API CRD is larger than the 256 KiB annotation that client-side
# apply keeps, hence server-side apply.
check "apply the routing CRDs" k apply --server-side -f "$here/crds/"
check "CRDs are Established" k wait --for=condition=Established --timeout=60s \
    crd/httproutes.gateway.networking.k8s.io crd/trafficsplits.split.smi-spec.io
check "an HTTPRoute validates against its schema" k -n smoke apply -f - <<'EOF'
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  parentRefs:
  - name: gw
  rules:
  - backendRefs:
    - {name: web-stable, port: 80, weight: 90}
    - {name: web-canary, port: 80, weight: 10}
EOF
check "a TrafficSplit validates against its schema" k -n smoke apply -f - <<'EOF'
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata:
  name: web
spec:
  service: web
  backends:
  - {service: web-stable, weight: 90}
  - {service: web-canary, weight: 10}
EOF
bad_route_rejected() { # by the CRD's schema: weight has minimum 0
    local out
    if out=$(k -n smoke apply -f - 2>&1 <<'EOF'
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: bad
spec:
  rules:
  - backendRefs:
    - {name: web, port: 80, weight: -1}
EOF
    ); then
        log "accepted: $out"
        return 1
    fi
    echo "$out" >&2
    grep -q 'weight' <<<"$out"
}
check "an invalid HTTPRoute is rejected" bad_route_rejected

check "helm version" "$bin/helm" version
# A real chart through the real API: `helm create`'s starter chart is a
# Deployment + Service + ServiceAccount; --wait needs the pod Ready (kwok).
# Its test hook (a pod that connects to the Service) is never run.
helm_release() {
    local tmp rc=0
    tmp=$(mktemp -d)
    (cd "$tmp" && "$bin/helm" create demo >/dev/null) &&
        HELM_CACHE_HOME="$tmp/cache" HELM_CONFIG_HOME="$tmp/config" HELM_DATA_HOME="$tmp/data" \
            "$bin/helm" --kubeconfig "$kubeconfig" install demo "$tmp/demo" \
            --namespace smoke --wait --timeout 180s || rc=1
    rm -rf "$tmp"
    return "$rc"
}
check "helm install --wait of a starter chart" helm_release

t1=$(date +%s)
check "down.sh" "$here/down.sh"
log "down.sh took $(($(date +%s) - t1))s"
nothing_left() {
    local pid left=0
    for pid in "${pids[@]}"; do
        if running "$pid"; then
            log "pid $pid still runs"
            left=1
        fi
    done
    # Any process whose command line names the state dir is one of ours.
    if pgrep -af -- "$state/" >&2; then
        left=1
    fi
    [ ! -e "$state" ] || { log "$state still exists"; left=1; }
    [ "$left" = 0 ]
}
check "no process or state left" nothing_left
