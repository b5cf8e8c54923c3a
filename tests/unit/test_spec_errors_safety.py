"""Prod safety, facts the clouds and the platform enforce, names that collide with the platform: each case
asserts the exact message (stacks/spec/safety.py, cloud_facts.py, platform_facts.py, names.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.models.validation import RESERVED_NAMESPACES as RELEASE_RESERVED_NAMESPACES
from stacks.spec.cloud_facts import AWS_REGIONS, covers_world, special_range
from stacks.spec.names import PLATFORM_NAMESPACES, RESERVED_NAMESPACES
from stacks.spec.parse import parse_spec
from stacks.spec.platform_facts import MIN_SLO_WINDOW_SECONDS, duration_seconds
from stacks.spec.safety import risks_taken
from tests.conftest import Plan
from tests.spec_helpers import Case, assert_rejected, mutate, problems, raw_stack

DEV = raw_stack("dev")
PROD = raw_stack("prod")
ALI_DEV = raw_stack("alicloud-dev")
ALI_PROD = raw_stack("alicloud-prod")
P = "gpu-platform:"
GW = "addons.istio.gateway"
EP = "cluster.endpoint"
WORLD_SPLIT = ["0.0.0.0/1", "128.0.0.0/1"]


def _with(raw: dict[str, Any], *changes: tuple[str, Any]) -> dict[str, Any]:
    for path, value in changes:
        raw = mutate(raw, path, value)
    return raw


def _ab_regex(regex: str) -> dict[str, Any]:
    stable = DEV["models"][0]["traffic"]["stable"]
    return mutate(DEV, "models.0.traffic.abRoutes", [{"header": "x-user", "regex": regex, "version": stable}])


def _twin_models() -> dict[str, Any]:
    """Model 'chat' version 'blue-v1' and model 'chat-blue' version 'v1', both in namespace 'serving'."""
    raw = copy.deepcopy(DEV)
    base = copy.deepcopy(raw["models"][0])
    for key in ("hosts", "artifactBucket"):
        base.pop(key, None)
    version = {k: v for k, v in base["versions"][0].items() if k != "artifact"}
    raw["models"] = [
        {**base, "name": model, "namespace": "serving", "versions": [{**version, "name": v}], "traffic": {"stable": v}}
        for model, v in (("chat", "blue-v1"), ("chat-blue", "v1"))
    ]
    raw["addons"]["istio"]["gateway"]["routes"] = []
    return raw


CASES: list[Case] = [
    # --- Prod safety (stacks/spec/safety.py)
    (
        "prod deletion protection off",
        mutate(PROD, "cluster.deletionProtection", False),
        f"{P}cluster.deletionProtection: false in prod: one `pulumi destroy` or replacement would delete the "
        "cluster and everything in it; remove the key (on by default in prod), or name the risk: acknowledge: "
        "{deletionProtectionOff: '<why this stack takes the risk>'}",
    ),
    (
        "world split in halves",
        _with(DEV, (f"{EP}.publicAccess", True), (f"{EP}.publicAccessCidrs", WORLD_SPLIT)),
        f"{P}cluster.endpoint.publicAccessCidrs: '0.0.0.0/1', '128.0.0.0/1' together cover every IPv4 address: "
        "the API server would be open to the whole internet; list narrower CIDRs (your VPN or CI egress), or set "
        "allowWorld: true to accept the risk",
    ),
    (
        "world endpoint in prod without acknowledgement",
        _with(
            PROD,
            (f"{EP}.publicAccess", True),
            (f"{EP}.publicAccessCidrs", ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1"]),
            (f"{EP}.allowWorld", True),
        ),
        f"{P}cluster.endpoint.allowWorld: true in prod opens the API server to the whole internet, where only its "
        "authentication stands between an attacker and the cluster; keep the endpoint private (reach it over "
        "VPN), list narrower CIDRs, or name the risk: acknowledge: {publicEndpointOpenToWorld: '<why this stack "
        "takes the risk>'}",
    ),
    (
        "prod route without auth or rate limit",
        _with(PROD, (f"{GW}.routes.1.requireAuth", False), (f"{GW}.routes.1.rateLimit", None)),
        f"{P}addons.istio.gateway.routes[1].rateLimit: in prod, route 'embeddings' has requireAuth: false and no "
        "rateLimit: anyone who reaches the gateway can keep its GPUs busy; require auth, add rateLimit: "
        "{requestsPerMinute: <n>} (or a route for the model, with auth on by default), or name the risk: "
        "acknowledge: {unauthenticatedRouteWithoutRateLimit: '<why this stack takes the risk>'}",
    ),
    (
        "prod model on the gateway without a route",
        mutate(PROD, "models.2.hosts", ["reranker.models.example.com"]),
        f"{P}models[2].hosts: in prod, model 'reranker' is published on the gateway (reranker.models.example.com) "
        "without a route in addons.istio.gateway.routes, so no token is checked and no rate limit applies: anyone "
        "who reaches the gateway can keep its GPUs busy; require auth, add rateLimit: {requestsPerMinute: <n>} (or "
        "a route for the model, with auth on by default), or name the risk: acknowledge: "
        "{unauthenticatedRouteWithoutRateLimit: '<why this stack takes the risk>'}",
    ),
    (
        "stale acknowledgement",
        mutate(PROD, "acknowledge", {"deletionProtectionOff": "migrating to a new cluster, OPS-12"}),
        f"{P}acknowledge.deletionProtectionOff: acknowledges a risk this stack does not take; remove it (a stale "
        "acknowledgement would hide a new one)",
    ),
    (
        "acknowledgement without a reason",
        _with(PROD, ("cluster.deletionProtection", False), ("acknowledge", {"deletionProtectionOff": "  "})),
        f"{P}acknowledge.deletionProtectionOff: empty; say why this stack takes the risk (reviewers read it in "
        "the diff)",
    ),
    (
        "unknown acknowledgement",
        mutate(PROD, "acknowledge", {"publicEndpoint": "we need it"}),
        f"{P}acknowledge.publicEndpoint: 'publicEndpoint' is not allowed; choose one of 'deletionProtectionOff', "
        "'publicEndpointOpenToWorld' or 'unauthenticatedRouteWithoutRateLimit'",
    ),
    (
        "acknowledgement as a list",
        mutate(PROD, "acknowledge", ["publicEndpointOpenToWorld"]),
        f"{P}acknowledge: a list; name each risk with the reason reviewers read: acknowledge: "
        "{publicEndpointOpenToWorld: '<why>'}",
    ),
    # --- Facts the clouds enforce (stacks/spec/cloud_facts.py)
    (
        "aws stack in an alibaba region",
        _with(DEV, ("region", "cn-shanghai"), ("zones", ["cn-shanghai-e", "cn-shanghai-f"])),
        f"{P}region: 'cn-shanghai' is a region of Alibaba Cloud, not of AWS; set cloud: alicloud, or choose a "
        "region of AWS",
    ),
    (
        "alibaba stack in an aws region",
        _with(ALI_DEV, ("region", "us-east-2"), ("zones", ["us-east-2-a", "us-east-2-b"])),
        f"{P}region: 'us-east-2' is a region of AWS, not of Alibaba Cloud; set cloud: aws, or choose a region of "
        "Alibaba Cloud",
    ),
    (
        "aws region that does not exist",
        _with(DEV, ("region", "us-wset-2"), ("zones", ["us-wset-2a", "us-wset-2b"])),
        f"{P}region: 'us-wset-2' is not a region of AWS (regions of pulumi-aws 7.51.1 (pulumi_aws.Region)); did "
        "you mean 'us-west-2'?",
    ),
    (
        "aws local zone",
        mutate(DEV, "zones", ["us-west-2a", "us-west-2-lax-1a"]),
        f"{P}zones[1]: 'us-west-2-lax-1a' is not an availability zone name of us-west-2; write the region and a "
        "letter, e.g. 'us-west-2a' (Local and Wavelength Zones cannot hold EKS cluster subnets)",
    ),
    (
        "loopback vpc",
        mutate(DEV, "cluster.network.vpcCidr", "127.0.0.0/16"),
        f"{P}cluster.network.vpcCidr: '127.0.0.0/16' is in 127.0.0.0/8 (loopback), which no VPC can use; use a "
        "range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, e.g. '10.0.0.0/16'",
    ),
    (
        "link-local vpc",
        mutate(ALI_DEV, "cluster.network.vpcCidr", "169.254.0.0/16"),
        f"{P}cluster.network.vpcCidr: '169.254.0.0/16' is in 169.254.0.0/16 (link-local, where the instance "
        "metadata service lives), which no VPC can use; use a range inside 10.0.0.0/8, 172.16.0.0/12 or "
        "192.168.0.0/16, e.g. '10.0.0.0/16'",
    ),
    (
        "public service cidr on eks",
        mutate(DEV, "cluster.network.serviceCidr", "8.8.0.0/16"),
        f"{P}cluster.network.serviceCidr: '8.8.0.0/16' is outside the private ranges; EKS service_ipv4_cidr must "
        "be inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, e.g. '172.20.0.0/16'",
    ),
    (
        "multicast service cidr",
        mutate(DEV, "cluster.network.serviceCidr", "224.0.0.0/16"),
        f"{P}cluster.network.serviceCidr: '224.0.0.0/16' is in 224.0.0.0/4 (multicast); EKS service_ipv4_cidr "
        "must be inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, e.g. '172.20.0.0/16'",
    ),
    (
        "service cidr too small for eks",
        mutate(DEV, "cluster.network.serviceCidr", "192.168.0.0/26"),
        f"{P}cluster.network.serviceCidr: '192.168.0.0/26' has prefix /26; EKS service_ipv4_cidr must be a /12 to "
        "/24, e.g. '172.20.0.0/16'",
    ),
    (
        "service cidr too large for ack",
        mutate(ALI_DEV, "cluster.network.serviceCidr", "172.16.0.0/12"),
        f"{P}cluster.network.serviceCidr: '172.16.0.0/12' has prefix /12; ACK service_cidr must be a /16 to /24, "
        "e.g. '172.20.0.0/16'",
    ),
    (
        "flannel pod cidr on loopback",
        mutate(ALI_DEV, "cluster.alicloud", {"networkPlugin": "flannel", "podCidr": "127.16.0.0/16"}),
        f"{P}cluster.alicloud.podCidr: '127.16.0.0/16' is in 127.0.0.0/8 (loopback); the Flannel pod CIDR (ACK "
        "pod_cidr) must be inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, e.g. '172.16.0.0/16'",
    ),
    (
        "replicas beyond int32",
        mutate(DEV, "models.0.autoscaling.maxReplicas", 2**31),
        f"{P}models[0].autoscaling.maxReplicas: 2147483648 is more than 2147483647, the largest value this int32 "
        "field of the Kubernetes or cloud API takes; use a smaller number",
    ),
    (
        "pool size beyond int32",
        mutate(DEV, "nodePools.0.maxSize", 10**12),
        f"{P}nodePools[0].maxSize: 1000000000000 is more than 2147483647, the largest value this int32 field of "
        "the Kubernetes or cloud API takes; use a smaller number",
    ),
    (
        "grace period beyond int64",
        mutate(DEV, "models.0.terminationGraceSeconds", 2**63),
        f"{P}models[0].terminationGraceSeconds: 9223372036854775808 is more than 9223372036854775807, the largest "
        "value this int64 field of the Kubernetes or cloud API takes; use a smaller number",
    ),
    # --- Facts the platform's engines enforce (stacks/spec/platform_facts.py)
    (
        "lookahead regex",
        _ab_regex("^(?!bot-).*$"),
        f"{P}models[0].traffic.abRoutes[0].regex: '^(?!bot-).*$' is not RE2 syntax, which Istio matches header "
        "regexes with (invalid perl operator: (?!); RE2 has no lookaround, backreferences, possessive quantifiers "
        "or atomic groups: rewrite it without them, or list the exact values under values",
    ),
    (
        "backreference regex",
        _ab_regex(r"^(a+)-\1$"),
        f"{P}models[0].traffic.abRoutes[0].regex: '^(a+)-\\\\1$' is not RE2 syntax, which Istio matches header "
        "regexes with (invalid escape sequence: \\1); RE2 has no lookaround, backreferences, possessive "
        "quantifiers or atomic groups: rewrite it without them, or list the exact values under values",
    ),
    (
        "slo window below four scrapes",
        mutate(DEV, "models.0.slo.window", "30s"),
        f"{P}models[0].slo.window: '30s' is shorter than 4 scrape intervals (4 x 15s = 60s): rate() over it often "
        "sees fewer than two samples, and the alerts and rollout gates get no data; use at least 60s, e.g. '5m'",
    ),
    (
        "path prefix with dot-dot",
        mutate(DEV, f"{GW}.routes.0.pathPrefix", "/v1/models/../admin"),
        f"{P}addons.istio.gateway.routes[0].pathPrefix: '/v1/models/../admin' has a '.' or '..' segment: Istio "
        "normalizes request paths (RFC 3986: '.' and '..' resolved, %2e decoded) before routing and before the "
        "JWT policy matches them, and to Envoy '//' or an encoded '/' is another path than the model server sees; "
        "write the normalized path, e.g. '/v1/models/llama3-8b'",
    ),
    (
        "path prefix with empty segment",
        mutate(DEV, f"{GW}.routes.0.pathPrefix", "/v1//models"),
        f"{P}addons.istio.gateway.routes[0].pathPrefix: '/v1//models' has an empty segment ('//'): Istio "
        "normalizes request paths (RFC 3986: '.' and '..' resolved, %2e decoded) before routing and before the "
        "JWT policy matches them, and to Envoy '//' or an encoded '/' is another path than the model server sees; "
        "write the normalized path, e.g. '/v1/models/llama3-8b'",
    ),
    # --- Names that collide with the platform (stacks/spec/names.py)
    (
        "model in the logging namespace",
        mutate(DEV, "models.0.namespace", "logging"),
        f"{P}models[0].namespace: 'logging' is a namespace of the platform; models get their own namespace "
        "(quota, default-deny NetworkPolicy, deleted with the model): remove namespace to use the model's name, "
        "or choose another, e.g. 'serving'",
    ),
    (
        "model in the keda namespace",
        mutate(ALI_DEV, "models.0.namespace", "keda"),
        f"{P}models[0].namespace: 'keda' is a namespace of the platform; models get their own namespace "
        "(quota, default-deny NetworkPolicy, deleted with the model): remove namespace to use the model's name, "
        "or choose another, e.g. 'serving'",
    ),
    (
        "model named like a platform namespace",
        mutate(ALI_DEV, "models.0.name", "istio-ingress"),
        f"{P}models[0].name: 'istio-ingress' would deploy the model into the namespace of that name, which is the "
        "platform's; rename the model, or set namespace: to another one, e.g. 'serving'",
    ),
    (
        "two models make one deployment name",
        _twin_models(),
        f"{P}models[1].versions[0].name: 'v1' makes the Deployment name 'chat-blue-v1' in namespace 'serving', "
        "which models[0].versions[0] also makes (<model>-<version>); rename the version or the model, or give the "
        "models different namespaces",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_rejected_with_its_message(case: Case) -> None:
    assert_rejected(case)


# --- What is accepted


def test_prod_takes_a_risk_when_it_names_it_with_a_reason() -> None:
    raw = _with(
        PROD,
        ("cluster.deletionProtection", False),
        (f"{EP}.publicAccess", True),
        (f"{EP}.publicAccessCidrs", WORLD_SPLIT),
        (f"{EP}.allowWorld", True),
        (f"{GW}.routes.1.requireAuth", False),
        (f"{GW}.routes.1.rateLimit", None),
        (
            "acknowledge",
            {
                "deletionProtectionOff": "cluster is being migrated, OPS-1",
                "publicEndpointOpenToWorld": "partner CI without fixed egress, OPS-2",
                "unauthenticatedRouteWithoutRateLimit": "public demo, OPS-3",
            },
        ),
    )
    spec = parse_spec(raw)
    assert risks_taken(spec) == set(spec.acknowledge)
    assert spec.deletion_protection is False


def test_acknowledged_open_route_still_needs_nothing_else() -> None:
    raw = _with(
        PROD,
        (f"{GW}.routes.1.requireAuth", False),
        (f"{GW}.routes.1.rateLimit", None),
        ("acknowledge", {"unauthenticatedRouteWithoutRateLimit": "public demo, OPS-3"}),
    )
    assert parse_spec(raw).acknowledge == {"unauthenticatedRouteWithoutRateLimit": "public demo, OPS-3"}


def test_outside_prod_the_risks_need_no_acknowledgement() -> None:
    raw = _with(
        DEV,
        ("cluster.deletionProtection", False),
        (f"{GW}.routes.0.requireAuth", False),
        (f"{GW}.routes.0.rateLimit", None),
    )
    spec = parse_spec(raw)
    assert risks_taken(spec) == {"deletionProtectionOff", "unauthenticatedRouteWithoutRateLimit"}


def test_the_ack_public_endpoint_in_prod_needs_the_acknowledgement() -> None:
    raw = _with(ALI_PROD, (f"{EP}.publicAccess", True), (f"{EP}.publicAccessCidrs", ["0.0.0.0/0"]))
    raw = mutate(raw, f"{EP}.allowWorld", True)
    assert [p for p in problems(raw) if "acknowledge" in p] == [
        f"{P}cluster.endpoint.allowWorld: true in prod opens the API server to the whole internet, where only its "
        "authentication stands between an attacker and the cluster; keep the endpoint private (reach it over "
        "VPN), list narrower CIDRs, or name the risk: acknowledge: {publicEndpointOpenToWorld: '<why this stack "
        "takes the risk>'}"
    ]
    ok = mutate(raw, "acknowledge", {"publicEndpointOpenToWorld": "SLB ACL restricts it, OPS-9"})
    assert parse_spec(ok).cluster.endpoint.allow_world


def test_narrow_service_cidrs_and_regions_of_both_clouds_pass() -> None:
    for raw in (
        mutate(DEV, "cluster.network.serviceCidr", "172.16.0.0/12"),
        mutate(ALI_DEV, "cluster.network.serviceCidr", "192.168.0.0/24"),
        _with(DEV, ("region", "eu-central-1"), ("zones", ["eu-central-1a", "eu-central-1c"])),
        _with(ALI_DEV, ("region", "eu-central-1"), ("zones", ["eu-central-1a", "eu-central-1b"])),
    ):
        parse_spec(raw)


def test_re2_syntax_python_also_accepts_passes() -> None:
    parse_spec(_ab_regex("^(beta|canary)-[0-9]{1,4}$"))


def test_a_regex_re2_cannot_even_read_is_a_message_not_a_crash() -> None:
    found = [p for p in problems(_ab_regex("\ud800")) if "abRoutes[0].regex" in p]
    assert found == [
        f"{P}models[0].traffic.abRoutes[0].regex: {chr(0xD800)!r} is not RE2 syntax, which Istio matches header regexes "
        "with (not UTF-8 text: it holds a lone surrogate); RE2 has no lookaround, backreferences, possessive "
        "quantifiers or atomic groups: rewrite it without them, or list the exact values under values"
    ]
    long = [p for p in problems(_ab_regex("(" * 500)) if "abRoutes[0].regex" in p]
    assert len(long) == 1 and len(long[0]) < 600, long


@pytest.mark.parametrize(
    ("cidrs", "version"),
    [
        (["0.0.0.0/0"], 4),
        (WORLD_SPLIT, 4),
        (["128.0.0.0/1", "0.0.0.0/2", "64.0.0.0/3", "96.0.0.0/3"], 4),
        (["0.0.0.0/0", "10.0.0.0/8"], 4),
        (["::/1", "8000::/1"], 6),
        (["0.0.0.0/1", "128.0.0.0/2"], None),
        (["0.0.0.0/1", "::/0"], 6),
        (["203.0.113.0/24"], None),
        ([], None),
    ],
)
def test_the_world_is_the_union_however_it_is_split(cidrs: list[str], version: int | None) -> None:
    assert covers_world(cidrs) == version


def test_special_ranges_name_what_they_are() -> None:
    import ipaddress

    assert special_range(ipaddress.ip_network("127.0.0.0/16")) == "127.0.0.0/8 (loopback)"
    assert special_range(ipaddress.ip_network("10.0.0.0/8")) is None


def test_aws_regions_are_the_provider_enum() -> None:
    assert {"us-east-1", "us-west-2", "eu-central-1", "cn-north-1"} <= AWS_REGIONS
    assert "cn-hangzhou" not in AWS_REGIONS


def test_slo_window_minimum_is_four_scrape_intervals() -> None:
    assert duration_seconds("1h30m") == 5400
    assert MIN_SLO_WINDOW_SECONDS == 60
    parse_spec(mutate(DEV, "models.0.slo.window", "1m"))


def test_kubernetes_and_platform_namespaces_are_refused_once() -> None:
    """The release's own validation refuses some of these namespaces (kube-system, monitoring, ...); the
    spec refuses the rest, and a namespace both know is reported once."""
    assert set(RELEASE_RESERVED_NAMESPACES) <= RESERVED_NAMESPACES
    for ns in sorted(RESERVED_NAMESPACES):
        found = [p for p in problems(mutate(DEV, "models.0.namespace", ns)) if p.startswith(f"{P}models[0].namespace")]
        assert len(found) == 1, (ns, found)


@pytest.mark.parametrize("stack", ["prod", "alicloud-prod"])
def test_reserved_namespaces_are_the_ones_the_platform_creates(stack: str, plan: Callable[[str], Plan]) -> None:
    """Every namespace a prod plan creates other than the models' is reserved: the list cannot fall behind."""
    models = {m.get("namespace") or m["name"] for m in raw_stack(stack).get("models", [])}
    created = {r["inputs"]["metadata"]["name"] for r in plan(stack).of_type("kubernetes:core/v1:Namespace")} - models
    assert created and created <= RESERVED_NAMESPACES
    assert created & set(PLATFORM_NAMESPACES)
