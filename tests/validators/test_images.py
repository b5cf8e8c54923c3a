"""Every container image a stack runs is pinned to a version or a digest: no `latest`, no missing or empty
tag. Ours, the charts' (tests/rendered.py) and the injected sidecars, init containers and ephemeral
containers included, plus the images custom resources name for their operators (Prometheus,
Alertmanager, Elasticsearch, Kibana: `spec.image`). An offender is listed by stack, object and container.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import STACKS
from tests.rendered import everything
from tools.offline import kyaml

# a tag: after the last '/', a ':' then 1-128 of [A-Za-z0-9_.-], first not '.' or '-' (distribution spec)
_TAG = re.compile(r":([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# custom resources whose spec.image is the image their operator runs
IMAGE_FIELDS = {"Prometheus", "Alertmanager", "ThanosRuler", "Elasticsearch", "Kibana", "Agent", "Beat"}


def image_problem(image: Any) -> str | None:
    """Why `image` is not pinned, or None."""
    if not isinstance(image, str) or not image.strip():
        return "no image"
    if _DIGEST.search(image):
        return None
    name = image.rsplit("/", 1)[-1]
    m = _TAG.search(name)
    if not m:
        return "no tag"
    if m.group(1) == "latest":
        return "tag latest"
    return None


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return spec
    if obj.get("kind") == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec")
    template = spec.get("template")
    return template.get("spec") if isinstance(template, dict) and "containers" in (template.get("spec") or {}) else None


def images(obj: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, image) of every image the object runs."""
    if (spec := _pod_spec(obj)) is not None:
        for key in ("initContainers", "containers", "ephemeralContainers"):
            for c in spec.get(key) or []:
                yield f"{key[:-1]} {c.get('name')}", c.get("image")
    if obj.get("kind") in IMAGE_FIELDS and "image" in (obj.get("spec") or {}):
        yield "spec.image", obj["spec"]["image"]


def offenders(objects: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    for path, obj in sorted(objects.items()):
        for where, image in images(obj):
            if problem := image_problem(image):
                out.append(
                    f"{path}: {obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']} {where}: {image!r} ({problem})"
                )
    return out


def test_the_image_rule() -> None:
    good = ["r.example/a/b:1.2.3", "localhost:5000/a:v1", "a@sha256:" + "0" * 64, "a:latest@sha256:" + "1" * 64]
    assert [image_problem(i) for i in good] == [None] * len(good)
    bad = {
        "nginx": "no tag",
        "nginx:latest": "tag latest",
        "localhost:5000/a": "no tag",
        "": "no image",
        None: "no image",
        "a:": "no tag",
    }
    assert {i: image_problem(i) for i in bad} == bad


def test_offenders_are_listed_by_object_and_container() -> None:
    planted = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w", "namespace": "n"},
        "spec": {
            "template": {
                "spec": {
                    "initContainers": [{"name": "init", "image": "busybox"}],
                    "containers": [
                        {"name": "c", "image": "r.example/w:latest"},
                        {"name": "ok", "image": "r.example/w:1"},
                    ],
                }
            }
        },
    }
    prom = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": "p", "namespace": "m"},
        "spec": {"image": "quay.io/prometheus/prometheus"},
    }
    assert offenders({kyaml.file_name(planted): planted, "charts/x/p.yaml": prom}) == [
        "charts/x/p.yaml: Prometheus m/p spec.image: 'quay.io/prometheus/prometheus' (no tag)",
        "deployment--n--w.yaml: Deployment n/w initContainer init: 'busybox' (no tag)",
        "deployment--n--w.yaml: Deployment n/w container c: 'r.example/w:latest' (tag latest)",
    ]


@pytest.mark.tools
@pytest.mark.parametrize("stack", STACKS)
def test_every_image_a_stack_runs_is_pinned(stack: str) -> None:
    objects = everything(stack)
    assert sum(1 for o in objects.values() for _ in images(o)) > 0
    assert offenders(objects) == []
