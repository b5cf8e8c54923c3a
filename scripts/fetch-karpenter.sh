#!/usr/bin/env bash
# Fetch the github.com/aws/karpenter-provider-aws Go module (its charts/karpenter, charts/karpenter-crd and
# pkg/apis/crds) into .tools/modules (ignored by git) for the offline chart rendering, the schema validators
# and the API-server tests (docs/karpenter.md#where-the-chart-comes-from).
#
#   bash scripts/fetch-karpenter.sh        # idempotent: does nothing when the module is already there
#
# From the Go module proxy, as a module zip checked against the pinned SHA-256 (no git clone, no chart
# repository). Not `go mod download`: the module's go.mod asks for a newer Go than the toolchain here
# (go >= 1.26.11), and `go mod download` then refuses to extract it. charts/pins.yaml pins the chart
# version these charts carry (the module's v1.15.2 tag ships Chart.yaml 1.14.1).
set -euo pipefail

KARPENTER_MODULE=github.com/aws/karpenter-provider-aws
KARPENTER_MODULE_VERSION=v1.15.2
KARPENTER_MODULE_SHA256=052bf797ae5b731de7f7395b9e957eb182c34b30c9b8b77e068d51599a3f0b81
GOPROXY_URL=${GOPROXY_URL:-https://proxy.golang.org}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$ROOT/.tools/modules"
DIR="$DEST/$KARPENTER_MODULE@$KARPENTER_MODULE_VERSION"
[ -f "$DIR/charts/karpenter/Chart.yaml" ] && [ -d "$DIR/pkg/apis/crds" ] && exit 0

mkdir -p "$DEST"
ZIP=$(mktemp "$DEST/karpenter.XXXXXX.zip")
trap 'rm -f "$ZIP"' EXIT
CACHED="${GOMODCACHE:-$HOME/go/pkg/mod}/cache/download/$KARPENTER_MODULE/@v/$KARPENTER_MODULE_VERSION.zip"
if [ -f "$CACHED" ]; then
  cp "$CACHED" "$ZIP"
else
  curl -fsSL --retry 3 -o "$ZIP" "$GOPROXY_URL/$KARPENTER_MODULE/@v/$KARPENTER_MODULE_VERSION.zip"
fi
echo "$KARPENTER_MODULE_SHA256  $ZIP" | sha256sum -c --quiet - || {
  echo "fetch-karpenter: $KARPENTER_MODULE@$KARPENTER_MODULE_VERSION zip does not match the pinned SHA-256" >&2
  exit 1
}
rm -rf "$DIR"
unzip -q -o "$ZIP" "$KARPENTER_MODULE@$KARPENTER_MODULE_VERSION/charts/karpenter/*" \
  "$KARPENTER_MODULE@$KARPENTER_MODULE_VERSION/charts/karpenter-crd/*" \
  "$KARPENTER_MODULE@$KARPENTER_MODULE_VERSION/pkg/apis/crds/*" -d "$DEST"
echo "fetch-karpenter: $DIR"
