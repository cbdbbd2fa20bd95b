#!/usr/bin/env bash
# Checks what deploys Warbler (deploy/) against a real API server, on a
# cluster of its own:
# - the Helm chart lints and renders, with its options (watchNamespace,
#   leaderElection, loadtester) changing what they should;
# - `helm install` works: CRDs, RBAC, and the controller's pods admitted in a
#   namespace that enforces the restricted Pod Security Standard (kwok plays
#   the nodes: no container runs, so the controller itself is not started);
# - its service account may do exactly what the controller calls, and
#   nothing more (`kubectl auth can-i`, every verb of every resource it
#   uses, and a sample of what it must never do), also through a kubeconfig
#   from sa-kubeconfig.sh;
# - the plain manifests pass `kubectl apply --dry-run=server -k deploy/`,
#   apply, grant the same, and make the same Deployment and rules as the
#   chart.
# Ends with 'chart: N passed, N failed'; exits non-zero if a check failed.
#
# Usage: tests/cluster/chart.sh
# Env:   WARBLER_CLUSTER_DIR   state dir (default: a new /tmp/warbler-cluster-chart-PID,
#                              so an already running cluster is never touched)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
deploy="$repo/deploy"
chart="$deploy/chart/warbler"
crd_file="$deploy/crds/warbler.dev.yaml"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$here/lib.sh"
suite=chart
# shellcheck source=checks.sh source-path=SCRIPTDIR
. "$here/checks.sh"
export WARBLER_CLUSTER_DIR=${WARBLER_CLUSTER_DIR:-/tmp/warbler-cluster-chart-$$}
state=$WARBLER_CLUSTER_DIR
export KUBECACHEDIR="$state/kube-cache" # not ~/.kube/cache (see up.sh)
# The controller's identity, as the chart and deploy/ name it.
sa=system:serviceaccount:warbler:warbler
pids=()
tmp=$(mktemp -d)
# Helm's repositories, plugins and cache: none of the user's.
export HELM_CACHE_HOME="$tmp/helm/cache" HELM_CONFIG_HOME="$tmp/helm/config" \
    HELM_DATA_HOME="$tmp/helm/data"

# expect DESCRIPTION COMMAND...: a check nothing else depends on; the run
# goes on, so that one run shows every wrong permission.
expect() {
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        log "FAILED: $what"
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT
    [ "$rc" -lt 128 ] || log "interrupted (exit $rc)"
    if [ -d "$state" ]; then
        "$here/down.sh" || rc=1
    fi
    rm -rf "$tmp"
    finish || rc=1
    exit "$rc"
}
trap cleanup EXIT
# A signal ends the run through the EXIT trap too.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# --- YAML, without a YAML tool -------------------------------------------------
# objects FILE: KIND/NAMESPACE/NAME of each document of a multi-document file,
# sorted (metadata's own name and namespace, not roleRef's or subjects').
objects() {
    awk '
        function flush() { if (kind != "") print kind "/" ns "/" name; kind = ns = name = "" }
        /^---/ { flush(); top = ""; next }
        /^[A-Za-z]/ { top = $1 }
        /^kind:/ { kind = $2 }
        top == "metadata:" && /^  name:/ { name = $2 }
        top == "metadata:" && /^  namespace:/ { ns = $2 }
        END { flush() }
    ' "$1" | tr -d '"' | sort
}
# doc KIND NAME FILE: that document of FILE.
doc() {
    awk -v kind="$1" -v name="$2" '
        function flush() { if (k == kind && n == name) printf "%s", buf; buf = k = n = ""; top = "" }
        /^---/ { flush(); next }
        { buf = buf $0 "\n" }
        /^[A-Za-z]/ { top = $1 }
        /^kind:/ { k = $2 }
        top == "metadata:" && /^  name:/ { n = $2 }
        END { flush() }
    ' "$3"
}
# same_lines WANT GOT: two newline-separated lists are equal (diff shown if not).
same_lines() {
    if [ "$1" != "$2" ]; then
        diff <(echo "$1") <(echo "$2") | sed 's/^/  /' >&2
        return 1
    fi
}

