"""Layered stacks (docs/reuse.md#layered-stacks-models-in-someone-elses-cluster): the cluster stack's
`clusterFacts` output and the models-only stack that reads it through a StackReference.

    # cluster stack (stacks/cluster/aws.py, stacks/cluster/alicloud.py)
    export_cluster_facts(spec, facts, kubeconfig)
    # models-only stack (__main__.py, when `gpu-platform:clusterStack` is set)
    spec, cluster = load_layered(raw)

The output is the contract between the two stacks, so both directions live here. Pools travel as their
capacity facts (instance type, GPU sharing, MIG layout, time-slicing replicas, sizes, labels, taints) and
come back through the stack spec: the models-only stack is validated as if those pools were in its own
file, so the model rules and the preview-time capacity check give the same messages as in the cluster
stack, against the referenced cluster's pools.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pulumi.runtime.sync_await import _sync_await

from components.alicloud.seam import alicloud_seam
from components.aws.seam import aws_seam
from components.cloud import CloudSeam
from components.existing.seam import existing_seam
from stacks.cluster.tags import common_tags
from stacks.contract import ClusterFacts, PoolFacts, pool_facts
from stacks.spec.errors import ConfigError, key_path, show
from stacks.spec.parse import parse_spec
from stacks.spec.stack import StackSpec

OUTPUT = "clusterFacts"
SCHEMA_VERSION = 1
# The cluster stack's own model releases (stacks/workloads/layer.py exports it: model -> namespace, hosts,
# weights; absent when the cluster stack deploys no model). A models-only stack must not deploy them again.
MODELS_OUTPUT = "modelReleases"
# Keys a models-only stack may set; the others describe the cluster and come from the cluster stack.
LAYERED_KEYS = ("environment", "clusterStack", "models")
# What cluster_facts_output always exports, with its JSON type: a models-only stack needs every one of them.
REQUIRED_FACTS: dict[str, type] = {
    "cloud": str,
    "name": str,
    "region": str,
    "zones": list,
    "kubernetesVersion": str,
    "pools": list,
    "addons": dict,
    "registryUrls": dict,
}
_JSON_WORDS = {str: "a string", list: "a list", dict: "a mapping"}
CLUSTER_KEYS = ("cloud", "region", "zones", "cluster", "nodePools", "registry", "addons")


# ----------------------------------------------------------------------------------------------------
# Cluster stack side


def node_output(pool: PoolFacts) -> dict[str, Any]:
    """The declared node of an existing cluster's pool, as its `nodePools[i].node` entry."""
    i = pool.shape.instance
    assert i.allocatable_cpu is not None and i.allocatable_memory_gib is not None and i.max_pods is not None
    node: dict[str, Any] = {
        "cpu": i.allocatable_cpu,
        "memoryGib": i.allocatable_memory_gib,
        "maxPods": i.max_pods,
        "arch": i.arch,
    }
    if i.gpu_model is not None:
        node |= {"gpuModel": i.gpu_model, "gpuCount": i.gpu_count}
    return node


def pool_output(pool: PoolFacts) -> dict[str, Any]:
    """One pool's capacity facts, as plain JSON (camelCase like the stack file). An existing cluster's
    pool also carries its declared node (no catalog instance type names it)."""
    s = pool.shape
    out = {
        "name": s.name,
        "instanceType": s.instance.name,
        "capacityType": pool.capacity_type,
        "minSize": pool.min_size,
        "maxSize": pool.max_size,
        "sharing": s.sharing,
        "migStrategy": s.mig_strategy,
        "migLayout": s.mig_layout,
        "timeSlicingReplicas": s.time_slicing_replicas,
        "labels": dict(sorted(s.extra_labels.items())),
        "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in s.extra_taints],
        "gpusPerNode": s.gpu_resources,
        "priceUsdPerNodeHour": pool.price_usd_per_node_hour,
    }
    if s.cloud == "existing":
        out["node"] = node_output(pool)
    return out


def cluster_facts_output(
    spec: StackSpec,
    facts: ClusterFacts,
    kubeconfig: pulumi.Input[str],
    oidc_provider_arn: pulumi.Input[str] | None = None,
    oidc_issuer_url: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """Everything the model layer needs from a cluster stack. The kubeconfig is a secret; the OIDC
    provider is the cluster's workload-identity issuer (EKS IRSA, ACK RRSA). An existing cluster adds how
    it is reached and what it provides (`cluster.existing`, the kubeconfig's key left out)."""
    out: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "cloud": facts.cloud.name,
        "name": facts.name,
        "region": facts.region,
        "zones": list(spec.zones),
        "kubernetesVersion": facts.kubernetes_version,
        "kubeconfig": pulumi.Output.secret(kubeconfig),
        "oidcProviderArn": oidc_provider_arn,
        "oidcIssuerUrl": oidc_issuer_url,
        "registryUrls": dict(facts.registry_urls),
        "storageClass": facts.storage_class,
        "pools": [pool_output(p) for p in facts.pools],
        # The platform this stack installed (gateway routes, KEDA, mesh): the model layer reads it. Config
        # only: secret values live under gpu-platform-secrets and are referenced by key name.
        "addons": spec.addons.model_dump(mode="json", by_alias=True, exclude_defaults=True),
    }
    if spec.cluster.existing is not None:
        out["existing"] = spec.cluster.existing.model_dump(
            mode="json", by_alias=True, exclude={"kubeconfig", "kubeconfig_secret"}
        )
    return out


