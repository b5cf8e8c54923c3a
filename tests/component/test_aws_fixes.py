"""Issue 13, AWS side: what a real `pulumi up` on EKS needs that the offline plan used to let through."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from components.aws.seam import load_balancer_annotations
from tests.conftest import Plan

AWS_STACKS = ("dev", "prod")

# -- item 2: the gateway's load balancer comes from EKS's built-in cloud provider ---------------------------

# Every Service annotation the legacy AWS cloud provider that EKS runs reads (kubernetes/cloud-provider-aws
# pkg/providers/v1/aws.go and aws_loadbalancer.go, the ServiceAnnotation* constants). Anything else under
# `service.beta.kubernetes.io/aws-` (scheme, nlb-target-type, attributes, ...) is the AWS Load Balancer
# Controller's, which no stack installs.
IN_TREE_ANNOTATIONS = {
    f"service.beta.kubernetes.io/aws-load-balancer-{suffix}"
    for suffix in (
        "access-log-emit-interval",
        "access-log-enabled",
        "access-log-s3-bucket-name",
        "access-log-s3-bucket-prefix",
        "additional-resource-tags",
        "backend-protocol",
        "connection-draining-enabled",
        "connection-draining-timeout",
        "connection-idle-timeout",
        "cross-zone-load-balancing-enabled",
        "eip-allocations",
        "extra-security-groups",
        "healthcheck-healthy-threshold",
        "healthcheck-interval",
        "healthcheck-path",
        "healthcheck-port",
        "healthcheck-protocol",
        "healthcheck-timeout",
        "healthcheck-unhealthy-threshold",
        "internal",
        "private-ipv4-addresses",
        "proxy-protocol",
        "security-groups",
        "ssl-cert",
        "ssl-negotiation-policy",
        "ssl-ports",
        "subnets",
        "target-group-attributes",
        "target-node-labels",
        "type",
    )
}


def test_gateway_annotations_ask_eks_cloud_provider_for_an_nlb() -> None:
    assert load_balancer_annotations("internal") == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
    }
    # internet-facing is the provider's default scheme: no `internal` annotation at all
    assert load_balancer_annotations("internet-facing") == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
    }


def _annotations(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and k.startswith("service.beta.kubernetes.io/aws-"):
                yield k, v
            yield from _annotations(v)
    elif isinstance(value, list):
        for v in value:
            yield from _annotations(v)


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_nothing_needs_the_aws_load_balancer_controller(stack: str, plan: Callable[[str], Plan]) -> None:
    p = plan(stack)
    found = [(r["name"], k, v) for r in p.resources for k, v in _annotations(r["inputs"])]
    assert found, "the gateway Service carries load-balancer annotations"
    for name, key, value in found:
        assert key in IN_TREE_ANNOTATIONS, f"{name}: {key} is read only by the AWS Load Balancer Controller"
        if key.endswith("aws-load-balancer-type"):
            assert value == "nlb", f"{name}: type {value!r} is served only by the AWS Load Balancer Controller"
    # ... and no LoadBalancer Service asks for another controller's class
    text = str([r["inputs"] for r in p.resources])
    assert "service.k8s.aws/nlb" not in text and "loadBalancerClass" not in text
    gateway = p.one("kubernetes:helm.sh/v3:Release", "istio-ingressgateway")["inputs"]["values"]["service"]
    assert gateway["type"] == "LoadBalancer"


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_subnets_carry_the_tags_the_cloud_provider_picks_load_balancer_subnets_by(
    stack: str, plan: Callable[[str], Plan]
) -> None:
    p = plan(stack)
    cluster = p.one("aws:eks/cluster:Cluster")["inputs"]["name"]
    subnets = p.of_type("aws:ec2/subnet:Subnet")
    assert subnets
    for s in subnets:
        tags = s["inputs"]["tags"]
        # findSubnets: only subnets with the cluster tag (or none with any cluster tag) are candidates
        assert tags[f"kubernetes.io/cluster/{cluster}"] == "shared", s["name"]
        role = "kubernetes.io/role/elb" if "-public-" in s["name"] else "kubernetes.io/role/internal-elb"
        assert tags[role] == "1", s["name"]
    # internet-facing NLBs go only into subnets whose route table sends 0.0.0.0/0 to an internet gateway
    public_rt = p.one(
        "aws:ec2/routeTable:RouteTable",
        next(r["name"] for r in p.of_type("aws:ec2/routeTable:RouteTable") if r["name"].endswith("-public-rt")),
    )
    assert [r["cidrBlock"] for r in public_rt["inputs"]["routes"] if "gatewayId" in r] == ["0.0.0.0/0"]
