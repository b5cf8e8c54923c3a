"""Every Kubernetes object in every stack's plan validates strictly against its schema, and so does every
object its charts render and every workload as istiod's injector returns it (tests/rendered.py).

Core kinds: official schemas for the cluster's Kubernetes version (kubernetes-validate, strict).
Custom resources: the CRDs the stack's charts install (what the API server checks them against), else
../shared/schemas/crds. An object with no schema fails: add the schema or stop rendering the kind. This
grows by itself as the platform renders more.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from stacks.spec.parse import parse_spec
from tests import rendered
from tests.conftest import STACKS, Plan, plan_of
from tests.spec_helpers import raw_stack
from tests.validators import schemas
from tools.offline import stack_outputs
from tools.offline.artifacts import kubernetes_objects

GOOD_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "m", "namespace": "models"},
    "spec": {
        "selector": {"matchLabels": {"app": "m"}},
        "template": {
            "metadata": {"labels": {"app": "m"}},
            "spec": {
                "containers": [
                    {"name": "s", "image": "r@sha256:" + "a" * 64, "resources": {"limits": {"nvidia.com/gpu": "1"}}}
                ]
            },
        },
    },
}


def test_crd_schemas_are_present() -> None:
    # CI runs with ../shared beside the repo; without it the CRD checks below could not run.
    assert schemas.crd_dir_present(), f"CRD schemas not found at {schemas.CRD_DIR}: clone with ../shared beside it"


def test_validator_accepts_good_and_reports_every_error() -> None:
    assert schemas.errors(GOOD_DEPLOYMENT, "1.33") == []
    bad = {**GOOD_DEPLOYMENT, "spec": {**GOOD_DEPLOYMENT["spec"], "replicas": "two", "pasued": True}}
    assert schemas.errors(bad, "1.33") == [
        "spec: Additional properties are not allowed ('pasued' was unexpected)",
        "spec.replicas: 'two' is not of type 'integer', 'null'",
    ]


def test_validator_checks_custom_resources() -> None:
    pa = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "istio-system"},
        "spec": {"mtls": {"mode": "STRICTT"}},
    }
    assert schemas.errors(pa, "1.33") == [
        "spec.mtls.mode: 'STRICTT' is not one of ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']"
    ]
    with pytest.raises(schemas.NoSchema):
        schemas.errors({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "1.33")


def cluster_version(stack: str) -> str:
    raw = raw_stack(stack)
    # A models-only stack runs on the cluster of the stack it references (its recorded outputs).
    return (
        str(stack_outputs.load(raw["clusterStack"])["clusterFacts"]["kubernetesVersion"])
        if "clusterStack" in raw
        else parse_spec(raw).cluster.kubernetes_version
    )


@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_object_is_schema_valid(stack: str, plan: Callable[[str], Plan]) -> None:
    version = cluster_version(stack)
    failures: list[str] = []
    for obj in kubernetes_objects(plan(stack).data):
        try:
            failures += [f"{schemas.describe(obj)}: {e}" for e in schemas.errors(obj, version)]
        except schemas.NoSchema as err:
            failures.append(f"{schemas.describe(obj)}: {err}")
    assert failures == []


def test_secret_maps_recorded_as_secret_are_accepted_but_the_rest_is_checked() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "n"},
        "type": "Opaque",
        "stringData": "<secret>",
    }
    assert schemas.errors(secret, "1.33") == []
    assert schemas.errors({**secret, "stringData": "plain"}, "1.33") == [
        "stringData: 'plain' is not of type 'object', 'null'"
    ]
    assert schemas.errors({**secret, "tpye": "Opaque"}, "1.33") == [
        "(root): Additional properties are not allowed ('tpye' was unexpected)"
    ]


# ---------------------------------------------------------------------------------------------------
# the charts' objects and the injected workloads (issue 14)


def stack_crds(stack: str) -> schemas.StackCrds:
    """The CRDs the stack installs, or, for a models-only stack, those its cluster stack installs."""
    ref = rendered.cluster_stack_of(stack)
    return schemas.StackCrds(o for _, o in rendered.rendered(ref or stack).charts.objects())


@pytest.mark.tools
@pytest.mark.parametrize("stack", STACKS)
def test_every_chart_rendered_and_injected_object_is_schema_valid(stack: str) -> None:
    version = cluster_version(stack)
    crds = stack_crds(stack)
    r = rendered.rendered(stack)
    failures: list[str] = []
    for path, obj in sorted(r.files.items()):
        try:
            failures += [f"{path}: {e}" for e in schemas.errors(obj, version, crds)]
        except schemas.NoSchema as err:
            failures.append(f"{path}: {err}")
    assert failures == []
    # our own custom resources against the CRDs the stack installs too (the API server's view)
    for obj in kubernetes_objects(plan_of(stack).data):
        try:
            failures += [f"{schemas.describe(obj)}: {e}" for e in schemas.errors(obj, version, crds)]
        except schemas.NoSchema as err:
            failures.append(f"{schemas.describe(obj)}: {err}")
    assert failures == []


@pytest.mark.tools
def test_custom_resources_are_checked_against_the_crd_the_stack_installs() -> None:
    crds = stack_crds("prod")
    assert len(crds) > 50
    # The GPU Operator v26.7.0 CRD has ClusterPolicy's dcgmExporter.serviceMonitor.scrapeTimeout; the datree
    # snapshot in ../shared/schemas/crds predates it. The API server validates against the installed CRD.
    (policy,) = [o for _, o in rendered.rendered("prod").charts.objects() if o["kind"] == "ClusterPolicy"]
    assert "scrapeTimeout" in policy["spec"]["dcgmExporter"]["serviceMonitor"]
    assert schemas.errors(policy, "1.34", crds) == []
    assert schemas.errors(policy, "1.34") == [
        "spec.dcgmExporter.serviceMonitor: Additional properties are not allowed ('scrapeTimeout' was unexpected)"
    ]
    # strict: an unknown field of a ServiceMonitor fails against the chart's CRD
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "m", "namespace": "monitoring"},
        "spec": {"selector": {}, "endpoints": [{"port": "http", "intervall": "30s"}]},
    }
    assert crds.validator("monitoring.coreos.com", "v1", "ServiceMonitor") is not None
    assert schemas.errors(monitor, "1.34", crds) == [
        "spec.endpoints.0: Additional properties are not allowed ('intervall' was unexpected)"
    ]
    # Prometheus and Alertmanager have no schema in ../shared/schemas/crds: only the chart's CRD checks them
    prometheus = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "metadata": {"name": "p"}, "spec": {}}
    with pytest.raises(schemas.NoSchema):
        schemas.errors(prometheus, "1.34")
    assert schemas.errors(prometheus, "1.34", crds) == []
