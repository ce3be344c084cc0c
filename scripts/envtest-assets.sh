#!/usr/bin/env bash
# Makes etcd, kube-apiserver and kube-controller-manager 1.20.2 available for Envtest.
#
# Prints the assets folder (a KUBEBUILDER_ASSETS-style folder) on stdout as its last line;
# progress goes to stderr. Idempotent: a warm cache returns at once.
#
#   KUBEBUILDER_ASSETS     a folder holding etcd and kube-apiserver (and kube-controller-manager);
#                          when set, it wins and nothing is built.
#   OPERATORKIT_CACHE      cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/operatorkit)
#   OPERATORKIT_PROGRESS_SECONDS
#                          how often a long step reports its progress (default 15)
#
# Every long step (apt, the source download, the Go build) prints a line at least every 15 seconds:
# the phase, the time spent, and for the build the packages compiled so far (go build -v).
#
# The build follows docs/kubernetes facts: Debian's etcd-server 3.4, and kube-apiserver /
# kube-controller-manager built from Debian's kubernetes 1.20.2 source package with Go 1.19,
# with vendored modern-go/reflect2 1.0.1 replaced by Debian's 1.0.2 (1.0.1 panics under Go >= 1.18).
set -euo pipefail

VERSION=1.20.2
BINARIES=(etcd kube-apiserver kube-controller-manager)
CACHE_ROOT=${OPERATORKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/operatorkit}
DEST="$CACHE_ROOT/envtest/$VERSION"

say() { printf '[envtest-assets] %s\n' "$*" >&2; }
die() { printf '[envtest-assets] error: %s\n' "$*" >&2; exit 1; }
elapsed() { local s=$SECONDS; printf '%dm%02ds' $((s / 60)) $((s % 60)); }

PROGRESS_EVERY=${OPERATORKIT_PROGRESS_SECONDS:-15}
APT_SOURCES_DIR=${OPERATORKIT_APT_SOURCES_DIR:-/etc/apt/sources.list.d}
# where Debian's etcd-server package puts etcd
ETCD_BIN=${OPERATORKIT_ETCD_BIN:-/usr/bin/etcd}

# Go's -v output: one import path per line, for each package it compiles
count_packages() { grep -cE '^[a-z][A-Za-z0-9_.~+-]*(/[A-Za-z0-9_.~+-]+)*$' "$1" || true; }

# with_progress PHASE LOG [COUNTER] -- COMMAND...
# Runs COMMAND (its output appended to LOG) and, until it ends, prints every $PROGRESS_EVERY seconds
# the phase, the time spent in it and what COUNTER (a function given LOG) says. Returns COMMAND's
# status. COMMAND runs in its own process group, which is killed if this script is.
with_progress() {
  local phase=$1 log=$2 counter=$3
  shift 3
  [ "${1:-}" = "--" ] && shift
  local started=$SECONDS next=$((SECONDS + PROGRESS_EVERY)) pid status
  setsid "$@" >>"$log" 2>&1 &
  pid=$!
  trap 'kill -TERM -- -'"$pid"' 2>/dev/null; exit 143' TERM INT
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$next" ]; then
      local spent=$((SECONDS - started))
      say "[$(elapsed)] $phase: $((spent / 60))m$(printf '%02d' $((spent % 60)))s in this phase${counter:+, $($counter "$log") packages compiled so far}"
      next=$((SECONDS + PROGRESS_EVERY))
    fi
    sleep 0.2
  done
  status=0
  wait "$pid" || status=$?
  trap - TERM INT
  return "$status"
}

have_all() {
  local dir=$1 b
  for b in "${BINARIES[@]}"; do [ -x "$dir/$b" ] || return 1; done
}

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  for b in etcd kube-apiserver; do
    [ -x "$KUBEBUILDER_ASSETS/$b" ] || die "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no executable '$b'. Put etcd 3.4 and kube-apiserver $VERSION there, or unset KUBEBUILDER_ASSETS to let this script build them."
  done
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

if have_all "$DEST" && [ -f "$DEST/.complete" ]; then
  echo "$DEST"
  exit 0
fi

