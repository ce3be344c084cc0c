#!/usr/bin/env bash
# Makes etcd, kube-apiserver and kube-controller-manager 1.20.2 available for Envtest.
#
# Prints the assets folder (a KUBEBUILDER_ASSETS-style folder) on stdout as its last line;
# progress goes to stderr. Idempotent: a warm cache returns at once.
#
#   KUBEBUILDER_ASSETS     a folder holding etcd and kube-apiserver (and kube-controller-manager);
#                          when set, it wins and nothing is built.
#   OPERATORKIT_CACHE      cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/operatorkit)
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
[envtest-assets] Bring the binaries yourself and point KUBEBUILDER_ASSETS at their folder:
[envtest-assets]   - etcd 3.4.x            (Debian: apt-get install etcd-server -> /usr/bin/etcd)
[envtest-assets]   - kube-apiserver $VERSION and kube-controller-manager $VERSION
[envtest-assets]     (built from Kubernetes v$VERSION: make WHAT="cmd/kube-apiserver cmd/kube-controller-manager")
[envtest-assets] or run this script once as root on a Debian bookworm machine with apt.
EOF
  exit 1
}

[ "$(id -u)" = 0 ] || cannot "it must run as root to install Debian packages (running as $(id -un))"
command -v apt-get >/dev/null || cannot "apt-get is not available (Debian bookworm expected)"

say "provisioning etcd, kube-apiserver and kube-controller-manager $VERSION into $DEST"
say "cold build takes about 12-15 minutes on 2 cores; later runs reuse the cache"

export DEBIAN_FRONTEND=noninteractive
SRC_LIST=/etc/apt/sources.list.d/operatorkit-deb-src.sources
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
apt-get update >"$APT_LOG" 2>&1 || { tail -n 20 "$APT_LOG" >&2; cannot "apt-get update failed"; }
apt-get install -y --no-install-recommends etcd-server golang-go rsync ca-certificates \
  golang-github-modern-go-reflect2-dev dpkg-dev >>"$APT_LOG" 2>&1 ||
  { tail -n 20 "$APT_LOG" >&2; cannot "apt-get install failed"; }
cd "$WORK"

if [ ! -d "$WORK/src/cmd/kube-apiserver" ]; then
  say "[$(elapsed)] downloading Debian's kubernetes source package (34 MB)"
  rm -rf "$WORK/dl" "$WORK/src"
  mkdir -p "$WORK/dl"
  (cd "$WORK/dl" && apt-get source --download-only kubernetes >>"$APT_LOG" 2>&1) ||
    { tail -n 20 "$APT_LOG" >&2; cannot "apt-get source kubernetes failed"; }
  orig=$(ls "$WORK"/dl/kubernetes_*.orig.tar.gz | head -n 1)
  [ -n "$orig" ] || die "no kubernetes .orig.tar.gz was downloaded"
  say "[$(elapsed)] unpacking $(basename "$orig")"
  mkdir -p "$WORK/src"
  tar -xzf "$orig" -C "$WORK/src" --strip-components=1
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
GOPATH="$PWD/.go" CGO_ENABLED=0 KUBE_VERBOSE=0 \
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >"$WORK/build.log" 2>&1 ||
  { tail -n 40 "$WORK/build.log" >&2; die "the Kubernetes build failed (log: $WORK/build.log)"; }

install -m 0755 _output/bin/kube-apiserver _output/bin/kube-controller-manager "$DEST/"
install -m 0755 /usr/bin/etcd "$DEST/etcd"
"$DEST/kube-apiserver" --version >&2
"$DEST/etcd" --version 2>/dev/null | head -n 1 >&2
touch "$DEST/.complete"

say "[$(elapsed)] removing the build tree (the Go build cache stays for faster rebuilds)"
cd /
rm -rf "$WORK"
say "[$(elapsed)] done: $DEST"
echo "$DEST"