# --- The cluster -------------------------------------------------------------------
t0=$(date +%s)
start_cluster
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }
helm() { "$bin/helm" --kubeconfig "$kubeconfig" "$@"; }

check "fake nodes are Ready" k wait --for=condition=Ready node -l type=kwok --timeout=60s

# --- The chart, offline ---------------------------------------------------------------
check "helm lint --strict" helm lint --strict "$chart"
for set in watchNamespace=apps "leaderElection=false,replicas=1" loadtester.enabled=true \
    "serviceAccount.create=false,serviceAccount.name=other" journal.persistence.enabled=true \
    registry.verify.keysConfigMap=signers dashboard.enabled=true; do
    expect "helm lint --strict --set $set" helm lint --strict "$chart" --set "$set" >/dev/null
done
expect "the chart's crds/ is a copy of deploy/crds/warbler.dev.yaml" \
    cmp "$chart/crds/warbler.dev.yaml" "$crd_file"

# render NAME [HELM ARGS...]: helm template into $tmp/NAME.yaml.
render() {
    local name=$1
    shift
    helm template warbler "$chart" --namespace warbler "$@" >"$tmp/$name.yaml"
}
check "helm template renders" render default
expect "default render: the controller, its RBAC and Service, no load tester" same_lines \
    "$(printf '%s\n' ClusterRole//warbler ClusterRoleBinding//warbler Deployment/warbler/warbler \
        Role/warbler/warbler-leader-election RoleBinding/warbler/warbler-leader-election \
        Service/warbler/warbler ServiceAccount/warbler/warbler | sort)" \
    "$(objects "$tmp/default.yaml")"
args_have() { # FILE ARG...: the controller's Deployment has each argument
    local d a
    d=$(doc Deployment warbler "$1")
    shift
    for a in "$@"; do grep -qxF -- "        - $a" <<<"$d" || { log "no argument $a"; return 1; }; done
}
args_lack() { # FILE ARG-PREFIX: no argument of the controller starts so
    ! doc Deployment warbler "$1" | grep -q -- "^        - $2"
}
expect "default render: 2 replicas, leader election, linkerd, Prometheus" args_have "$tmp/default.yaml" \
    controller --mesh-provider=linkerd --metrics-server=http://prometheus.linkerd-viz:9090 \
    --listen=0.0.0.0:8080 --leader-elect
expect "default render: watches every namespace" args_lack "$tmp/default.yaml" --namespace
expect "default render: replicas: 2" grep -qx '  replicas: 2' "$tmp/default.yaml"
expect "default render: no dashboard" args_lack "$tmp/default.yaml" --dashboard
expect "default render: the Service exposes no dashboard" \
    bash -c '! grep -q http-dashboard "$1"' _ "$tmp/default.yaml"

check "helm template --set dashboard.enabled=true" render dashboard --set dashboard.enabled=true
expect "dashboard: --dashboard=0.0.0.0:8484" args_have "$tmp/dashboard.yaml" --dashboard=0.0.0.0:8484
dashboard_ports() { # FILE: Service port 8484 to the container's port 8484, named http-dashboard
    local svc dep
    svc=$(doc Service warbler "$1")
    dep=$(doc Deployment warbler "$1")
    grep -qx '  - name: http-dashboard' <<<"$svc" && grep -qx '    port: 8484' <<<"$svc" &&
        grep -qx '    targetPort: http-dashboard' <<<"$svc" &&
        grep -qx '        - name: http-dashboard' <<<"$dep" && grep -qx '          containerPort: 8484' <<<"$dep"
}
expect "dashboard: Service port 8484 -> container port 8484 (http-dashboard)" \
    dashboard_ports "$tmp/dashboard.yaml"