cannot() {
  cat >&2 <<EOF
[envtest-assets] cannot provision the control plane here: $1
[envtest-assets] Get binaries of any Kubernetes 1.20 to 1.37 with controller-runtime's setup-envtest (needs Go)
[envtest-assets] and point KUBEBUILDER_ASSETS at them (Envtest also finds setup-envtest's store by itself):
[envtest-assets]   export KUBEBUILDER_ASSETS="\$(go run sigs.k8s.io/controller-runtime/tools/setup-envtest@latest use -p path 1.37.x)"
[envtest-assets] setup-envtest brings etcd and kube-apiserver; tests that start kube-controller-manager need one of the
[envtest-assets] same version next to them (https://dl.k8s.io/release/v<version>/bin/linux/amd64/kube-controller-manager).
[envtest-assets] Or run this script once as root on a Debian bookworm machine with apt, to build etcd 3.4 and
[envtest-assets] kube-apiserver/kube-controller-manager $VERSION.
EOF
  exit 1
}

[ "$(id -u)" = 0 ] || cannot "it must run as root to install Debian packages (running as $(id -un))"
command -v apt-get >/dev/null || cannot "apt-get is not available (Debian bookworm expected)"

say "provisioning etcd, kube-apiserver and kube-controller-manager $VERSION into $DEST"
say "cold build takes about 12-15 minutes on 2 cores; later runs reuse the cache"

export DEBIAN_FRONTEND=noninteractive
SRC_LIST=$APT_SOURCES_DIR/operatorkit-deb-src.sources
if [ ! -f "$SRC_LIST" ]; then
  say "adding a deb-src source for bookworm main"
  cat >"$SRC_LIST" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi

WORK="$CACHE_ROOT/build/$VERSION"
mkdir -p "$WORK" "$DEST"

say "[$(elapsed)] apt-get update and install (etcd-server, golang-go, rsync, reflect2 sources; ~1 min)"
APT_LOG="$WORK/apt.log"
: >"$APT_LOG"
with_progress "apt-get update" "$APT_LOG" "" -- apt-get update || { tail -n 20 "$APT_LOG" >&2; cannot "apt-get update failed"; }
with_progress "apt-get install" "$APT_LOG" "" -- apt-get install -y --no-install-recommends etcd-server golang-go rsync \
  ca-certificates golang-github-modern-go-reflect2-dev dpkg-dev ||
  { tail -n 20 "$APT_LOG" >&2; cannot "apt-get install failed"; }
cd "$WORK"

if [ ! -d "$WORK/src/cmd/kube-apiserver" ]; then
  say "[$(elapsed)] downloading Debian's kubernetes source package (34 MB)"
  rm -rf "$WORK/dl" "$WORK/src"
  mkdir -p "$WORK/dl"
  (cd "$WORK/dl" && with_progress "downloading the kubernetes source package" "$APT_LOG" "" -- apt-get source --download-only kubernetes) ||
    { tail -n 20 "$APT_LOG" >&2; cannot "apt-get source kubernetes failed"; }
  orig=$(ls "$WORK"/dl/kubernetes_*.orig.tar.gz | head -n 1)
  [ -n "$orig" ] || die "no kubernetes .orig.tar.gz was downloaded"
  say "[$(elapsed)] unpacking $(basename "$orig")"
  mkdir -p "$WORK/src"
  with_progress "unpacking" "$APT_LOG" "" -- tar -xzf "$orig" -C "$WORK/src" --strip-components=1
  rm -rf "$WORK/dl"
fi

cd "$WORK/src"
R2=vendor/github.com/modern-go/reflect2
if [ ! -f "$R2/.operatorkit-patched" ]; then
  say "[$(elapsed)] replacing vendored modern-go/reflect2 1.0.1 with Debian's 1.0.2 (Go >= 1.18 fix)"
  rm -rf "$R2"
  mkdir -p "$R2"
  rsync -a --exclude '*_test.go' --exclude 'tests/' /usr/share/gocode/src/github.com/modern-go/reflect2/ "$R2/"
  touch "$R2/.operatorkit-patched"
fi

mkdir -p .go/src/k8s.io
[ -e .go/src/k8s.io/kubernetes ] || ln -s ../../.. .go/src/k8s.io/kubernetes

say "[$(elapsed)] building kube-apiserver and kube-controller-manager with $(go version | cut -d' ' -f3) (~10 min cold, ~3 min with a warm Go cache)"
# GOFLAGS=-v: go names each package as it compiles it, which is how progress is counted
: >"$WORK/build.log"
with_progress "building kube-apiserver and kube-controller-manager" "$WORK/build.log" count_packages -- \
  env GOPATH="$PWD/.go" CGO_ENABLED=0 KUBE_VERBOSE=0 GOFLAGS=-v make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" ||
  { tail -n 40 "$WORK/build.log" >&2; die "the Kubernetes build failed (log: $WORK/build.log)"; }
say "[$(elapsed)] built: $(count_packages "$WORK/build.log") packages compiled"

install -m 0755 _output/bin/kube-apiserver _output/bin/kube-controller-manager "$DEST/"
install -m 0755 "$ETCD_BIN" "$DEST/etcd"
"$DEST/kube-apiserver" --version >&2
"$DEST/etcd" --version 2>/dev/null | head -n 1 >&2
touch "$DEST/.complete"

say "[$(elapsed)] removing the build tree (the Go build cache stays for faster rebuilds)"
cd /
rm -rf "$WORK"
say "[$(elapsed)] done: $DEST"
echo "$DEST"
