#!/usr/bin/env bash
# Build third-party Kubernetes/Pulumi tools from their pinned Go modules into .tools/bin (ignored by git).
#
#   bash scripts/build-tools.sh              # build every tool that is missing or reports another version
#   bash scripts/build-tools.sh etcd helm    # only these (names: see TOOLS below)
#   FORCE=1 bash scripts/build-tools.sh      # rebuild even when the binary reports the pinned version
#   NICE=0 bash scripts/build-tools.sh       # do not run the builds under `nice -n 19` (default: NICE=1)
#   bash scripts/build-tools.sh --sync       # rewrite the wrapper go.mod/go.sum from the pins below
#
# Everything comes from the Go module proxy (no git clones, no release downloads, no prebuilt binaries).
# Go's module cache and build cache (GOMODCACHE, GOCACHE) are reused between runs: a warm rerun after
# deleting .tools/bin only links. Modules that carry `replace` directives cannot be `go install`ed; they
# are built inside small wrapper modules under scripts/tools/<name>/ whose go.mod + go.sum are committed.
# docs/tools.md: what is built, why these pins, measured build times, what cannot be built here.
set -euo pipefail

# ---------------------------------------------------------------------------------------------------
# Pins (the only place to change a version; the wrapper go.mod files must agree: `--sync` rewrites them,
# and every build checks them).
# ---------------------------------------------------------------------------------------------------
# helm.sh/helm/v4: wanted the helm v4 that pulumi-kubernetes provider v4.34.2 requires; the proxy refuses
# that provider version (its go.mod cannot be read here), so: the newest helm v4 release the proxy serves.
HELM_VERSION=v4.3.2
# k8s.io/kubernetes: our clusters' newest supported minor is 1.34; v1.34.12 is the newest 1.34 patch the
# proxy serves (v1.34.13+ refused). The k8s.io/* staging modules are the matching v0.34.12.
KUBE_VERSION=v1.34.12
KUBE_STAGING_VERSION=v0.34.12
# go.etcd.io/etcd/server/v3: the etcd that Kubernetes 1.34.12 ships and kubeadm deploys
# (build/dependencies.yaml and kubeadm's DefaultEtcdVersion in k8s.io/kubernetes v1.34.12: 3.6.5).
ETCD_VERSION=v3.6.5
# istio.io/istio: wanted 1.29.8. Istio's tags are not Go semver, so the proxy serves istio.io/istio only as
# pseudo-versions, and only three: none on the 1.29 line. This one is the release-1.30 branch of 2026-08-26
# (VERSION file 1.30, istio.io/api v1.30.4-0.2026…, i.e. after 1.30.3): the nearest to 1.29 served.
# Its go.mod requires pseudo-versions of istio.io/api, istio.io/client-go and go-control-plane that the
# proxy refuses, so scripts/tools/istio/go.mod raises those to the nearest served (see ISTIO_DEPS).
ISTIO_MODULE_VERSION=v0.0.0-20260826214018-9739e10eb9d7
ISTIO_DEPS="istio.io/api@v1.30.8 istio.io/client-go@v1.30.8 github.com/envoyproxy/go-control-plane/envoy@v1.37.1-0.20260713214202-ca8ce173c36f github.com/envoyproxy/go-control-plane/contrib@v1.36.1-0.20260713214202-ca8ce173c36f"
ISTIO_VERSION_LABEL=1.30-alpha.9739e10eb9d7  # what `istioctl version --remote=false` reports (Istio's form for builds between releases)
# github.com/pulumi/pulumi/pkg/v3 (the CLI): wanted v3.272.0 (requirements.txt pins pulumi==3.272.0). The
# proxy refuses pkg/v3 v3.271.0 to v3.273.0; v3.274.1 is the nearest served (newer CLI, older SDK is the
# supported direction). The SDK it compiles against is sdk/v3 at the same version.
PULUMI_VERSION=v3.274.1
# github.com/pulumi/pulumi-kubernetes/provider/v4: wanted v4.34.2 (requirements.txt). The proxy refuses every
# tagged provider version; it serves one pseudo-version (commit f47bc2d6 of 2026-01-15; its go.mod pins
# pulumi v3.215.0, helm v3.18.6, client-go v0.33.3). Built as a substitute and stamped with its own
# pseudo-version, not as 4.34.2. Set K8S_PROVIDER=0 to skip it.
K8S_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
K8S_PROVIDER_SDK_VERSION=v4.24.0   # pulumi-kubernetes/sdk/v4: what that provider go.mod requires (replaced there by ../sdk)
# Not buildable from the proxy (see docs/tools.md): pulumi-language-python, module
# github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3 (every version refused).