def export_cluster_facts(
    spec: StackSpec,
    facts: ClusterFacts,
    kubeconfig: pulumi.Input[str],
    *,
    oidc_provider_arn: pulumi.Input[str] | None,
    oidc_issuer_url: pulumi.Input[str] | None,
) -> None:
    """Export `clusterFacts` and the outputs both cluster layers share (kubeconfig, repository URLs)."""
    pulumi.export(OUTPUT, cluster_facts_output(spec, facts, kubeconfig, oidc_provider_arn, oidc_issuer_url))
    pulumi.export("kubeconfig", kubeconfig)
    if spec.registry.enabled:
        pulumi.export("repositoryUrls", dict(facts.registry_urls))


# ----------------------------------------------------------------------------------------------------
# Models-only stack side


def layered_problems(raw: Mapping[str, Any]) -> list[str]:
    """A models-only stack names its cluster stack and its models, nothing about the cluster."""
    ref = raw.get("clusterStack")
    problems: list[str] = []
    if ref is None or ref == "":
        # `clusterStack: null` or `clusterStack:` with nothing: the CLI hands the program an empty string.
        problems.append(
            f"{key_path(['clusterStack'])}: no value (null or empty in the stack file); name the cluster stack as "
            "<organization>/<project>/<stack>, e.g. organization/gpu-platform/prod, or remove the key for a "
            "stack that builds its own cluster"
        )
        ref = "the cluster stack"
    elif not isinstance(ref, str) or len(ref.split("/")) != 3 or not all(ref.split("/")):
        problems.append(
            f"{key_path(['clusterStack'])}: {show(ref)} is not a stack name; write it as "
            "<organization>/<project>/<stack>, e.g. organization/gpu-platform/prod on a self-managed backend "
            "or <org>/gpu-platform/prod on Pulumi Cloud"
        )
        ref = "the cluster stack"
    for key in CLUSTER_KEYS:
        if key in raw:
            problems.append(
                f"{key_path([key])}: not allowed with clusterStack; {key} comes from {ref} "
                f"(its {OUTPUT} output): set it in that stack and remove it here"
            )
    return problems


def pool_spec(pool: Mapping[str, Any]) -> dict[str, Any]:
    """An exported pool as a `nodePools[i]` entry, so it becomes the same PoolShape (stacks/contract.py pool_facts)."""
    out: dict[str, Any] = {
        k: pool[k] for k in ("name", "capacityType", "minSize", "maxSize", "labels", "taints") if k in pool
    }
    if "node" in pool:  # an existing cluster's pool: its declared node, no instance type
        out["node"] = pool["node"]
        out.pop("capacityType", None)
    else:
        out["instanceTypes"] = [pool.get("instanceType")]
    sharing = pool.get("sharing", "none")
    if sharing != "none":
        gpu: dict[str, Any] = {"sharing": sharing}
        if sharing == "mig":
            gpu["mig"] = {"strategy": pool.get("migStrategy"), "layout": pool.get("migLayout")}
        if sharing == "time-slicing":
            gpu["timeSlicing"] = {"replicas": pool.get("timeSlicingReplicas")}
        out["gpu"] = gpu
    return out


def cluster_raw(facts: Mapping[str, Any], models: set[str] | None = None) -> dict[str, Any]:
    """The cluster keys of a stack file, rebuilt from a `clusterFacts` output."""
    out: dict[str, Any] = {
        "cloud": facts.get("cloud"),
        "region": facts.get("region"),
        "zones": facts.get("zones"),
        "cluster": {"name": facts.get("name"), "kubernetesVersion": facts.get("kubernetesVersion")},
        "nodePools": [pool_spec(p) if isinstance(p, Mapping) else p for p in facts.get("pools") or []],
        "addons": _addons(facts.get("addons") or {}, models),
    }
    if "existing" in facts:  # an existing cluster: how it is reached, and it has no registry of ours
        out["cluster"]["existing"] = facts["existing"]
        out["registry"] = {"enabled": False}
    return out