check "helm template --set watchNamespace=apps" render watch --set watchNamespace=apps
expect "watchNamespace: a RoleBinding in that namespace instead of the ClusterRoleBinding, and ClusterAnalysisPolicies readable" same_lines \
    "$(printf '%s\n' ClusterRole//warbler ClusterRole//warbler-shared-policies \
        ClusterRoleBinding//warbler-shared-policies Deployment/warbler/warbler \
        Role/warbler/warbler-leader-election RoleBinding/apps/warbler \
        RoleBinding/warbler/warbler-leader-election Service/warbler/warbler \
        ServiceAccount/warbler/warbler | sort)" \
    "$(objects "$tmp/watch.yaml")"
expect "watchNamespace: --namespace=apps" args_have "$tmp/watch.yaml" --namespace=apps

check "helm template --set leaderElection=false,replicas=1" render single \
    --set leaderElection=false,replicas=1
expect "without leader election: no Lease role, no --leader-elect" same_lines \
    "$(printf '%s\n' ClusterRole//warbler ClusterRoleBinding//warbler Deployment/warbler/warbler \
        Service/warbler/warbler ServiceAccount/warbler/warbler | sort)" \
    "$(objects "$tmp/single.yaml")"
expect "without leader election: no --leader-elect" args_lack "$tmp/single.yaml" --leader-elect
refused_two_leaders() {
    local out
    if out=$(render refused --set leaderElection=false 2>&1); then
        log "rendered 2 replicas without leader election"
        return 1
    fi
    grep -q 'leaderElection' <<<"$out" || { log "$out"; return 1; }
}
expect "2 replicas without leader election are refused, naming the setting" refused_two_leaders

check "helm template --set loadtester.enabled=true" render loadtester --set loadtester.enabled=true
expect "loadtester: its Namespace, ServiceAccount, Deployment and Service in loadtest" same_lines \
    "$(printf '%s\n' Namespace//loadtest ServiceAccount/loadtest/flagger-loadtest-loadtester \
        Deployment/loadtest/flagger-loadtest-loadtester Service/loadtest/flagger-loadtest-loadtester | sort)" \
    "$(objects "$tmp/loadtester.yaml" | grep -v '/warbler')"
loadtester_ports() { # FILE: Service port 80 to the container's port 8080, named http
    local svc dep
    svc=$(doc Service flagger-loadtest-loadtester "$1")
    dep=$(doc Deployment flagger-loadtest-loadtester "$1")
    grep -qx '    port: 80' <<<"$svc" && grep -qx '    targetPort: http' <<<"$svc" &&
        grep -qx '        - name: http' <<<"$dep" && grep -qx '          containerPort: 8080' <<<"$dep" &&
        grep -qF 'args: [loadtester, --listen, 0.0.0.0:8080]' <<<"$dep"
}
expect "loadtester: Service port 80 -> container port 8080 (http)" loadtester_ports "$tmp/loadtester.yaml"
expect "deploy/loadtester.yaml: Service port 80 -> container port 8080 (http)" \
    loadtester_ports "$deploy/loadtester.yaml"

check "helm template --set journal.persistence.enabled=true" render journal \
    --set journal.persistence.enabled=true,journal.persistence.size=5Gi
expect "journal persistence: a PersistentVolumeClaim beside the controller" same_lines \
    "$(printf '%s\n' PersistentVolumeClaim/warbler/warbler-journal $(objects "$tmp/default.yaml") | sort)" \
    "$(objects "$tmp/journal.yaml")"
journal_claim_absent() { # FILE: no claim, the state volume is an emptyDir
    ! doc Deployment warbler "$1" | grep -q claimName
}
journal_claim() { # FILE CLAIM: the state volume is that claim, and the chart's PVC is RWX 5Gi
    local dep
    dep=$(doc Deployment warbler "$1")
    grep -qx "          claimName: $2" <<<"$dep" && ! grep -q 'emptyDir: {}' <<<"$dep"
}
expect "journal persistence: the state volume is the claim" journal_claim "$tmp/journal.yaml" warbler-journal
expect "journal persistence: ReadWriteMany, 5Gi, kept on uninstall" bash -c \
    'grep -qx "    - ReadWriteMany" <<<"$1" && grep -qx "      storage: 5Gi" <<<"$1" &&
        grep -qx "    helm.sh/resource-policy: keep" <<<"$1"' _ \
    "$(doc PersistentVolumeClaim warbler-journal "$tmp/journal.yaml")"
