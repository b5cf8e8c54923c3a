#!/usr/bin/env bash
# Fetch the Go modules that carry the charts not vendored in ../shared/charts into .tools/modules (ignored by
# git), for the offline chart rendering, the schema validators and the API-server tests:
#
# - github.com/aws/karpenter-provider-aws: charts/karpenter, charts/karpenter-crd and pkg/apis/crds
#   (docs/karpenter.md#where-the-chart-comes-from);
# - github.com/aws/eks-charts: stable/aws-efa-k8s-device-plugin, the EFA device plugin's chart
#   (docs/karpenter.md#efa-device-plugin).
#
#   bash scripts/fetch-karpenter.sh        # idempotent: a module already unpacked is left alone
#
# From the Go module proxy (or Go's download cache), as module zips checked against their pinned SHA-256
# (no git clone, no chart repository). Not `go mod download`: karpenter-provider-aws's go.mod asks for a
# newer Go than the toolchain here (go >= 1.26.11), and `go mod download` then refuses to extract it.
# charts/pins.yaml pins the chart versions these modules carry (karpenter-provider-aws v1.15.2 ships
# Chart.yaml 1.14.1; eks-charts at the pseudo-version below ships aws-efa-k8s-device-plugin v0.5.31).
# The script keeps its name for the callers (Makefile, tests, messages) although it fetches both.
set -euo pipefail

KARPENTER_MODULE=github.com/aws/karpenter-provider-aws
KARPENTER_MODULE_VERSION=v1.15.2
KARPENTER_MODULE_SHA256=052bf797ae5b731de7f7395b9e957eb182c34b30c9b8b77e068d51599a3f0b81
# eks-charts has no tags the proxy serves as versions: a pseudo-version of its master branch (2026-08-21).
EKS_CHARTS_MODULE=github.com/aws/eks-charts
EKS_CHARTS_MODULE_VERSION=v0.0.243-0.20260821194545-743f98a89b5b
EKS_CHARTS_MODULE_SHA256=a3b3f9d6ea83f56a4e903d35ee0881bcd50bccf5a6112146aaeff0f1b9611f98
GOPROXY_URL=${GOPROXY_URL:-https://proxy.golang.org}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$ROOT/.tools/modules"
mkdir -p "$DEST"
TMP=$(mktemp -d "$DEST/.fetch.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# fetch_module MODULE VERSION SHA256 MARKER PATH...: unpack PATHs of MODULE@VERSION into $DEST unless
# MARKER (a path inside the module) is already there; a zip that is not the pinned one unpacks nothing.
fetch_module() {
  local module=$1 version=$2 sha256=$3 marker=$4
  shift 4
  local dir="$DEST/$module@$version"
  [ -e "$dir/$marker" ] && return 0
  local zip="$TMP/${module//\//_}@$version.zip"
  local cached="${GOMODCACHE:-$HOME/go/pkg/mod}/cache/download/$module/@v/$version.zip"
  if [ -f "$cached" ]; then
    cp "$cached" "$zip"
  else
    curl -fsSL --retry 3 -o "$zip" "$GOPROXY_URL/$module/@v/$version.zip"
  fi
  echo "$sha256  $zip" | sha256sum -c --quiet - || {
    echo "fetch-karpenter: $module@$version zip does not match the pinned SHA-256" >&2
    return 1
  }
  rm -rf "$dir"
  local globs=()
  for p in "$@"; do globs+=("$module@$version/$p/*"); done
  unzip -q -o "$zip" "${globs[@]}" -d "$DEST"
  echo "fetch-karpenter: $dir"
}

fetch_module "$KARPENTER_MODULE" "$KARPENTER_MODULE_VERSION" "$KARPENTER_MODULE_SHA256" \
  charts/karpenter/Chart.yaml charts/karpenter charts/karpenter-crd pkg/apis/crds
fetch_module "$EKS_CHARTS_MODULE" "$EKS_CHARTS_MODULE_VERSION" "$EKS_CHARTS_MODULE_SHA256" \
  stable/aws-efa-k8s-device-plugin/Chart.yaml stable/aws-efa-k8s-device-plugin
