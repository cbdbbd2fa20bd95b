#!/usr/bin/env bash
# Builds the binaries of the test cluster (kube-apiserver,
# kube-controller-manager, kube-scheduler, etcd, kwok, helm) from Go modules,
# once, into a cache outside the checkout. Prints the bin dir as its last line.
#
# Usage: tests/cluster/build.sh
# Env:   WARBLER_CLUSTER_CACHE  cache root (default ~/.cache/warbler-cluster)
#
# Why from source: no package registry reachable here ships kube-apiserver,
# and Debian's etcd is too old; the Go module proxy serves all of them.
# The versions are pinned by the go.mod/go.sum files under mods/ (one module
# per tool so their dependency graphs do not mix); mods/kube/update.sh bumps
# Kubernetes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mods="$here/mods"
cache_root=${WARBLER_CLUSTER_CACHE:-$HOME/.cache/warbler-cluster}

# Never let the go command fetch another toolchain (no internet here) nor
# edit the checked-in go.mod/go.sum: a stale go.sum must fail, not drift.
# -buildvcs=false: the modules live in a git checkout whose state is irrelevant.
export GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"
# Static binaries, as the upstream releases are built; no C toolchain needed.
export CGO_ENABLED=0

command -v go >/dev/null || { echo "build.sh: the go command is needed (Go >= 1.26)" >&2; exit 1; }

# The cache key covers everything that decides the output: the pinned
# dependency graph, this script (flags, ldflags, list of binaries) and the
# Go toolchain. A change to any of them builds into a new folder.
key=$(
    {
        for f in "$mods"/*/go.mod "$mods"/*/go.sum "$here/build.sh"; do
            printf '%s\n' "${f#"$here"/}"
            cat "$f"
        done
        go version
    } | sha256sum | cut -c1-16
)
final="$cache_root/$key"
bins=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok helm)

complete() {
    local b
    for b in "${bins[@]}"; do [ -x "$1/bin/$b" ] || return 1; done
}

if complete "$final"; then
    echo "$final/bin"
    exit 0
fi

mkdir -p "$cache_root"
# Two builds at once (two test runs, or a developer and CI on one machine)
# would only waste CPU: the second waits, then finds the folder complete.
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
    echo "build.sh: another build is running, waiting for it..." >&2
    flock 9
fi
if complete "$final"; then
    echo "$final/bin"
    exit 0
fi

# Build into a scratch folder and rename it into place only when every binary
# is there, so an interrupted build is never mistaken for a complete one.
tmp=$(mktemp -d "$cache_root/.building-$key.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
# A build cache of its own, deleted with the scratch folder: Kubernetes'
# compiled packages fill gigabytes that nothing reads once the binaries exist,
# and a fresh CI machine builds this next to a Rust target of its own.
export GOCACHE="$tmp/go-build"

modver() { # dir module -> version pinned in that tool module
    (cd "$mods/$1" && go list -m -f '{{.Version}}' "$2")
}

k8s=$(modver kube k8s.io/kubernetes)           # e.g. v1.37.2
k8s_minor=$(echo "$k8s" | cut -d. -f2)
helm_clientgo=$(modver helm k8s.io/client-go)  # e.g. v0.37.0
helm_k8s_minor=$(echo "$helm_clientgo" | cut -d. -f2)

# What hack/lib/version.sh stamps into a release, minus the git commit: else
# the binaries report v0.0.0-master, which clients and version checks dislike.
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kube_ldflags+=" -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
    kube_ldflags+=" -X $pkg.gitTreeState=clean"
done
# Helm's Makefile stamps its version and the Kubernetes version its charts
# see by default (Capabilities.KubeVersion).
helm_ver=$(modver helm helm.sh/helm/v3)
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_ver"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$helm_k8s_minor"
done

build() { # name module-dir package ldflags
    local name=$1 dir=$2 pkg=$3 ldflags=$4 start
    start=$(date +%s)
    echo "build.sh: building $name ($pkg)..." >&2
    # nice + -p 1: this runs on 2-core machines next to other builds and tests;
    # -pgo=off: Kubernetes ships default.pgo profiles that make cold builds slower;
    # -trimpath: no local paths in the binaries (reproducible).
    (cd "$mods/$dir" && nice -n 19 go build -p 1 -pgo=off -trimpath \
        -ldflags "$ldflags" -o "$tmp/bin/$name" "$pkg")
    echo "$name $(($(date +%s) - start))s" | tee -a "$tmp/build-times.txt" >&2
}

total_start=$(date +%s)
build etcd etcd go.etcd.io/etcd/server/v3 "-s -w"
build kube-apiserver kube k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags"
build kube-controller-manager kube k8s.io/kubernetes/cmd/kube-controller-manager "$kube_ldflags"
build kube-scheduler kube k8s.io/kubernetes/cmd/kube-scheduler "$kube_ldflags"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok "-s -w"
build helm helm helm.sh/helm/v3/cmd/helm "$helm_ldflags"
echo "total $(($(date +%s) - total_start))s" | tee -a "$tmp/build-times.txt" >&2

rm -rf "$final" # a leftover incomplete folder (cannot come from this script)
du -sh "$GOCACHE" | sed 's/^/go build cache /' | tee -a "$tmp/build-times.txt" >&2
rm -rf "$GOCACHE"
chmod 755 "$tmp"
mv -T "$tmp" "$final"
trap - EXIT
echo "$final/bin"