check "helm template --set journal.persistence.existingClaim=mine" render journal_mine \
    --set journal.persistence.enabled=true,journal.persistence.existingClaim=mine
expect "journal persistence with existingClaim: no PVC of the chart's" same_lines \
    "$(objects "$tmp/default.yaml")" "$(objects "$tmp/journal_mine.yaml")"
expect "journal persistence with existingClaim: the state volume is that claim" \
    journal_claim "$tmp/journal_mine.yaml" mine
expect "default render: the journal on an emptyDir" journal_claim_absent "$tmp/default.yaml"
refused_rwo_standby() {
    local out
    if out=$(render refused --set journal.persistence.enabled=true \
        --set 'journal.persistence.accessModes={ReadWriteOnce}' 2>&1); then
        log "rendered a ReadWriteOnce journal claim for 2 replicas"
        return 1
    fi
    grep -q 'journal.persistence.accessModes' <<<"$out" || { log "$out"; return 1; }
}
expect "a ReadWriteOnce journal claim with 2 replicas is refused, naming the setting" refused_rwo_standby
expect "a ReadWriteOnce journal claim with 1 replica renders" render rwo_single \
    --set journal.persistence.enabled=true,replicas=1,leaderElection=false \
    --set 'journal.persistence.accessModes={ReadWriteOnce}'

check "helm template with registry credentials, CA, insecure registry and required signers" \
    render registry --set registry.authSecret=pull,registry.caConfigMap=registry-ca \
    --set 'registry.insecure={registry.test:5000}' \
    --set registry.verify.keysConfigMap=signers,registry.verify.minimum=2
expect "registry: the controller's flags point at the mounts" args_have "$tmp/registry.yaml" \
    --registry-auth=/etc/warbler/registry-auth/.dockerconfigjson \
    --registry-ca=/etc/warbler/registry-ca/ca.crt --insecure-registry=registry.test:5000 \
    --verify-key=/etc/warbler/verify-keys --verify-minimum=2
registry_mounts() { # FILE: the Secret and ConfigMaps are mounted read-only where the flags say
    local dep
    dep=$(doc Deployment warbler "$1")
    grep -qx '          secretName: pull' <<<"$dep" && grep -qx '          name: registry-ca' <<<"$dep" &&
        grep -qx '          name: signers' <<<"$dep" &&
        [ "$(grep -c '          readOnly: true' <<<"$dep")" = 3 ]
}
expect "registry: the Secret and ConfigMaps are mounted read-only" registry_mounts "$tmp/registry.yaml"
expect "default render: no registry flags" bash -c \
    '! grep -qE -- "--(registry-auth|registry-ca|insecure-registry|verify-key)" <<<"$1"' _ \
    "$(doc Deployment warbler "$tmp/default.yaml")"

# --- Route CRDs, the namespace, the chart ------------------------------------------
# The Gateway API CRD is larger than the 256 KiB annotation that client-side
# apply keeps, hence server-side apply.
check "apply the routing CRDs" k apply --server-side -f "$here/crds/" >/dev/null
check "routing CRDs are Established" k wait --for=condition=Established --timeout=60s \
    crd/httproutes.gateway.networking.k8s.io crd/trafficsplits.split.smi-spec.io
# deploy/'s namespace, which enforces the restricted Pod Security Standard:
# pods that do not meet it are refused, and helm install --wait would time out.
check "create namespace warbler (restricted Pod Security)" k apply -f "$deploy/namespace.yaml"
check "helm install (pods admitted and Ready on kwok nodes)" \
    helm install warbler "$chart" -n warbler --create-namespace --wait --timeout 120s
check "warbler.dev CRDs from the chart are Established" k wait --for=condition=Established \
    --timeout=60s crd/canaries.warbler.dev crd/metrictemplates.warbler.dev \
    crd/analysispolicies.warbler.dev crd/clusteranalysispolicies.warbler.dev