TOOLS=(kube-apiserver kubectl etcd helm istioctl pulumi pulumi-resource-kubernetes)

# ---------------------------------------------------------------------------------------------------
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/.tools/bin"
WORK="$ROOT/.tools/build"
WRAP="$ROOT/scripts/tools"
FORCE=${FORCE:-0}
NICE=${NICE:-1}

GO=${GO:-}
if [ -z "$GO" ]; then
  if command -v go >/dev/null 2>&1; then GO=$(command -v go)
  elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
  else echo "build-tools: no Go toolchain (need go >= 1.26.6 on PATH or GO=/path/to/go)" >&2; exit 1; fi
fi
export GOWORK=off CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false"
RUN=()
[ "$NICE" = 1 ] && RUN=(nice -n 19)

die() { echo "build-tools: $*" >&2; exit 1; }

# Fail early with a clear message when a wrapper's go.mod disagrees with the pins above.
wrapper_pin() {  # wrapper-dir module version -> returns 1 unless the wrapper selects module@version
  local dir=$1 mod=$2 want=$3 got
  if ! got=$(cd "$WRAP/$dir" && "$GO" list -m -f '{{with .Replace}}{{.Version}}{{else}}{{.Version}}{{end}}' "$mod" 2>&1); then
    echo "build-tools: cannot read $mod from scripts/tools/$dir/go.mod: $got" >&2; return 1
  fi
  [ "$got" = "$want" ] && return 0
  echo "build-tools: scripts/tools/$dir/go.mod selects $mod $got, the pin is $want: run 'bash scripts/build-tools.sh --sync'" >&2
  return 1
}

ldflags_kube() {
  local f="-s -w" p minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  echo "$f"
}

# --- version probes: print what the installed binary reports ---------------------------------------
reports_pin() {  # tool -> 0 when .tools/bin/tool exists and reports the pinned version
  local t=$1 b="$BIN/$1" out
  [ -x "$b" ] || return 1
  case $t in
    kube-apiserver) out=$("$b" --version 2>&1) ; [ "$out" = "Kubernetes $KUBE_VERSION" ] ;;
    kubectl)        out=$("$b" version --client 2>&1); grep -qx "Client Version: $KUBE_VERSION" <<<"$out" ;;
    etcd)           out=$("$b" --version 2>&1) ; grep -qx "etcd Version: ${ETCD_VERSION#v}" <<<"$out" ;;
    helm)           out=$("$b" version --template '{{.Version}}' 2>&1); [ "$out" = "$HELM_VERSION" ] ;;
    istioctl)       out=$("$b" version --remote=false 2>&1); [ "$out" = "client version: $ISTIO_VERSION_LABEL" ] ;;
    pulumi)         out=$(PULUMI_SKIP_UPDATE_CHECK=1 "$b" version 2>&1); [ "$out" = "$PULUMI_VERSION" ] ;;
    # the provider has no --version flag (and -trimpath keeps -ldflags out of the build info): check the
    # provider module version in the build info, and that the stamped version string is in the binary
    pulumi-resource-kubernetes)
      "$GO" version -m "$b" 2>/dev/null | grep -q "dep[[:space:]]*github.com/pulumi/pulumi-kubernetes/provider/v4[[:space:]]*$K8S_PROVIDER_MODULE_VERSION" &&
        grep -qaF "${K8S_PROVIDER_MODULE_VERSION#v}" "$b" ;;
    *) return 1 ;;
  esac
}

