"""Names that collide with the platform: model namespaces that are the platform's (or Kubernetes') own, and
model objects whose derived names collide with another model's in a shared namespace.

A model deployed into `monitoring` would get the model namespace's default-deny NetworkPolicy, quota and
Pod Security labels applied to Prometheus' namespace (components/models/namespace.py), and deleting the
model would delete the namespace with Prometheus in it. The namespaces are imported from the components that
create them (one source of truth; tests/unit/test_spec_errors_safety.py checks the list against the
Namespace objects of a real plan).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from components.gpu.nvidia import NAMESPACE as NVIDIA_NAMESPACE
from components.keda import NAMESPACE as KEDA_NAMESPACE
from components.mesh.gateway import NAMESPACE as GATEWAY_NAMESPACE
from components.mesh.istio import SYSTEM_NAMESPACE as ISTIO_NAMESPACE
from components.models.names import workload
from components.models.validation import RESERVED_NAMESPACES as RELEASE_RESERVED_NAMESPACES
from components.observability.logging import NAMESPACE as LOGGING_NAMESPACE
from components.observability.logging import OPERATOR_NAMESPACE as ELASTIC_OPERATOR_NAMESPACE
from components.observability.prometheus import NAMESPACE as MONITORING_NAMESPACE
from stacks.spec.base import Problem
from stacks.spec.errors import show

if TYPE_CHECKING:
    from stacks.spec.stack import StackSpec

# Namespaces every Kubernetes cluster starts with (kube-apiserver creates them; the cluster autoscaler of
# components/aws/cluster_autoscaler.py runs in kube-system).
KUBERNETES_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# Namespaces the platform layer creates (stacks/platform/), whichever add-ons a stack enables: a model must
# not take one even where the add-on is off, or enabling it later would fail or capture the model.
PLATFORM_NAMESPACES = (
    ISTIO_NAMESPACE,
    GATEWAY_NAMESPACE,
    MONITORING_NAMESPACE,
    LOGGING_NAMESPACE,
    ELASTIC_OPERATOR_NAMESPACE,
    NVIDIA_NAMESPACE,
    KEDA_NAMESPACE,
)
RESERVED_NAMESPACES = frozenset((*KUBERNETES_NAMESPACES, *PLATFORM_NAMESPACES))


def _owner(ns: str) -> str:
    return "Kubernetes" if ns in KUBERNETES_NAMESPACES else "the platform"


def platform_namespaces(spec: StackSpec) -> Iterator[Problem]:
    """A model's namespace (`namespace`, default: its name) is none of the reserved ones."""
    for i, m in enumerate(spec.models):
        ns = m.namespace or m.name
        if ns not in RESERVED_NAMESPACES or ns in RELEASE_RESERVED_NAMESPACES:
            continue  # the release's own validation refuses its reserved ones (components/models/validation.py)
        if m.namespace is not None:
            yield (
                ("models", i, "namespace"),
                (
                    f"{show(ns)} is a namespace of {_owner(ns)}; models get their own namespace (quota, "
                    "default-deny NetworkPolicy, deleted with the model): remove namespace to use the model's "
                    "name, or choose another, e.g. 'serving'"
                ),
            )
        else:
            yield (
                ("models", i, "name"),
                (
                    f"{show(ns)} would deploy the model into the namespace of that name, which is {_owner(ns)}'s; "
                    f"rename the model, or set namespace: to another one, e.g. 'serving'"
                ),
            )


def model_object_names(spec: StackSpec) -> Iterator[Problem]:
    """Models that share a namespace do not derive the same Deployment name (`<model>-<version>`, which also
    names its PodDisruptionBudget, ScaledObject, ServiceMonitor and PrometheusRule): model 'llama' version
    '3-v1' and model 'llama-3' version 'v1' would overwrite each other."""
    owners: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for i, m in enumerate(spec.models):
        for j, v in enumerate(m.versions):
            owners[(m.namespace or m.name, workload(m.name, v.name))].append((i, j))
    for (ns, name), where in owners.items():
        models = {i for i, _ in where}
        if len(models) < 2:
            continue  # a model's own duplicate versions are checks.models' to report
        i, j = where[-1]
        others = ", ".join(f"models[{a}].versions[{b}]" for a, b in where[:-1])
        yield (
            ("models", i, "versions", j, "name"),
            (
                f"{show(spec.models[i].versions[j].name)} makes the Deployment name {show(name)} in namespace "
                f"{show(ns)}, which {others} also makes (<model>-<version>); rename the version or the model, or "
                "give the models different namespaces"
            ),
        )