pods_on_kwok() {
    local out
    out=$(k -n warbler get pods -l app.kubernetes.io/name=warbler \
        -o jsonpath='{range .items[*]}{.status.phase}/{.spec.nodeName}{"\n"}{end}')
    echo "$out" >&2
    [ "$(grep -c '^Running/kwok-node-' <<<"$out")" = 2 ]
}
expect "two controller pods Running on kwok nodes" pods_on_kwok
downward_api() {
    local env
    env=$(k -n warbler get deployment warbler -o \
        jsonpath='{range .spec.template.spec.containers[0].env[*]}{.name}={.valueFrom.fieldRef.fieldPath}{"\n"}{end}')
    grep -qx 'POD_NAME=metadata.name' <<<"$env" && grep -qx 'POD_NAMESPACE=metadata.namespace' <<<"$env"
}
expect "POD_NAME and POD_NAMESPACE from the downward API" downward_api

# --- RBAC, as the service account ----------------------------------------------------
# can_i ARGS...: yes or no for the service account. Anything on stderr (an
# error, or a warning such as an unknown resource type, which would make a
# typo pass as a denial) is shown and counts as neither.
can_i() {
    local out
    out=$(k auth can-i "$@" --as="$sa" </dev/null 2>"$tmp/can-i.err") || true
    if [ -s "$tmp/can-i.err" ]; then
        log "can-i $*: $(cat "$tmp/can-i.err")"
        echo error
        return
    fi
    case "$out" in
        yes) echo yes ;;
        no*) echo no ;;
        *) echo "error: $out" ;;
    esac
}
is() { # WANT ARGS...: can_i ARGS... answers WANT
    local want=$1 got
    shift
    got=$(can_i "$@")
    [ "$got" = "$want" ] || { log "can-i $*: want $want, got $got"; return 1; }
}
# wait_rbac yes|no: until the bindings (informer-cached) reach the authorizer.
wait_rbac() {
    local _
    for _ in $(seq 1 60); do
        [ "$(can_i get canaries.warbler.dev -A)" = "$1" ] && return 0
        sleep 0.5
    done
    return 1
}

verbs=(get list watch create update patch delete deletecollection)
# RESOURCE SUBRESOURCE(- for none) VERBS-GRANTED(- for none), cluster-wide.
cluster_rules='
canaries.warbler.dev                  -          get,list,watch,patch,update
canaries.warbler.dev                  status     get,patch,update
canaries.warbler.dev                  finalizers update
metrictemplates.warbler.dev           -          get,list,watch
analysispolicies.warbler.dev          -          get,list,watch
clusteranalysispolicies.warbler.dev   -          get,list,watch
deployments.apps                      -          get,list,watch,create,patch,update
deployments.apps                      scale      get,patch,update
horizontalpodautoscalers.autoscaling  -          get,create,patch,update
configmaps                            -          get,create,patch,update
secrets                               -          get,create,patch,update
services                              -          get,list,watch,create,patch,update
events.events.k8s.io                  -          create,patch
events                                -          create,patch
trafficsplits.split.smi-spec.io       -          get,list,watch,create,patch,update
httproutes.gateway.networking.k8s.io  -          get,list,watch,create,patch,update
'
# Namespaced: leases, in the controller's namespace only.
lease_rules='
warbler      get,create,patch,update
default      -
kube-system  -
'
# What the controller must never be able to do (beyond the verbs the matrix
# above denies): ARGS for can-i.
never='
list secrets -A
watch secrets -n warbler
list configmaps -A
get pods -A
create pods -n default
create pods --subresource=exec -n default
create serviceaccounts --subresource=token -n warbler
create canaries.warbler.dev -A
create canaries.warbler.dev -n default
delete canaries.warbler.dev -n default
update metrictemplates.warbler.dev -n default
update analysispolicies.warbler.dev -n default
create clusteranalysispolicies.warbler.dev -A
delete deployments.apps -n default
delete services -n default
delete trafficsplits.split.smi-spec.io -n default
delete httproutes.gateway.networking.k8s.io -n default
create replicasets.apps -n default
get leases.coordination.k8s.io -A
create leases.coordination.k8s.io -A
create namespaces -A
get nodes -A
create clusterrolebindings.rbac.authorization.k8s.io -A
create rolebindings.rbac.authorization.k8s.io -n warbler
bind clusterroles.rbac.authorization.k8s.io -A
escalate roles.rbac.authorization.k8s.io -n warbler
impersonate serviceaccounts -A
create customresourcedefinitions.apiextensions.k8s.io -A
patch customresourcedefinitions.apiextensions.k8s.io -A
'
# rbac LABEL: every check above, for what is installed now.
rbac() {
    local label=$1 resource sub granted shown ns verb want args=() line
    local before_passed=$passed before_failed=$failed
    while read -r resource sub granted; do
        [ -n "$resource" ] || continue
        args=()
        shown=$resource
        [ "$sub" = - ] || { args=(--subresource="$sub"); shown+="/$sub"; }
        for verb in "${verbs[@]}"; do
            want=no
            case ",$granted," in *",$verb,"*) want=yes ;; esac
            expect "$label: $verb $shown cluster-wide: $want" \
                is "$want" "$verb" "$resource" "${args[@]}" -A
        done
    done <<<"$cluster_rules"
    while read -r ns granted; do
        [ -n "$ns" ] || continue
        for verb in "${verbs[@]}"; do
            want=no
            case ",$granted," in *",$verb,"*) want=yes ;; esac
            expect "$label: $verb leases in $ns: $want" \
                is "$want" "$verb" leases.coordination.k8s.io -n "$ns"
        done
    done <<<"$lease_rules"
    while read -r line; do
        [ -n "$line" ] || continue
        read -r -a args <<<"$line"
        expect "$label: denied: $line" is no "${args[@]}"
    done <<<"$never"
    log "$label: RBAC: $((passed - before_passed)) passed, $((failed - before_failed)) failed"
}