# --- builds ------------------------------------------------------------------------------------------
build_kube() {  # kube-apiserver | kubectl
  wrapper_pin kube k8s.io/kubernetes "$KUBE_VERSION" || return 1
  wrapper_pin kube k8s.io/apiserver "$KUBE_STAGING_VERSION" || return 1
  (cd "$WRAP/kube" && "${RUN[@]}" "$GO" build -trimpath -ldflags "$(ldflags_kube)" -o "$BIN/$1" "k8s.io/kubernetes/cmd/$1")
}

build_etcd() {
  wrapper_pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" || return 1
  (cd "$WRAP/etcd" && "${RUN[@]}" "$GO" build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
}

build_helm() {  # no replace directives: plain `go install module@version` (its own go.mod/go.sum)
  (cd "$ROOT" && GOBIN="$BIN" "${RUN[@]}" "$GO" install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION")
}

build_istioctl() {
  local p=istio.io/istio/pkg/version
  wrapper_pin istio istio.io/istio "$ISTIO_MODULE_VERSION" || return 1
  (cd "$WRAP/istio" && "${RUN[@]}" "$GO" build -trimpath \
    -ldflags "-s -w -X $p.buildVersion=$ISTIO_VERSION_LABEL -X $p.buildGitRevision=${ISTIO_MODULE_VERSION##*-} -X $p.buildStatus=Clean -X $p.buildTag=$ISTIO_VERSION_LABEL" \
    -o "$BIN/istioctl" istio.io/istio/istioctl/cmd/istioctl)
}

build_pulumi() {
  wrapper_pin pulumi github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION" || return 1
  wrapper_pin pulumi github.com/pulumi/pulumi/sdk/v3 "$PULUMI_VERSION" || return 1
  (cd "$WRAP/pulumi" && "${RUN[@]}" "$GO" build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
}

build_k8s_provider() {
  # cmd/pulumi-resource-kubernetes go:embeds schema-embed.json + terraform-mapping-embed.json, which its
  # generate.go (`go generate`) writes from the committed schema.json with the version set. The module
  # cache is read-only, so the main package is copied into .tools/build/ next to the wrapper's go.mod/go.sum
  # (scratch space, never committed), generated there, and built.
  local mod=github.com/pulumi/pulumi-kubernetes/provider/v4 v=${K8S_PROVIDER_MODULE_VERSION#v} src dst="$WORK/pulumi-resource-kubernetes"
  wrapper_pin k8s-provider "$mod" "$K8S_PROVIDER_MODULE_VERSION" || return 1
  src=$(cd "$WRAP/k8s-provider" && "$GO" mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src/cmd/pulumi-resource-kubernetes" ] || die "module $mod@$K8S_PROVIDER_MODULE_VERSION has no cmd/pulumi-resource-kubernetes"
  rm -rf "$dst" && mkdir -p "$dst"
  cp "$src"/cmd/pulumi-resource-kubernetes/{main.go,generate.go,schema.json,terraform-mapping.json} "$dst/"
  cp "$WRAP"/k8s-provider/go.{mod,sum} "$dst/"
  chmod -R u+w "$dst"
  (cd "$dst" && VERSION="$v" "${RUN[@]}" "$GO" run generate.go &&
    "${RUN[@]}" "$GO" build -trimpath -ldflags "-s -w -X $mod/pkg/version.Version=$v" -o "$BIN/pulumi-resource-kubernetes" .)
}

build() {
  case $1 in
    kube-apiserver|kubectl) build_kube "$1" ;;
    etcd) build_etcd ;;
    helm) build_helm ;;
    istioctl) build_istioctl ;;
    pulumi) build_pulumi ;;
    pulumi-resource-kubernetes) build_k8s_provider ;;
    *) die "unknown tool '$1' (known: ${TOOLS[*]})" ;;
  esac
}