def _addons(addons: Mapping[str, Any], models: set[str] | None) -> dict[str, Any]:
    """The cluster's add-ons, with only the gateway routes of this stack's models (a route exposes the
    model of its name; the cluster stack's other routes are its own business)."""
    out = copy.deepcopy(dict(addons))
    gateway = out.get("istio", {}).get("gateway", {})
    if "routes" in gateway and models is not None:
        gateway["routes"] = [r for r in gateway["routes"] if r.get("name") in models]
    return out


def read_cluster_facts(ref: pulumi.StackReference, stack: str) -> dict[str, Any]:
    """The referenced stack's `clusterFacts`, read now: the model layer's resources (placement, capacity)
    depend on the pools, so they cannot wait in an apply. A StackReference is read during preview too."""
    details = _sync_await(ref.get_output_details(OUTPUT))
    value = details.value if details.value is not None else details.secret_value
    where = key_path(["clusterStack"])
    if value is None:
        # A stack that exists but was never deployed (or by a program that exports nothing) has no
        # outputs; a stack that does not exist fails the StackReference read itself with the engine's
        # `unknown stack "<name>"` (docs/stack-files.md#layered-stacks).
        raise ConfigError(
            [
                f"{where}: stack {stack} has no {OUTPUT} output; deploy it with this version of "
                "gpu-platform (a cluster stack exports it) or fix the stack name"
            ]
        )
    if not isinstance(value, dict):
        raise ConfigError(
            [
                f"{where}: stack {stack} exports {OUTPUT} as {show(value)}, not a mapping; deploy it with this "
                "version of gpu-platform (a cluster stack exports it) or fix the stack name"
            ]
        )
    facts: dict[str, Any] = dict(value)
    missing = [k for k, kind in REQUIRED_FACTS.items() if not isinstance(facts.get(k), kind)]
    if missing and facts.get("schemaVersion") == SCHEMA_VERSION:
        raise ConfigError(
            [
                f"{where}: the {OUTPUT} output of stack {stack} lacks "
                f"{', '.join(f'{k} ({_JSON_WORDS[REQUIRED_FACTS[k]]})' for k in missing)}, missing or of another "
                "type; redeploy that stack with this version of gpu-platform"
            ]
        )
    if facts.get("schemaVersion") != SCHEMA_VERSION:
        raise ConfigError(
            [
                f"{where}: stack {stack} exports {OUTPUT} schemaVersion "
                f"{show(facts.get('schemaVersion'))}; this program reads {SCHEMA_VERSION}: "
                "update the cluster stack first"
            ]
        )
    return facts


def read_cluster_models(ref: pulumi.StackReference, stack: str) -> dict[str, Any]:
    """The models the referenced stack deploys itself (its `modelReleases` output), read now like
    `clusterFacts`: a collision must stop the preview before anything registers. None exported: none."""
    details = _sync_await(ref.get_output_details(MODELS_OUTPUT))
    value = details.value if details.value is not None else details.secret_value
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            [
                f"{key_path(['clusterStack'])}: stack {stack} exports {MODELS_OUTPUT} as {show(value)}, not a map "
                "of model name to release; deploy it with this version of gpu-platform"
            ]
        )
    return dict(value)


def collision_problems(raw: Mapping[str, Any], deployed: Mapping[str, Any], stack: str) -> list[str]:
    """A model, or a namespace, the cluster stack already deploys: two stacks would create the same
    objects (pulumi-kubernetes >= 4.29 refuses to create an object that exists; a namespace is
    cluster-scoped), and the second `pulumi destroy` would delete the first stack's release."""
    namespaces: dict[str, list[str]] = {}
    for model, release in sorted(deployed.items()):
        ns = release.get("namespace") if isinstance(release, Mapping) else None
        namespaces.setdefault(str(ns or model), []).append(str(model))
    problems: list[str] = []
    for i, m in enumerate(raw.get("models") or []):
        if not isinstance(m, Mapping) or not isinstance(m.get("name"), str):
            continue  # the spec rules report it
        name = m["name"]
        if name in deployed:
            problems.append(
                f"{key_path(['models', i, 'name'])}: model {show(name)} is already deployed by cluster stack "
                f"{stack} (its {MODELS_OUTPUT} output); two stacks must never own the same release: rename "
                f"the model here, or remove it from the models of {stack} and deploy that first"
            )
            continue
        ns = m.get("namespace") or name
        if isinstance(ns, str) and ns in namespaces:
            where = ["models", i, "namespace"] if m.get("namespace") else ["models", i, "name"]
            owners = ", ".join(map(show, namespaces[ns]))
            problems.append(
                f"{key_path(where)}: namespace {show(ns)} is created by cluster stack {stack} (model {owners} "
                f"deploys into it); a namespace belongs to one stack: set models[{i}].namespace to another "
                "namespace"
            )
    return problems