check "the chart's RBAC reaches the authorizer" wait_rbac yes
rbac helm

# --- The same, through sa-kubeconfig.sh ----------------------------------------------
sa_kubeconfig="$tmp/warbler-sa.kubeconfig"
check "sa-kubeconfig.sh writes a kubeconfig" \
    "$here/sa-kubeconfig.sh" "$kubeconfig" warbler warbler "$sa_kubeconfig" >/dev/null
ks() { kubectl --kubeconfig "$sa_kubeconfig" "$@"; }
expect "sa kubeconfig: mode 0600" [ "$(stat -c %a "$sa_kubeconfig")" = 600 ]
expect "sa kubeconfig: the API server sees the service account" \
    [ "$(ks auth whoami -o jsonpath='{.status.userInfo.username}')" = "$sa" ]
forbidden() { # COMMAND...: the API server refuses it (403), not some other error
    local out
    if out=$("$@" 2>&1); then
        log "allowed: $*"
        return 1
    fi
    grep -qi forbidden <<<"$out" || { log "$out"; return 1; }
}
expect "sa kubeconfig: list canaries in every namespace" ks get canaries.warbler.dev -A
expect "sa kubeconfig: list deployments in every namespace" ks get deployments.apps -A
expect "sa kubeconfig: create a Deployment (server dry run)" \
    ks -n default create deployment probe --image=probe --dry-run=server
expect "sa kubeconfig: no listing of secrets" forbidden ks -n warbler get secrets
expect "sa kubeconfig: no pods" forbidden ks -n default get pods
lease() { # NAMESPACE
    cat <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: chart-probe
  namespace: $1
spec:
  holderIdentity: chart-sh
  leaseDurationSeconds: 15
EOF
}
expect "sa kubeconfig: create a Lease in warbler" ks create -f - < <(lease warbler)
expect "sa kubeconfig: get it" ks -n warbler get lease chart-probe
expect "sa kubeconfig: update it" ks -n warbler patch lease chart-probe --type=merge \
    -p '{"spec":{"holderIdentity":"chart-sh-2"}}'
expect "sa kubeconfig: no delete of a Lease" forbidden ks -n warbler delete lease chart-probe
expect "sa kubeconfig: no Lease in default" forbidden ks create -f - < <(lease default)