# --- --sync: rewrite the wrapper modules from the pins ------------------------------------------------
sync_wrappers() {
  local s
  (cd "$WRAP/kube" &&
    for s in $(sed -n 's/^[[:space:]]*\(k8s\.io\/[a-z-]*\) => k8s\.io\/[a-z-]* v.*/\1/p' go.mod); do
      "$GO" mod edit -replace "$s=$s@$KUBE_STAGING_VERSION"
    done &&
    "$GO" get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" "k8s.io/kubernetes/cmd/kubectl@$KUBE_VERSION" &&
    "$GO" mod tidy)
  (cd "$WRAP/etcd" && "$GO" get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" && "$GO" mod tidy)
  # istio: `go mod tidy` cannot finish for istio.io/istio (test-only packages need modules the proxy
  # refuses); -e keeps what istioctl needs, which `go list -deps` then checks.
  # shellcheck disable=SC2086
  (cd "$WRAP/istio" && "$GO" get $ISTIO_DEPS && "$GO" get -tool "istio.io/istio/istioctl/cmd/istioctl@$ISTIO_MODULE_VERSION" &&
    "$GO" mod tidy -e && "$GO" list -deps istio.io/istio/istioctl/cmd/istioctl >/dev/null)
  (cd "$WRAP/pulumi" && "$GO" get "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" &&
    "$GO" get -tool "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION" && "$GO" mod tidy)
  (cd "$WRAP/k8s-provider" &&
    "$GO" get "github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION" \
      "github.com/pulumi/pulumi-kubernetes/sdk/v4@$K8S_PROVIDER_SDK_VERSION" && "$GO" mod tidy)
  echo "wrapper modules synced; review and commit scripts/tools/*/go.mod and go.sum"
}

# ---------------------------------------------------------------------------------------------------
# All of the run is inside main(), so bash has parsed it before it starts: editing this file while a
# long build runs cannot derail the running script.
main() {
  local t start want=() summary=() failed=()
  if [ "${1:-}" = --sync ]; then sync_wrappers; exit 0; fi
  want=("$@")
  [ ${#want[@]} -gt 0 ] || want=("${TOOLS[@]}")
  [ "${K8S_PROVIDER:-1}" = 0 ] && want=("${want[@]/pulumi-resource-kubernetes}")
  mkdir -p "$BIN" "$WORK"
  echo "build-tools: $("$GO" version), into .tools/bin$([ "$NICE" = 1 ] && echo ' (nice -n 19)')"

  for t in "${want[@]}"; do
    [ -n "$t" ] || continue
    if [ "$FORCE" != 1 ] && reports_pin "$t"; then summary+=("$(printf '%-28s %s' "$t" 'up to date (skipped)')"); continue; fi
    echo "== $t: building"
    start=$SECONDS
    if build "$t"; then
      reports_pin "$t" || { failed+=("$t"); summary+=("$(printf '%-28s %s' "$t" "BUILT BUT DOES NOT REPORT THE PIN")"); continue; }
      summary+=("$(printf '%-28s %4ds' "$t" $((SECONDS - start)))")
    else
      failed+=("$t")
      summary+=("$(printf '%-28s %s after %ds' "$t" FAILED $((SECONDS - start)))")
    fi
  done

  echo "== build times (wall clock)"
  printf '   %s\n' "${summary[@]}"
  if [ ${#failed[@]} -gt 0 ]; then
    echo "build-tools: FAILED: ${failed[*]} (the go error is printed above each; docs/tools.md lists known failures)" >&2
    exit 1
  fi
}

main "$@"
exit
