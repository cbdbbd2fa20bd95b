#!/usr/bin/env bash
# Starts a real Kubernetes control plane on 127.0.0.1 with fake (kwok) nodes:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok.
# Prints the kubeconfig's absolute path as its last line.
#
# Usage: tests/cluster/up.sh        (stop with tests/cluster/down.sh)
# Env:   WARBLER_CLUSTER_DIR        state dir (default /tmp/warbler-cluster)
#        WARBLER_CLUSTER_BIN        use binaries from this dir instead of build.sh
#        WARBLER_CLUSTER_NODES      number of fake nodes (default 2)
#        WARBLER_CLUSTER_<X>_PORT   fixed ports instead of free ones, X one of
#                                   APISERVER ETCD ETCD_PEER CONTROLLER_MANAGER SCHEDULER
#
# Nothing here runs containers: kwok plays the kubelets and only writes status
# (pods become Running/Ready with fake IPs). Network rule: everything binds
# 127.0.0.1, and nothing may ever connect to a pod IP or ClusterIP; those
# ranges are configuration only.
set -Eeuo pipefail

here=$(cd "$(dirname "$0")" && pwd)
state=${WARBLER_CLUSTER_DIR:-/tmp/warbler-cluster}
case "$state" in /*) ;; *) state="$PWD/$state" ;; esac
kubeconfig="$state/kubeconfig"
# kubectl (and helm) keep a discovery cache per server address; with a new
# random port each time it would pile up in ~/.kube/cache. Keep it with us.
export KUBECACHEDIR="$state/kube-cache"
nodes=${WARBLER_CLUSTER_NODES:-2}
# Configuration only, never a traffic target (see above).
service_cidr=10.96.0.0/16
pod_cidr=10.244.0.0/16

log() { echo "up.sh: $*" >&2; }

# --- Already up? ------------------------------------------------------------
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$here/lib.sh"
if [ -f "$state/$marker" ] && [ -f "$kubeconfig" ]; then
    if all_alive "$state" && kubectl --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1; then
        log "cluster in $state is already up"
        echo "$kubeconfig"
        exit 0
    fi
    log "stale cluster state in $state: cleaning it up first"
    "$here/down.sh" >&2
fi

# down.sh deletes the state dir: never adopt a folder that holds other things.
if [ -d "$state" ] && [ ! -f "$state/$marker" ] && [ -n "$(ls -A "$state")" ]; then
    log "$state exists, is not empty and was not made by up.sh: choose another WARBLER_CLUSTER_DIR"
    exit 1
fi

command -v kubectl >/dev/null || { log "kubectl is needed"; exit 1; }
command -v openssl >/dev/null || { log "openssl is needed"; exit 1; }
command -v curl >/dev/null || { log "curl is needed"; exit 1; }

# --- Binaries ---------------------------------------------------------------
# build.sh returns at once when its cache folder is complete.
if [ -n "${WARBLER_CLUSTER_BIN:-}" ]; then
    bin=$WARBLER_CLUSTER_BIN
else
    bin=$("$here/build.sh" | tail -n 1)
fi
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    [ -x "$bin/$b" ] || { log "missing $bin/$b"; exit 1; }
done

start_time=$(date +%s)
mkdir -p "$state"
touch "$state/$marker" # lets down.sh know this folder is ours to delete
mkdir -p "$state/pki" "$state/logs" "$state/pids"
echo "$bin" >"$state/bin-dir"

# From here on, a failure stops whatever was started, after showing why.
on_error() {
    local rc=$?
    log "failed (exit $rc); last log lines:"
    for f in "$state"/logs/*.log; do
        [ -f "$f" ] || continue
        echo "==> $f <==" >&2
        tail -n 15 "$f" >&2
    done
    if [ "${WARBLER_CLUSTER_KEEP_ON_FAILURE:-0}" = 1 ]; then
        log "WARBLER_CLUSTER_KEEP_ON_FAILURE=1: leaving $state as it is"
    else
        "$here/down.sh" >&2 || true
    fi
    exit "$rc"
}
trap on_error ERR

# --- Ports ------------------------------------------------------------------
# A free loopback port: nothing answers on it now. (A race with another
# program taking it before we bind is possible but rare; set fixed ports to
# rule it out.) Ports are drawn from 20000-32767, below Linux's ephemeral range.
taken_ports=" "
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 12768))
        case "$taken_ports" in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            taken_ports+="$p "
            echo "$p"
            return 0
        fi
    done
    log "no free port found"
    return 1
}
port() { # NAME -> $WARBLER_CLUSTER_<NAME>_PORT or a free port
    local var="WARBLER_CLUSTER_${1}_PORT"
    if [ -n "${!var:-}" ]; then echo "${!var}"; else free_port; fi
}
api_port=$(port APISERVER)
etcd_port=$(port ETCD)
etcd_peer_port=$(port ETCD_PEER)
kcm_port=$(port CONTROLLER_MANAGER)
sched_port=$(port SCHEDULER)
cat >"$state/ports.env" <<EOF
WARBLER_CLUSTER_APISERVER_PORT=$api_port
WARBLER_CLUSTER_ETCD_PORT=$etcd_port
WARBLER_CLUSTER_ETCD_PEER_PORT=$etcd_peer_port
WARBLER_CLUSTER_CONTROLLER_MANAGER_PORT=$kcm_port
WARBLER_CLUSTER_SCHEDULER_PORT=$sched_port
EOF

# --- PKI --------------------------------------------------------------------
# A throwaway CA; a serving cert for the apiserver; one client cert in group
# system:masters shared by kubectl and every component (test-only shortcut:
# no per-component RBAC identities); a key pair for service-account tokens;
# a front-proxy CA and client cert for the request-header authenticator.
pki="$state/pki"
ossl() { openssl "$@" 2>>"$state/logs/openssl.log"; }
newkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
newca() { # name
    newkey "$pki/$1.key"
    ossl req -x509 -new -key "$pki/$1.key" -subj "/CN=warbler-test-$1" -days 30 \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out "$pki/$1.crt"
}
sign() { # ca name subject extensions
    newkey "$pki/$2.key"
    ossl req -new -key "$pki/$2.key" -subj "$3" -out "$pki/$2.csr"
    ossl x509 -req -in "$pki/$2.csr" -CA "$pki/$1.crt" -CAkey "$pki/$1.key" \
        -CAcreateserial -days 30 -out "$pki/$2.crt" -extfile <(printf '%s\n' "$4")
}
newca ca
# The front-proxy (request-header) CA, separate as kubeadm does: the
# controller manager and scheduler look it up to authenticate callers of
# their health/metrics ports, and aggregated API servers would need it.
newca front-proxy-ca
sign ca apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1"
sign ca admin "/O=system:masters/CN=warbler-admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
sign front-proxy-ca front-proxy-client "/CN=front-proxy-client" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
newkey "$pki/sa.key"
ossl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
chmod 600 "$pki"/*.key

# One kubeconfig for everything, with the certificates embedded so it can be
# copied around.
server="https://127.0.0.1:$api_port"
KUBECONFIG="$kubeconfig" kubectl config set-cluster warbler --server="$server" \
    --certificate-authority="$pki/ca.crt" --embed-certs=true >/dev/null
KUBECONFIG="$kubeconfig" kubectl config set-credentials warbler-admin \
    --client-certificate="$pki/admin.crt" --client-key="$pki/admin.key" --embed-certs=true >/dev/null
KUBECONFIG="$kubeconfig" kubectl config set-context warbler --cluster=warbler \
    --user=warbler-admin >/dev/null
KUBECONFIG="$kubeconfig" kubectl config use-context warbler >/dev/null
chmod 600 "$kubeconfig"
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }

# --- Processes ----------------------------------------------------------------
# Each runs in its own session (setsid: a Ctrl-C or hang-up of this shell
# does not reach it) with its PID in pids/NAME.pid; down.sh stops them.
start() { # name args...
    local name=$1
    shift
    setsid "$bin/$name" "$@" </dev/null >"$state/logs/$name.log" 2>&1 &
    echo $! >"$state/pids/$name.pid"
    log "started $name (pid $!)"
}
wait_for() { # description timeout-seconds process-name command...
    local what=$1 timeout=$2 name=$3 deadline
    shift 3
    deadline=$(($(date +%s) + timeout))
    until "$@" >/dev/null 2>&1; do
        if ! alive "$state" "$name"; then
            log "$name exited while waiting for $what"
            return 1
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "timed out after ${timeout}s waiting for $what"
            return 1
        fi
        sleep 0.5
    done
}

# etcd: plain HTTP is acceptable because it listens on loopback only.
# --unsafe-no-fsync: the data is thrown away, and fsync on a busy VM disk
# makes every write slow.
start etcd --name warbler --data-dir "$state/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "warbler=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync --log-level warn
wait_for "etcd /health" 60 etcd curl -fsS "http://127.0.0.1:$etcd_port/health"

# --advertise-address=127.0.0.1: without it the apiserver picks the address of
# the default route, which a machine without network may not have, and the
# 'kubernetes' Service endpoint would point off-host.
# --endpoint-reconciler-type=none: the default (lease) reconciler refuses a
# loopback advertise address ("may not be in the loopback range"). With none,
# the 'kubernetes' Service simply has no endpoints; nothing in this cluster
# runs in a pod to use it.
start kube-apiserver \
    --bind-address=127.0.0.1 --secure-port="$api_port" --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --requestheader-client-ca-file="$pki/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" \
    --proxy-client-key-file="$pki/front-proxy-client.key" \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --service-account-issuer="$server" \
    --service-cluster-ip-range="$service_cidr" \
    --authorization-mode=RBAC \
    --allow-privileged=true \
    --profiling=false
wait_for "kube-apiserver /readyz" 120 kube-apiserver k get --raw /readyz

# Controllers: Deployments -> ReplicaSets -> Pods, service accounts, garbage
# collection, node lifecycle, ... Leader election is pointless with one replica
# and only delays the start. --flex-volume-plugin-dir: by default it creates
# /usr/libexec/kubernetes/... on the host. --kube-api-qps: at the default 20
# requests a second, creating the pods of a thousand Deployments (the
# cluster bench) takes minutes.
start kube-controller-manager \
    --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$kcm_port" \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --use-service-account-credentials=false \
    --flex-volume-plugin-dir="$state/flexvolume" \
    --kube-api-qps=200 --kube-api-burst=400 \
    --leader-elect=false --profiling=false

# kwok acts only on pods bound to a node, so the scheduler must run.
start kube-scheduler \
    --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$sched_port" \
    --leader-elect=false --profiling=false

# kwok: only nodes annotated kwok.x-k8s.io/node=fake. --node-ip=127.0.0.1 so
# that anything addressed to a "kubelet" (apiserver proxy, kubectl logs)
# stays on this machine; no --node-port/--server-address, so kwok opens no
# port (it would bind 0.0.0.0). The stage files make nodes Ready and pods
# Running/Ready, completed (Jobs) or deleted. The heartbeat stage writes a
# node's status only every ~10 minutes and relies on kwok renewing the node's
# Lease: without --node-lease-duration-seconds there is no Lease, and after
# 40 s the node lifecycle controller marks every node NotReady and every
# pod unready.
stage_args=()
for f in "$here"/stages/*.yaml; do stage_args+=(--config "$f"); done
start kwok --kubeconfig="$kubeconfig" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=127.0.0.1 --cidr="$pod_cidr" \
    --node-lease-duration-seconds=40 \
    "${stage_args[@]}"

# --- Fake nodes ---------------------------------------------------------------
# No taints, so ordinary pods schedule onto them. kwok fills in the status
# (capacity 1k CPU / 1 TiB / 1M pods, Ready).
for i in $(seq 0 $((nodes - 1))); do
    k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
EOF
done
wait_for "fake nodes Ready" 120 kwok k wait --for=condition=Ready node --all --timeout=5s
# Pods are refused until the namespace's default ServiceAccount exists
# (created by the controller manager); wait so tests can apply at once.
wait_for "default ServiceAccount" 60 kube-controller-manager k -n default get serviceaccount default

# Convenience for shells and tests: `. $state/env.sh` puts helm & co on PATH.
cat >"$state/env.sh" <<EOF
export KUBECONFIG="$kubeconfig"
export KUBECACHEDIR="$KUBECACHEDIR"
export PATH="$bin:\$PATH"
EOF
trap - ERR
log "cluster up in $(($(date +%s) - start_time))s: $server, $nodes fake node(s), state in $state"
echo "$kubeconfig"
