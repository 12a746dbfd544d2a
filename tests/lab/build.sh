#!/usr/bin/env bash
# Build the lab's binaries from the Go module proxy into a cache outside the repository.
#
#   tests/lab/build.sh [SET|COMPONENT]...   build whatever is missing, print the bin directory
#
#   demo   what `make demo` and `make lab-up` need: etcd, Kubernetes (kube-apiserver, kube-controller-manager,
#          kube-scheduler, kubectl), kwok, Prometheus, Traefik, and the third-party CRDs and kwok's stages
#   all    what the tests need (the default): the demo set, promtool, helm and luarun
#   crds   only the CRDs and kwok's stages
#   or one component: kubernetes, etcd, kwok, prometheus, promtool, helm, luarun, traefik
#
# Every component is keyed by its version (tests/lab/versions.env), so a cached build is reused and a
# version bump builds only what changed. The builds are independent of each other and run side by side,
# ASGI_LAB_JOBS at a time (default: 2), longest first; each one's output is prefixed with its name, and any
# failure fails the whole run, naming the component and repeating the end of its log. Set ASGI_LAB_BIN_DIR to
# a directory that already holds the set's binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, prometheus, traefik) to skip building them, the way envtest's KUBEBUILDER_ASSETS works
# (third-party CRDs and kwok's stages are still read from their Go modules).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache=${ASGI_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/asgi-operator}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GOFLAGS=${GOFLAGS:--buildvcs=false}
export CGO_ENABLED=0