# What the chart made, to compare with what deploy/ makes.
live() { # the parts both must agree on, as the API server stores them
    k -n warbler get deployment warbler -o jsonpath='{.spec.replicas}{"\n"}{.spec.template.spec}{"\n"}'
    k -n warbler get service warbler -o jsonpath='{.spec.ports}{"\n"}{.spec.selector}{"\n"}'
    k get clusterrole warbler -o jsonpath='{.rules}{"\n"}'
    k get clusterrolebinding warbler -o jsonpath='{.roleRef}{"\n"}{.subjects}{"\n"}'
    k -n warbler get role warbler-leader-election -o jsonpath='{.rules}{"\n"}'
    k -n warbler get rolebinding warbler-leader-election -o jsonpath='{.roleRef}{"\n"}{.subjects}{"\n"}'
}
check "read back what the chart made" live >"$tmp/chart.live"

check "helm uninstall" helm uninstall warbler -n warbler --wait --timeout 60s
check "the chart's RBAC is gone" wait_rbac no

# --- The plain manifests ---------------------------------------------------------------
# A server-side dry run creates nothing, so the namespaces the manifests
# create must exist first for the objects in them to be checked.
if [ -f "$crd_file" ]; then
    check "kubectl kustomize deploy/" k kustomize "$deploy" -o "$tmp/kustomize.yaml"
    dry_run=(-k "$deploy")
else
    log "$crd_file is missing: checking the other resources of deploy/kustomization.yaml"
    sed -n 's/^- //p' "$deploy/kustomization.yaml" | grep -v '^crds/' | while read -r f; do
        cat "$deploy/$f"
        echo ---
    done >"$tmp/kustomize.yaml"
    dry_run=(-f "$tmp/kustomize.yaml")
fi
namespaces() {
    local n
    for n in $(objects "$tmp/kustomize.yaml" | sed -n 's|^Namespace//||p'); do
        doc Namespace "$n" "$tmp/kustomize.yaml"
        echo ---
    done
}
check "deploy/'s namespaces" k apply -f - < <(namespaces)
# apply_clean ARGS...: kubectl apply ARGS succeeds, and the namespaces'
# pod-security.kubernetes.io/warn label raises no warning about the pods of
# a Deployment (the API server checks templates against the restricted
# standard; a dry run creates no pods that could be refused).
apply_clean() {
    local err rc=0
    err=$(k apply "$@" 2>&1 >/dev/null) || rc=1
    [ -z "$err" ] || echo "$err" >&2
    [ "$rc" = 0 ] && ! grep -q 'would violate PodSecurity' <<<"$err"
}
check "kubectl apply --dry-run=server ${dry_run[*]#"$repo/"} (and no Pod Security warning)" \
    apply_clean --dry-run=server "${dry_run[@]}"
if [ -f "$crd_file" ]; then
    check "kubectl apply -k deploy/ (and no Pod Security warning)" apply_clean -k "$deploy"
    check "deploy/'s RBAC reaches the authorizer" wait_rbac yes
    rbac kustomize
    expect "deploy/ makes what the chart makes (Deployment, Service, RBAC)" \
        diff "$tmp/chart.live" <(live)
    expect "controller rolls out (pods admitted)" \
        k -n warbler rollout status deployment/warbler --timeout=120s
    expect "loadtester rolls out (pods admitted)" \
        k -n loadtest rollout status deployment/flagger-loadtest-loadtester --timeout=120s
    expect "loadtester Service: flagger-loadtest-loadtester.loadtest port 80 -> http (8080)" [ \
        "$(k -n loadtest get service flagger-loadtest-loadtester \
            -o jsonpath='{.spec.ports[0].port}->{.spec.ports[0].targetPort}')" = "80->http" ]
fi

# --- Down --------------------------------------------------------------------------
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
    [ ! -e "$state" ] || { log "$state still exists"; left=1; }
    [ "$left" = 0 ]
}
check "no process or state left" nothing_left
log "took $(($(date +%s) - t0))s"