def parse_layered(raw: Mapping[str, Any], facts: Mapping[str, Any]) -> StackSpec:
    """Validate a models-only stack as if the referenced cluster's keys were in its file."""
    stack = str(raw["clusterStack"])
    try:
        names = {str(m.get("name")) for m in raw.get("models") or [] if isinstance(m, dict)}
        return parse_spec({**cluster_raw(facts, names), **raw})
    except ConfigError as err:
        own = tuple(key_path([k]) for k in LAYERED_KEYS)
        raise ConfigError([_layered_problem(p, own, stack) for p in err.problems]) from None


def _layered_problem(problem: str, own: tuple[str, ...], stack: str) -> str:
    if not problem.startswith(own):  # the referenced output itself is malformed
        return f"{key_path(['clusterStack'])}: {OUTPUT} of {stack}: {problem}"
    # A capacity fix that names a pool is made in the cluster stack.
    return f"{problem} (node pools of cluster stack {stack})" if "nodePools[" in problem else problem


def cloud_seam(spec: StackSpec, facts: Mapping[str, Any]) -> CloudSeam:
    """The referenced cluster's cloud seam. A models-only stack installs no node autoscaler; on AWS it
    makes its own regional provider, pinned to the cluster's region and tags, only when a model has an
    artifact bucket to create."""
    if spec.cloud == "alicloud":
        return alicloud_seam(region=spec.region)
    if spec.cloud == "existing":
        ex = spec.cluster.existing
        assert ex is not None, "cluster_raw carries clusterFacts.existing"
        lb = ex.load_balancer_annotations
        return existing_seam(
            provides_gpu_device_plugin=ex.gpu_device_plugin == "provided",
            load_balancer_annotations={"internal": lb.internal, "internet-facing": lb.internet_facing},
        )
    provider = None
    if any(m.artifact_bucket for m in spec.models):
        provider = aws.Provider(
            "models-aws", region=spec.region, default_tags=aws.ProviderDefaultTagsArgs(tags=common_tags(spec))
        )
    return aws_seam(
        provider=provider,
        oidc_provider_arn=facts.get("oidcProviderArn"),
        oidc_issuer_url=facts.get("oidcIssuerUrl"),
        cluster_name=spec.cluster_name,
        region=spec.region,
        kubernetes_version=spec.cluster.kubernetes_version,
        protect_artifacts=spec.is_prod,
    )


def cluster_identifier(facts: Mapping[str, Any]) -> str:
    """`<cloud>/<region>/<cluster name>`: names one cluster and never changes while it exists."""
    return "/".join(str(facts.get(k)) for k in ("cloud", "region", "name"))


def cluster_facts(spec: StackSpec, facts: Mapping[str, Any]) -> ClusterFacts:
    """ClusterFacts of the referenced cluster: its pools (the same PoolFacts as in the cluster stack),
    a Kubernetes provider from its kubeconfig, its cloud seam and registry."""
    existing = spec.cluster.existing
    provider = k8s.Provider(
        "cluster",
        kubeconfig=pulumi.Output.secret(str(facts.get("kubeconfig") or "")),
        context=existing.context if existing is not None else None,
        # A stable identity, as in the cluster layers (components/aws/eks.py, components/alicloud/ack.py): a
        # new endpoint or credential in the cluster stack's kubeconfig updates this provider in place
        # instead of replacing every model object.
        cluster_identifier=cluster_identifier(facts),
    )
    return ClusterFacts(
        cloud=cloud_seam(spec, facts),
        name=spec.cluster_name,
        region=spec.region,
        kubernetes_version=spec.cluster.kubernetes_version,
        k8s_provider=provider,
        pools=pool_facts(spec),
        registry_urls=dict(facts.get("registryUrls") or {}),
        storage_class=facts.get("storageClass"),
    )


def load_layered(raw: Mapping[str, Any]) -> tuple[StackSpec, ClusterFacts]:
    """A models-only stack: check its keys, read the cluster stack (its facts and the models it deploys),
    validate, and hand back ClusterFacts."""
    problems = layered_problems(raw)
    if problems:
        raise ConfigError(problems)
    stack = str(raw["clusterStack"])
    ref = pulumi.StackReference("cluster", stack_name=stack)
    facts = read_cluster_facts(ref, stack)
    collisions = collision_problems(raw, read_cluster_models(ref, stack), stack)
    try:
        spec = parse_layered(raw, facts)
    except ConfigError as err:
        raise ConfigError([*collisions, *err.problems]) from None
    if collisions:
        raise ConfigError(collisions)
    return spec, cluster_facts(spec, facts)