log() { printf '[lab-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

command -v go >/dev/null || { log "Go is needed to build the lab (Go 1.26+): https://go.dev/doc/install"; exit 1; }

bin="$cache/bin"
mkdir -p "$bin" "$cache/src"
# One build at a time per cache (a test run's fixture may start one while `make lab-bin` runs): the others
# wait, then find the binaries stamped and skip.
if command -v flock >/dev/null; then
  exec 9>"$cache/.build.lock"
  flock 9
fi

# A throwaway module per component, so nothing of the build lives in the repository.
new_module() { # dir modname
  rm -rf "$1" && mkdir -p "$1" && (cd "$1" && go mod init "$2" >/dev/null 2>&1)
}

# Install the files from a staging dir only once the whole build succeeded, then stamp the version.
finish() { # stamp-name staging-dir
  mv "$2"/* "$bin/" && rmdir "$2" && touch "$bin/.$1"
}

build_kubernetes() {
  local stamp="kubernetes-$K8S_VERSION" minor patch src out
  [ -e "$bin/.$stamp" ] && return 0
  log "building Kubernetes $K8S_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl); the first time takes a while"
  src="$cache/src/kubernetes-$K8S_VERSION"; out="$cache/src/out-kubernetes"
  new_module "$src" lab/kubernetes
  cd "$src"
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  local gomod staging_version="v0.${K8S_VERSION#v1.}"
  gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local paths;
  # mirror that replace block with the published versions of the same modules.
  for m in $(sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
    go mod edit -replace="$m=$m@$staging_version"
  done
  cat > tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
  go get "k8s.io/kubernetes@$K8S_VERSION" >/dev/null 2>&1 || go get "k8s.io/kubernetes@$K8S_VERSION"
  go mod tidy -e >/dev/null 2>&1 || true
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local x="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  x="$x -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  x="$x -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitTreeState=clean"
  rm -rf "$out" && mkdir -p "$out"
  go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "-s -w $x" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  finish "$stamp" "$out"
  cd - >/dev/null
}

build_etcd() {
  local stamp="etcd-$ETCD_VERSION" src out
  [ -e "$bin/.$stamp" ] && return 0
  log "building etcd $ETCD_VERSION"
  src="$cache/src/etcd-$ETCD_VERSION"; out="$cache/src/out-etcd"
  new_module "$src" lab/etcd
  cd "$src"
  cat > main.go <<'EOF'
// etcd's own main package is a one-liner over etcdmain; this wrapper builds it from the server module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1 || go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go mod tidy >/dev/null
  rm -rf "$out" && mkdir -p "$out"
  go build -trimpath -ldflags "-s -w" -o "$out/etcd" .
  finish "$stamp" "$out"
  cd - >/dev/null
}

go_install() { # stamp binary-name package@version [ldflags] [tags]
  local stamp=$1 name=$2 pkg=$3 ldflags=${4:-} tags=${5:-} out
  [ -e "$bin/.$stamp" ] && return 0
  log "building $name ($pkg${tags:+, tags $tags})"
  out="$cache/src/out-$name"
  rm -rf "$out" && mkdir -p "$out"
  GOBIN="$out" go install -trimpath ${tags:+-tags "$tags"} -ldflags "-s -w $ldflags" "$pkg"
  finish "$stamp" "$out"
}

build_kwok() {
  go_install "kwok-$KWOK_VERSION" kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
}

# github.com/prometheus/prometheus v0.3xx.y is Prometheus 3.xx.y. Built without the embedded web UI (the lab
# only uses the HTTP API: no `builtinassets` tag) and without the optional service discoveries (the lab's
# Prometheus reads its targets from a file): upstream's build tag `remove_all_sd` (its README, "Service
# discovery plugins") keeps file, static and HTTP SD and leaves out the cloud ones and their SDKs (AWS, Azure,
# GCE, Kubernetes, ...), which were most of the build's time.
build_prometheus() {
  local v=${PROMETHEUS_VERSION#v0.}; v="${v:0:1}.${v:1:2}.${v##*.}"
  go_install "prometheus-$PROMETHEUS_VERSION" prometheus \
    "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION" \
    "-X github.com/prometheus/common/version.Version=$v" remove_all_sd
}

# promtool (rule unit tests of docs/alerts.yaml), from the same module and version as prometheus.
build_promtool() {
  local v=${PROMETHEUS_VERSION#v0.}; v="${v:0:1}.${v:1:2}.${v##*.}"
  go_install "promtool-$PROMETHEUS_VERSION" promtool \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" \
    "-X github.com/prometheus/common/version.Version=$v" remove_all_sd
}

build_helm() {
  go_install "helm-$HELM_VERSION" helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
}

# Traefik (the lab's gateway for issue 17), from its Go module. `go install ...@version` refuses a module whose
# go.mod has replace directives, so this builds a writable copy of the module directory, with three changes,
# because the Go module proxy refuses (403) eight modules its build would otherwise need:
#   1. its go.mod replaces github.com/traefik/traefik/dynamic/ext with ./pkg/config/dynamic/ext, a nested module
#      the module zip leaves out: recreated as upstream has it (three empty extension structs, one method);
#   2. the ACME DNS-challenge provider registry (github.com/go-acme/lego/v5/providers/dns, which imports seven
#      cloud SDKs the proxy refuses) is left out: its one call answers an error (a lab never uses DNS challenges);
#   3. github.com/abbot/go-http-auth is replaced by a fork the proxy refuses: pointed at upstream v0.4.0 instead,
#      plus the two functions Traefik uses from the fork (CheckSecret, DigestAuth.RequireAuthStale).
# The dashboard's assets (webui/static) are a placeholder in the module: run it with --api.dashboard=false.
build_traefik() {
  local stamp="traefik-$TRAEFIK_VERSION" mod auth src out
  [ -e "$bin/.$stamp" ] && return 0
  log "building Traefik $TRAEFIK_VERSION (a patched copy of its module: see build_traefik)"
  mod=$(cd /tmp && go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  auth=$(cd /tmp && go mod download -json "github.com/abbot/go-http-auth@v0.4.0" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  src="$cache/src/traefik-$TRAEFIK_VERSION"; out="$cache/src/out-traefik"
  rm -rf "$src" && mkdir -p "$cache/src" && cp -r "$mod" "$src" && chmod -R u+w "$src"
  cd "$src"
  patched() { # file pattern: fail loudly when a change no longer applies (after a version bump)
    grep -q -- "$2" "$1" || { log "Traefik $TRAEFIK_VERSION: $1 has no '$2': update build_traefik's changes"; return 1; }
  }

  # 1. the nested module github.com/traefik/traefik/dynamic/ext
  patched go.mod 'github.com/traefik/traefik/dynamic/ext => ./pkg/config/dynamic/ext'
  mkdir -p pkg/config/dynamic/ext
  printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24\n' > pkg/config/dynamic/ext/go.mod
  cat > pkg/config/dynamic/ext/ext.go <<'EOF'
// Package ext holds the extension points of Traefik's dynamic configuration (empty in Traefik itself).
package ext

// HTTP is a dynamic.HTTP extension.
type HTTP struct{}

// Router is a dynamic.Router extension.
type Router struct{}

// RouterIng is a RouterIng extension for ingress provider annotations.
type RouterIng struct{}

// ToRouter converts RouterIng to a Router.
func (r RouterIng) ToRouter() Router { return Router{} }
EOF

  # 2. no DNS-challenge providers: `dns.NewDNSChallengeProviderByName` is answered by a stub in the same package
  patched pkg/provider/acme/provider.go '"github.com/go-acme/lego/v5/providers/dns"'
  sed -i '\#"github.com/go-acme/lego/v5/providers/dns"#d' pkg/provider/acme/provider.go
  cat > pkg/provider/acme/lab_dns.go <<'EOF'
package acme

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// dns stands in for lego's DNS-provider registry (github.com/go-acme/lego/v5/providers/dns), left out of the
// lab's build: its cloud SDKs are not served by the Go module proxy, and a lab never uses DNS challenges.
var dns labDNSProviders

type labDNSProviders struct{}

func (labDNSProviders) NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("ACME DNS challenge provider %q: this Traefik was built without DNS providers", name)
}
EOF

  # 3. github.com/abbot/go-http-auth: upstream v0.4.0 and the fork's two functions
  patched go.mod 'github.com/abbot/go-http-auth => github.com/containous/go-http-auth'
  cp -r "$auth" third_party-go-http-auth && chmod -R u+w third_party-go-http-auth
  printf 'module github.com/abbot/go-http-auth\n\ngo 1.24\n' > third_party-go-http-auth/go.mod
  cat > third_party-go-http-auth/lab_fork.go <<'EOF'
package auth

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// CheckSecret reports whether password matches secret, an htpasswd entry (MD5-crypt, {SHA} or bcrypt), as
// BasicAuth.CheckAuth compares them.
func CheckSecret(password, secret string) bool {
	compare := compareFuncs[0].compare
	for _, cmp := range compareFuncs[1:] {
		if strings.HasPrefix(secret, cmp.prefix) {
			compare = cmp.compare
			break
		}
	}
	return compare([]byte(secret), []byte(password)) == nil
}

// RequireAuthStale is RequireAuth with stale=true in the challenge: the client's nonce expired, and it may
// retry with a new one without asking its user again (RFC 7616, section 3.3).
func (a *DigestAuth) RequireAuthStale(w http.ResponseWriter, r *http.Request) {
	a.mutex.Lock() // CheckAuth's lock (RequireAuth takes none)
	if len(a.clients) > a.ClientCacheSize+a.ClientCacheTolerance {
		a.Purge(a.ClientCacheTolerance * 2)
	}
	nonce := RandomKey()
	a.clients[nonce] = &digest_client{nc: 0, last_seen: time.Now().UnixNano()}
	a.mutex.Unlock()
	w.Header().Set(contentType, a.Headers.V().UnauthContentType)
	w.Header().Set(a.Headers.V().Authenticate,
		fmt.Sprintf(`Digest realm="%s", nonce="%s", opaque="%s", algorithm="MD5", qop="auth", stale=true`,
			a.Realm, nonce, a.Opaque))
	w.WriteHeader(a.Headers.V().UnauthCode)
	w.Write([]byte(a.Headers.V().UnauthResponse))
}
EOF
  go mod edit -replace=github.com/abbot/go-http-auth=./third_party-go-http-auth

  rm -rf "$out" && mkdir -p "$out"
  go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
    -o "$out/traefik" ./cmd/traefik
  "$out/traefik" version >/dev/null
  finish "$stamp" "$out"
  cd - >/dev/null
}

# luarun (tests/lab/luarun): runs Argo CD's Lua scripts (docs/argocd) in gopher-lua the way Argo CD does, for
# tests/integration/test_argocd.py. Built from this repository's source, so keyed by a hash of it.
build_luarun() {
  local src="$here/luarun" stamp out
  stamp="luarun-$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)"
  [ -e "$bin/.$stamp" ] && return 0
  log "building luarun (gopher-lua, as Argo CD runs Lua)"
  out="$cache/src/out-luarun"
  rm -rf "$out" && mkdir -p "$out"
  (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$out/luarun" .)
  rm -f "$bin"/.luarun-*
  finish "$stamp" "$out"
}

# Third-party CRDs the lab installs, read from their Go modules (not copied into the repository).
fetch_crds() {
  local stamp="crds-gateway-api-$GATEWAY_API_VERSION-prometheus-operator-$PROMETHEUS_OPERATOR_VERSION" dir
  [ -e "$cache/crds/.$stamp" ] && return 0
  log "fetching Gateway API $GATEWAY_API_VERSION and prometheus-operator $PROMETHEUS_OPERATOR_VERSION CRDs"
  rm -rf "$cache/crds" && mkdir -p "$cache/crds/gateway-api" "$cache/crds/prometheus-operator"
  dir=$(cd /tmp && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp "$dir"/config/crd/standard/*.yaml "$cache/crds/gateway-api/"
  dir=$(cd /tmp && go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp "$dir"/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml \
     "$dir"/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml "$cache/crds/prometheus-operator/"
  chmod -R u+w "$cache/crds"
  touch "$cache/crds/.$stamp"
}

# Traefik's CRDs (Middleware, IngressRoute, TraefikService, ...), and the RBAC its Kubernetes providers run under
# (its ClusterRoles and bindings for the Gateway and the CRD provider: the lab's gateway runs with exactly these),
# from its Go module, the version the lab builds. Their own directories and stamp, fetched after fetch_crds (which
# empties $cache/crds when its versions change).
fetch_traefik_crds() {
  local stamp="traefik-$TRAEFIK_VERSION" dir
  [ -e "$cache/crds/traefik/.$stamp" ] && [ -d "$cache/crds/traefik-rbac" ] && return 0
  log "fetching Traefik $TRAEFIK_VERSION CRDs and RBAC"
  rm -rf "$cache/crds/traefik" "$cache/crds/traefik-rbac" && mkdir -p "$cache/crds/traefik" "$cache/crds/traefik-rbac"
  dir=$(cd /tmp && go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  # one file per CRD (together they are docs/.../kubernetes-crd-definition-v1.yml, the file upstream installs)
  cp "$dir"/docs/content/reference/dynamic-configuration/traefik.io_*.yaml "$cache/crds/traefik/"
  cp "$dir"/docs/content/reference/dynamic-configuration/kubernetes-gateway-rbac.yml \
     "$dir"/docs/content/reference/dynamic-configuration/kubernetes-crd-rbac.yml "$cache/crds/traefik-rbac/"
  chmod -R u+w "$cache/crds/traefik" "$cache/crds/traefik-rbac"
  touch "$cache/crds/traefik/.$stamp"
}

# kwok's stages (what fake nodes and pods go through), from the kwok module: nodes become Ready and keep a
# lease, scheduled pods become Running and Ready at once, deleted pods go away.
fetch_kwok_stages() {
  local stamp="kwok-stages-$KWOK_VERSION" dir f
  [ -e "$cache/kwok/.$stamp" ] && return 0
  log "fetching kwok $KWOK_VERSION stages"
  rm -rf "$cache/kwok" && mkdir -p "$cache/kwok"
  dir=$(cd /tmp && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    printf -- '---\n' >> "$cache/kwok/stages.yaml"
    cat "$dir/kustomize/stage/$f" >> "$cache/kwok/stages.yaml"
  done
  touch "$cache/kwok/.$stamp"
}

# Rate limit policy CRDs (expose.rateLimit), from the implementation's Go module: Envoy Gateway's
# BackendTrafficPolicy. (NGINX Gateway Fabric's RateLimitPolicy is not fetched: proxy.golang.org answers
# "403 Forbidden: This module version is not available" for github.com/nginx/nginx-gateway-fabric(/v2).)
# Its own directory and stamp: fetch_crds empties $cache/crds when its versions change, so run this after it.
fetch_policy_crds() {
  local stamp="envoy-gateway-$ENVOY_GATEWAY_VERSION" dir
  [ -e "$cache/crds/envoy-gateway/.$stamp" ] && return 0
  log "fetching Envoy Gateway $ENVOY_GATEWAY_VERSION BackendTrafficPolicy CRD"
  rm -rf "$cache/crds/envoy-gateway" && mkdir -p "$cache/crds/envoy-gateway"
  dir=$(cd /tmp && go mod download -json "github.com/envoyproxy/gateway@$ENVOY_GATEWAY_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp "$dir"/charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_backendtrafficpolicies.yaml \
     "$cache/crds/envoy-gateway/"
  chmod -R u+w "$cache/crds/envoy-gateway"
  touch "$cache/crds/envoy-gateway/.$stamp"
}

# cert-manager's CRDs (expose.tls.issuerRef renders a Certificate), from its Go module's deploy/crds. Its own
# directory and stamp, fetched after fetch_crds (which empties $cache/crds when its versions change).
fetch_cert_manager_crds() {
  local stamp="cert-manager-$CERT_MANAGER_VERSION" dir
  [ -e "$cache/crds/cert-manager/.$stamp" ] && return 0
  log "fetching cert-manager $CERT_MANAGER_VERSION CRDs"
  rm -rf "$cache/crds/cert-manager" && mkdir -p "$cache/crds/cert-manager"
  dir=$(cd /tmp && go mod download -json "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp "$dir"/deploy/crds/cert-manager.io_certificates.yaml "$dir"/deploy/crds/cert-manager.io_issuers.yaml \
     "$dir"/deploy/crds/cert-manager.io_clusterissuers.yaml "$cache/crds/cert-manager/"
  chmod -R u+w "$cache/crds/cert-manager"
  touch "$cache/crds/cert-manager/.$stamp"
}

# ------------------------------------------------------------------------------------------------ running
# The sets, each component's build longest first (a long one started last would run alone at the end).
demo_builds="traefik kubernetes prometheus kwok etcd"
all_builds="traefik kubernetes prometheus kwok helm promtool etcd luarun"
# The binaries a set runs, which ASGI_LAB_BIN_DIR must hold instead.
demo_bins="etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok prometheus traefik"

fetch_all() { fetch_crds; fetch_policy_crds; fetch_cert_manager_crds; fetch_traefik_crds; fetch_kwok_stages; }

# start NAME COMMAND...: run it in the background, its output prefixed "[NAME]" (and kept in
# $cache/logs/NAME.log), its exit status written to $cache/logs/NAME.rc. What took longer than a moment
# reports its wall and CPU time (user + system, of every process it ran).
started=() build_pids=()
start() {
  local name=$1; shift
  mkdir -p "$cache/logs" && rm -f "$cache/logs/$name.rc"
  (
    set +e
    (
      set -e
      SECONDS=0
      "$@"
      times > "$cache/logs/$name.times" # here, not in a pipe: a subshell's `times` knows none of these children
      if [ "$SECONDS" -ge 2 ]; then log "$name done in $(mmss "$SECONDS"), CPU $(tail -1 "$cache/logs/$name.times" | cpu)"; fi
    ) 2>&1 | tee "$cache/logs/$name.log" | sed -u "s/^/[$name] /" >&2
    echo "${PIPESTATUS[0]}" > "$cache/logs/$name.rc"
  ) &
  started+=("$name")
}
mmss() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
# `times`' line for the children ("12m3.240s 1m2.100s") as one total: "13m05s"
cpu() { sed 's/[ms]/ /g' | awk '{ s = $1 * 60 + $2 + $3 * 60 + $4; printf "%dm%02ds", s / 60, s % 60 }'; }

# Run "build_<name>" for each name, ASGI_LAB_JOBS at a time (default 2), alongside whatever else was
# started; then wait for everything and fail if anything failed, naming it and repeating the end of its log.
# Go's own parallelism stays at its default in each build (-p = the number of CPUs): two builds side by side
# keep 2 cores busy through each other's downloads, single-threaded links and package loading.
run_builds() {
  local jobs=${ASGI_LAB_JOBS:-2} name pid alive failed=()
  [ "$jobs" -ge 1 ] 2>/dev/null || { log "ASGI_LAB_JOBS=$jobs: give a number of builds at a time, 1 or more"; exit 2; }
  for name in "$@"; do
    while :; do
      alive=()
      for pid in "${build_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
      build_pids=("${alive[@]}")
      [ "${#build_pids[@]}" -lt "$jobs" ] && break
      wait -n || true
    done
    start "$name" "build_$name"
    build_pids+=("$!")
  done
  wait
  for name in "${started[@]}"; do
    [ "$(cat "$cache/logs/$name.rc" 2>/dev/null || echo 1)" = 0 ] || failed+=("$name")
  done
  for name in "${failed[@]}"; do
    log "FAILED: $name (exit $(cat "$cache/logs/$name.rc" 2>/dev/null || echo '?')); the end of $cache/logs/$name.log:"
    tail -n 25 "$cache/logs/$name.log" | sed "s/^/[$name] /" >&2
  done
  [ "${#failed[@]}" -eq 0 ] || { log "the lab build failed: ${failed[*]}"; exit 1; }
}

# A set: its CRDs and kwok's stages (mostly downloads) alongside its builds; with ASGI_LAB_BIN_DIR, the CRDs
# and a check that the directory holds the set's binaries instead of the builds.
build_set() {
  start crds fetch_all
  if [ -n "${ASGI_LAB_BIN_DIR:-}" ]; then
    run_builds
    for b in $demo_bins; do
      [ -x "$ASGI_LAB_BIN_DIR/$b" ] || { log "ASGI_LAB_BIN_DIR=$ASGI_LAB_BIN_DIR has no executable $b"; exit 1; }
    done
    echo "$ASGI_LAB_BIN_DIR"
    exit 0
  fi
  run_builds "$@"
}

what=${1:-all}
case "$what" in
  all) build_set $all_builds ;;
  demo) build_set $demo_builds ;;
  crds) start crds fetch_all; run_builds ;;
  kubernetes|etcd|kwok|prometheus|promtool|helm|luarun|traefik) run_builds "$what" ;;
  *) log "usage: $0 [all|demo|crds|kubernetes|etcd|kwok|prometheus|promtool|helm|luarun|traefik]"; exit 2 ;;
esac
echo "$bin"
