"""Issue 18: the Karpenter objects of a pool are admitted by a real API server with the CRDs of the pinned
module installed (NodePool, EC2NodeClass: their OpenAPI schemas and CEL rules), and what those CRDs refuse
is refused (docs/karpenter.md#verified).

The whole prod plan is admitted by tests/apiserver/test_admission.py once the karpenter-crd chart renders
(its CRDs are the chart's); this test needs only the module (scripts/fetch-karpenter.sh) and the server.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from components.aws import karpenter_objects
from components.scheduling import PoolShape
from stacks.spec.parse import parse_spec
from stacks.spec.pools import pool_shapes
from tests.apiserver.cluster import ApiServer
from tests.karpenter_fixtures import prod_node_class, prod_objects, prod_pools_only
from tools.offline.charts import karpenter_module_dir

pytestmark = pytest.mark.tools


def _crds() -> list[dict[str, Any]]:
    d = karpenter_module_dir() / "pkg" / "apis" / "crds"
    found = [yaml.safe_load(p.read_text()) for p in sorted(d.glob("*.yaml"))]
    assert found, f"{d} is missing: run `bash scripts/fetch-karpenter.sh`"
    return found


def _prod_shape() -> PoolShape:
    (shape,) = [s for s in pool_shapes(parse_spec(prod_pools_only())) if s.provisioner == "karpenter"]
    return shape


def _prod_objects() -> list[dict[str, Any]]:
    return prod_objects(_prod_shape(), ("spot", "on-demand"), zones=("us-east-1a", "us-east-1b", "us-east-1c"))


@pytest.fixture(scope="module")
def karpenter_api(api_server: ApiServer) -> ApiServer:
    crds = _crds()
    for crd in crds:
        result = api_server.apply(crd)
        assert result.admitted, result.error
    api_server.wait_established([c["metadata"]["name"] for c in crds])
    return api_server


def test_nodepool_and_ec2nodeclass_are_admitted(karpenter_api: ApiServer) -> None:
    for obj in _prod_objects():
        result = karpenter_api.dry_run(obj)
        assert result.admitted and not result.warnings, (obj["kind"], result.error, result.warnings)


def test_a_reservation_pool_is_admitted(karpenter_api: ApiServer) -> None:
    """A pool in an ODCR / Capacity Block: the EC2NodeClass selects it by id, the NodePool takes `reserved` only."""
    shape = _prod_shape()
    node_class = prod_node_class(shape.name, capacity_reservation_ids=("cr-0123456789abcdef0",))
    node_pool = karpenter_objects.node_pool(
        shape.name,
        shape,
        instance_types=("g6.xlarge",),
        capacity_types=("reserved",),
        zones=("us-east-1a",),
        node_class_name=shape.name,
    )
    assert node_class["spec"]["capacityReservationSelectorTerms"] == [{"id": "cr-0123456789abcdef0"}]
    for obj in (node_class, node_pool):
        result = karpenter_api.dry_run(obj)
        assert result.admitted and not result.warnings, (obj["kind"], result.error, result.warnings)


def test_a_restricted_label_domain_is_refused_by_the_crd(karpenter_api: ApiServer) -> None:
    """The CRD's CEL rules run: a template label in karpenter.sh's domain is refused, with the server's words."""
    pool = copy.deepcopy(_prod_objects()[1])
    pool["spec"]["template"]["metadata"]["labels"]["karpenter.sh/custom"] = "x"
    result = karpenter_api.dry_run(pool)
    assert result.error == (
        'NodePool.karpenter.sh "gpu-l4-karpenter" is invalid: spec.template.metadata.labels: Invalid value: '
        '"object": label domain "karpenter.sh" is restricted'
    )


def test_the_cluster_tag_is_refused_in_an_ec2nodeclass(karpenter_api: ApiServer) -> None:
    """Why components/aws/karpenter.py leaves kubernetes.io/cluster/<cluster> out of spec.tags (Karpenter sets it)."""
    node_class = copy.deepcopy(_prod_objects()[0])
    node_class["spec"]["tags"]["kubernetes.io/cluster/gpu-prod"] = "owned"
    result = karpenter_api.dry_run(node_class)
    assert result.error == (
        'EC2NodeClass.karpenter.k8s.aws "gpu-l4-karpenter" is invalid: spec.tags: Invalid value: "object": tag '
        "contains a restricted tag matching kubernetes.io/cluster/"
    )
