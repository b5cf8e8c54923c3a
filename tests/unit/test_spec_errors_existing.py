"""Bad config of a stack on an existing cluster (`cloud: existing`, docs/existing-cluster.md: the rules
cluster.existing_cluster, pools.existing_pools, the declared-node part of pools.pool_catalog,
registry.existing_registry, addons.existing_addons and stack.aws_only_model_keys as its users meet them)
and of `addons.chartSource` (addons.chart_source): exact messages."""

from __future__ import annotations

import pytest

from stacks.spec.parse import parse_spec
from tests.spec_helpers import Case, assert_rejected, mutate, problems, raw_stack

EDEV = raw_stack("existing-dev")
DEV = raw_stack("dev")
P = "gpu-platform:"
EX = "cluster.existing"
NOT_OURS = "given while cloud is 'existing'; this stack does not create the cluster, so"
NOT_CREATED = "given while cloud is 'existing'; it chooses how a cloud creates nodes, and this stack creates none"

CASES: list[Case] = [
    # -- cluster.existing ----------------------------------------------------------------------------------
    (
        "existing block missing",
        mutate(EDEV, EX),
        f"{P}cluster.existing: required with cloud 'existing'; add existing: {{clusterIdentifier: <a stable name "
        "of the cluster>} and store its kubeconfig with: pulumi config set --secret gpu-platform-secrets:kubeconfig "
        "< kubeconfig.yaml",
    ),
    (
        "existing block on aws",
        mutate(DEV, EX, {"clusterIdentifier": "gpu-dev"}),
        f"{P}cluster.existing: given while cloud is 'aws'; these settings apply to an existing cluster only "
        "(cloud: existing); remove the block",
    ),
    (
        "cluster identifier missing",
        mutate(EDEV, f"{EX}.clusterIdentifier"),
        f"{P}cluster.existing.clusterIdentifier: required key is missing; add it to the stack file",
    ),
    (
        "network on an existing cluster",
        mutate(EDEV, "cluster.network", {"vpcCidr": "10.0.0.0/16"}),
        f"{P}cluster.network: {NOT_OURS} its network (VPC, Service CIDR, NAT) is not its to set: remove network",
    ),
    (
        "admin principals on an existing cluster",
        mutate(EDEV, "cluster.adminPrincipals", ["arn:aws:iam::111122223333:role/admin"]),
        f"{P}cluster.adminPrincipals: {NOT_OURS} who is cluster-admin is not its to set: remove adminPrincipals",
    ),
    (
        "endpoint on an existing cluster",
        mutate(EDEV, "cluster.endpoint", {"publicAccess": False}),
        f"{P}cluster.endpoint: {NOT_OURS} its API endpoint is not its to set: remove endpoint",
    ),
    (
        "log retention on an existing cluster",
        mutate(EDEV, "cluster.logRetentionDays", 30),
        f"{P}cluster.logRetentionDays: {NOT_OURS} its control-plane log retention is not its to set: remove "
        "logRetentionDays",
    ),
    (
        "deletion protection on an existing cluster",
        mutate(EDEV, "cluster.deletionProtection", True),
        f"{P}cluster.deletionProtection: {NOT_OURS} its deletion protection is not its to set: remove "
        "deletionProtection",
    ),
    (
        "plain-text kubeconfig in the typed config",
        mutate(EDEV, f"{EX}.kubeconfig", "apiVersion: v1\nkind: Config\nusers: [{name: a, user: {token: s3cr3t}}]\n"),
        f"{P}cluster.existing.kubeconfig: a kubeconfig in the typed config is stored in plain text in the stack "
        "file, and it holds credentials; remove it and store it encrypted: pulumi config set --secret "
        "gpu-platform-secrets:kubeconfig < kubeconfig.yaml",
    ),
    (
        "bad cluster identifier",
        mutate(EDEV, f"{EX}.clusterIdentifier", "lab gpu"),
        f"{P}cluster.existing.clusterIdentifier: 'lab gpu' is not a cluster identifier; use 1-253 letters, digits, "
        "'.', '-', '_', ':', '/' or '@', starting and ending with a letter or digit, e.g. 'lab-gpu.fra1.example.com'",
    ),
    (
        "bad kubeconfig secret key",
        mutate(EDEV, f"{EX}.kubeconfigSecret", "1kubeconfig"),
        f"{P}cluster.existing.kubeconfigSecret: '1kubeconfig' is not a config key name; use letters, digits, '_', "
        "'-' and '.', starting with a letter",
    ),
    (
        "context with a space",
        mutate(EDEV, f"{EX}.context", "lab admin"),
        f"{P}cluster.existing.context: 'lab admin' is not a kubeconfig context name (1-253 characters, no spaces); "
        "name a context of the kubeconfig, or remove context to use its current-context",
    ),
    (
        "bad load-balancer annotation key",
        mutate(EDEV, f"{EX}.loadBalancerAnnotations.internal", {"address pool": "lab-internal"}),
        f"{P}cluster.existing.loadBalancerAnnotations.internal.address pool: 'address pool' is not an annotation "
        "key; write it like 'metallb.universe.tf/address-pool' (optional DNS prefix, '/', name of up to 63 "
        "characters)",
    ),
    (
        "unknown device plugin mode",
        mutate(EDEV, f"{EX}.gpuDevicePlugin", "operator"),
        f"{P}cluster.existing.gpuDevicePlugin: 'operator' is not allowed; choose one of 'install' or 'provided'",
    ),
    # -- nodePools ----------------------------------------------------------------------------------------
    (
        "instance types on an existing cluster",
        mutate(EDEV, "nodePools.1.instanceTypes", ["g6.xlarge"]),
        f"{P}nodePools[1].instanceTypes: given while cloud is 'existing'; this stack creates no nodes, so it "
        "chooses no instance types: remove instanceTypes and describe one node under node: {cpu, memoryGib, ...}",
    ),
    (
        "pool without a declared node",
        mutate(EDEV, "nodePools.1.node"),
        f"{P}nodePools[1].node: required with cloud 'existing'; describe one node of the pool by its allocatable "
        "(kubectl get node <node> -o jsonpath='{.status.allocatable}'), e.g. node: {cpu: 15.5, memoryGib: 58, "
        "maxPods: 110, gpuModel: l4, gpuCount: 1}",
    ),
    (
        "capacity type on an existing cluster",
        mutate(EDEV, "nodePools.1.capacityType", "SPOT"),
        f"{P}nodePools[1].capacityType: {NOT_CREATED}: remove capacityType",
    ),
    (
        "disk size on an existing cluster",
        mutate(EDEV, "nodePools.1.diskSizeGib", 200),
        f"{P}nodePools[1].diskSizeGib: {NOT_CREATED}: remove diskSizeGib",
    ),
    (
        "pool that scales without an autoscaler",
        mutate(EDEV, "nodePools.1.minSize", 0),
        f"{P}nodePools[1].minSize: 0 differs from maxSize 2, but nothing scales the pools of an existing cluster "
        "(cluster.existing.scalesPools is false); set minSize and maxSize to the pool's node count, or set "
        "scalesPools: true if the cluster scales its pools itself",
    ),
    (
        "declared node on aws",
        mutate(DEV, "nodePools.1.node", {"cpu": 4, "memoryGib": 16}),
        f"{P}nodePools[1].node: given while cloud is 'aws'; a declared node applies to an existing cluster's "
        "pools only (cloud: existing): remove it and list instanceTypes",
    ),
    (
        "aws pool without instance types",
        mutate(DEV, "nodePools.1.instanceTypes"),
        f"{P}nodePools[1].instanceTypes: required on aws; list one or more instance types of the same shape, "
        "e.g. [g6.xlarge]",
    ),
    (
        "zero cpu",
        mutate(EDEV, "nodePools.0.node.cpu", 0),
        f"{P}nodePools[0].node.cpu: must be > 0.0, got 0",
    ),
    # -- the declared node against the catalog (pools.pool_catalog) -------------------------------------------
    (
        "unknown gpu model",
        mutate(EDEV, "nodePools.1.node.gpuModel", "l44"),
        f"{P}nodePools[1].node.gpuModel: 'l44' is not a GPU model of the catalog; did you mean 'l4'?",
    ),
    (
        "gpu model without a count",
        mutate(EDEV, "nodePools.1.node.gpuCount", 0),
        f"{P}nodePools[1].node.gpuCount: 0 with gpuModel 'l4'; give the number of GPUs per node, e.g. gpuCount: 1",
    ),
    (
        "gpu count without a model",
        mutate(EDEV, "nodePools.1.node.gpuModel"),
        f"{P}nodePools[1].node.gpuModel: required with gpuCount 1; name the nodes' GPU, one of the catalog's GPU "
        "models: a10, a100-40gb, a100-80gb, a10g, a30-24gb, b200-180gb, h100-80gb, h200-141gb, l20, l4, l40s, t4, "
        "v100-16gb, v100-32gb",
    ),
    (
        "gpu sharing on a cpu pool",
        mutate(EDEV, "nodePools.0.gpu", {"sharing": "time-slicing", "timeSlicing": {"replicas": 2}}),
        f"{P}nodePools[0].gpu: given, but the pool's nodes have no GPUs (node.gpuModel is not set); remove the "
        "gpu block or declare the nodes' GPUs",
    ),
    (
        "mig on a declared l4 node",
        mutate(EDEV, "nodePools.1.gpu", {"sharing": "mig", "mig": {"layout": "all-1g.10gb"}}),
        f"{P}nodePools[1].gpu.sharing: 'mig' is not possible on nodePools[gpu-l4].node: its l4 GPUs do not "
        "support MIG; use sharing: time-slicing, or a MIG GPU (A100, H100, H200, B200)",
    ),
    (
        "mig layout of another gpu",
        mutate(
            mutate(EDEV, "nodePools.1.node.gpuModel", "a100-80gb"),
            "nodePools.1.gpu",
            {"sharing": "mig", "mig": {"layout": "all-1g.5gb"}},
        ),
        f"{P}nodePools[1].gpu.mig.layout: 'all-1g.5gb' is not a layout for a100-80gb; choose one of "
        "all-1g.10gb, all-1g.10gb.me, all-1g.20gb, all-2g.20gb, all-3g.40gb, all-4g.40gb, all-7g.80gb, all-balanced",
    ),
    # -- registry -----------------------------------------------------------------------------------------
    (
        "registry not switched off",
        mutate(EDEV, "registry"),
        f"{P}registry: not given (enabled by default) while cloud is 'existing'; this stack creates no registry "
        "for a cluster it does not own: set registry: {enabled: false} and pull model images from your own "
        "registry (models[].versions[].image, pinned by digest)",
    ),
    (
        "registry switched on",
        mutate(EDEV, "registry.enabled", True),
        f"{P}registry.enabled: true while cloud is 'existing'; this stack creates no registry for a "
        "cluster it does not own: set registry: {enabled: false} and pull model images from your own registry "
        "(models[].versions[].image, pinned by digest)",
    ),
    (
        "registry setting on an existing cluster",
        mutate(EDEV, "registry.ciPushRepos", ["acme/models"]),
        f"{P}registry.ciPushRepos: given while cloud is 'existing' (no registry is created); remove ciPushRepos",
    ),
    # -- addons -------------------------------------------------------------------------------------------
    (
        "no storage class on an existing cluster",
        mutate(EDEV, "addons.storageClass"),
        f"{P}addons.storageClass: required with cloud 'existing' while Prometheus and logging is enabled (their "
        "volumes need one); name a StorageClass of the cluster (kubectl get storageclass), preferably an "
        "encrypted one, e.g. storageClass: ceph-rbd-encrypted",
    ),
    (
        "cluster autoscaler settings on an existing cluster",
        mutate(EDEV, "addons.clusterAutoscaler", {"scaleDownUnneededTime": "20m"}),
        f"{P}addons.clusterAutoscaler: given while cloud is 'existing'; the platform installs no node autoscaler "
        "on a cluster it does not own (cluster.existing.scalesPools says whether the cluster scales its pools "
        "itself): remove clusterAutoscaler",
    ),
    (
        "internet-facing gateway without annotations",
        mutate(EDEV, "addons.istio.gateway.loadBalancer", "internet-facing"),
        f"{P}addons.istio.gateway.loadBalancer: 'internet-facing' on an existing cluster, whose own "
        "load-balancer implementation decides where the gateway is published; give the annotations that publish "
        "it in cluster.existing.loadBalancerAnnotations.internetFacing (e.g. metallb.universe.tf/address-pool: "
        "public), or use loadBalancer: internal",
    ),
    # -- models -------------------------------------------------------------------------------------------
    (
        "artifact bucket on an existing cluster",
        mutate(EDEV, "models.0.artifactBucket", True),
        f"{P}models[0].artifactBucket: true while cloud is 'existing'; the platform creates artifact buckets on "
        "AWS only (S3 + IRSA): remove artifactBucket and point versions[].artifact.uri at weights you store "
        "yourself (e.g. in your own object store)",
    ),
    # -- addons.chartSource (any cloud) ---------------------------------------------------------------------
    (
        "chart source with both",
        mutate(DEV, "addons.chartSource", {"repository": "https://charts.example.com", "directory": "/srv/charts"}),
        f"{P}addons.chartSource: both of repository and directory given; set one: repository: https://<mirror> "
        "(or oci://<registry>/<path>), or directory: <path to the pulled .tgz charts>",
    ),
    (
        "empty chart source",
        mutate(EDEV, "addons.chartSource", {}),
        f"{P}addons.chartSource: neither of repository and directory given; set one: repository: "
        "https://<mirror> (or oci://<registry>/<path>), or directory: <path to the pulled .tgz charts>",
    ),
    (
        "chart mirror over http",
        mutate(DEV, "addons.chartSource", {"repository": "http://charts.example.com"}),
        f"{P}addons.chartSource.repository: 'http://charts.example.com' is plain http; charts must come over "
        "TLS: serve the mirror over https://, or use a local directory",
    ),
    (
        "chart mirror that is no url",
        mutate(DEV, "addons.chartSource", {"repository": "charts.example.com"}),
        f"{P}addons.chartSource.repository: 'charts.example.com' is not a Helm repository URL; write it like "
        "'https://charts.mirror.example.com' or 'oci://registry.example.com/charts'",
    ),
    (
        "chart directory that is a url",
        mutate(EDEV, "addons.chartSource", {"directory": "file:///srv/charts"}),
        f"{P}addons.chartSource.directory: 'file:///srv/charts' is not a directory path; write a local path like "
        "'/srv/charts' or '../shared/charts' (for a URL use repository)",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fails_with_exact_message(case: Case) -> None:
    assert_rejected(case)


def test_the_example_stack_parses() -> None:
    spec = parse_spec(EDEV)
    assert spec.cloud == "existing" and spec.cluster.existing is not None
    assert spec.cluster.existing.cluster_identifier == "lab-gpu.fra1.example.com"
    assert spec.cluster.existing.kubeconfig_secret == "kubeconfig" and not spec.registry.enabled


def test_a_kubeconfig_in_the_typed_config_is_never_echoed() -> None:
    secret = "token: s3cr3t-value"
    for value in (secret, {"users": [{"user": {"token": "s3cr3t-value"}}]}):
        found = problems(mutate(EDEV, f"{EX}.kubeconfig", value))
        assert found and not [p for p in found if "s3cr3t" in p]


def test_pools_that_the_cluster_scales_may_range() -> None:
    raw = mutate(mutate(EDEV, "nodePools.1.minSize", 0), f"{EX}.scalesPools", True)
    spec = parse_spec(raw)
    assert (spec.node_pools[1].min_size, spec.node_pools[1].max_size) == (0, 2)


def test_an_internet_facing_gateway_with_annotations_is_accepted() -> None:
    raw = mutate(
        mutate(EDEV, "addons.istio.gateway.loadBalancer", "internet-facing"),
        f"{EX}.loadBalancerAnnotations.internetFacing",
        {"metallb.universe.tf/address-pool": "public"},
    )
    assert parse_spec(raw).addons.istio.gateway.load_balancer == "internet-facing"


def test_no_storage_class_is_needed_without_volumes() -> None:
    raw = mutate(
        mutate(mutate(EDEV, "addons.storageClass"), "addons.prometheus", {"enabled": False}),
        "addons.logging",
        {"enabled": False},
    )
    assert parse_spec(raw).addons.storage_class is None


@pytest.mark.parametrize(
    "source",
    [
        {"repository": "https://charts.mirror.example.com/gpu-platform"},
        {"repository": "oci://registry.example.com:5000/charts"},
        {"directory": "../shared/charts"},
    ],
)
def test_chart_sources_are_accepted(source: dict[str, str]) -> None:
    assert parse_spec(mutate(DEV, "addons.chartSource", source)).addons.chart_source is not None
