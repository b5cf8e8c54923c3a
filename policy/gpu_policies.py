"""gpu-platform guardrails as CrossGuard policies (pulumi-policy).

Importable on purpose: `PolicyPack(...)` starts a gRPC server and never returns, so the pack itself is
only constructed in policy/__main__.py and tests drive these policies through the analyzer servicer.

GPU facts come from the project catalog (components/gpu/catalog.py), the GPU taint from
components/scheduling.py and the stateful types from components/stateful.py, so the pack, the node pools
and the plan diff agree on what a GPU instance, its taint and a stateful resource are. The pack imports
only `components` (pure-Python modules, no cloud SDK), never the offline runner in tools/
(tests/architecture/test_offline_imports.py checks).

Unknown values: the analyzer hands policies a proxy that raises UnknownValueError when a policy reads a
value that is only known after apply; the SDK turns that into an ADVISORY "can't run during preview"
diagnostic. The policies read only what they need, in an order that decides from known values first
(e.g. a container with no securityContext at all is reported without touching the computed image).
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

# The pack runs from policy/ in its own venv; the catalog, the GPU taint and the stateful list live in
# `components` at the repo root.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from components.gpu.catalog import catalog  # noqa: E402
from components.scheduling import GPU_TAINT  # noqa: E402
from components.stateful import STATEFUL_TYPES  # noqa: E402

PACK_NAME = "gpu-platform-guardrails"
GPU_RESOURCE_PREFIXES = ("nvidia.com/gpu", "nvidia.com/mig-")
MODEL_LABEL = "gpu-platform.io/model"
DIGEST_RE = re.compile(r"@sha256:[0-9a-f]{64}$")
WORLD_CIDRS = ("0.0.0.0/0", "::/0")
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"

# Pod-bearing kinds -> where the pod spec sits in the object.
WORKLOAD_POD_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
    "kubernetes:core/v1:Pod": (),
}

# System DaemonSets that need root or privileged access to the node (CNI, CSI, the NVIDIA driver side,
# log shipping from host paths). `namespace/name`; override with the policy's `allowedDaemonSets` config.
DEFAULT_ALLOWED_DAEMONSETS: tuple[str, ...] = (
    "kube-system/aws-node",
    "kube-system/kube-proxy",
    "kube-system/ebs-csi-node",
    "kube-system/nvidia-device-plugin",
    "kube-system/nvidia-device-plugin-daemonset",
    "gpu-operator/nvidia-device-plugin-daemonset",
    "gpu-operator/nvidia-dcgm-exporter",
    "gpu-operator/gpu-feature-discovery",
    "gpu-operator/nvidia-mig-manager",
    "gpu-operator/nvidia-container-toolkit-daemonset",
    "istio-system/istio-cni-node",
    "logging/fluent-bit",
)


def _dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping) or key not in obj:
            return None
        obj = obj[key]
    return obj


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, Sequence) and not isinstance(value, str) else ()


def _containers(pod_spec: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field in ("initContainers", "containers"):
        for c in _seq(_dig(pod_spec, field)):
            if isinstance(c, Mapping):
                yield str(c.get("name", "?")), c


def _pod_template(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    path = WORKLOAD_POD_PATHS.get(resource_type)
    if path is None:
        return None
    template = _dig(props, *path) if path else props
    return template if isinstance(template, Mapping) else None


def _requests_gpus(pod_spec: Any) -> bool:
    for _, c in _containers(pod_spec):
        for kind in ("limits", "requests"):
            for res in _dig(c, "resources", kind) or {}:
                if str(res).startswith(GPU_RESOURCE_PREFIXES):
                    return True
    return False


def is_model_workload(props: Mapping[str, Any]) -> bool:
    """A model Deployment asks for GPUs (whole or MIG) or carries the model label."""
    template = _pod_template(DEPLOYMENT, props)
    if template is None:
        return False
    labels = _dig(template, "metadata", "labels") or {}
    return (
        MODEL_LABEL in labels
        or MODEL_LABEL in (_dig(props, "metadata", "labels") or {})
        or _requests_gpus(_dig(template, "spec"))
    )


def _object_id(props: Mapping[str, Any], fallback: str) -> str:
    ns = _dig(props, "metadata", "namespace") or "default"
    return f"{ns}/{_dig(props, 'metadata', 'name') or fallback}"


# -- mandatory -------------------------------------------------------------------------------------------


def _images_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != DEPLOYMENT or not is_model_workload(args.props):
        return
    for name, c in _containers(_dig(_pod_template(DEPLOYMENT, args.props), "spec")):
        image = str(c.get("image", ""))
        if not DIGEST_RE.search(image):
            report(
                f"container '{name}' image '{image}' is not pinned by digest; "
                "use <repository>@sha256:<64 hex> (tags can be moved to other images)",
                None,
            )


model_images_pinned = ResourceValidationPolicy(
    name="model-images-pinned-by-digest",
    description="Model Deployments run images pinned by digest, never a mutable tag.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_images_pinned,
)


def _root_or_privileged(container: Mapping[str, Any], pod_ctx: Mapping[str, Any]) -> str | None:
    ctx = container.get("securityContext") or {}
    if ctx.get("privileged") is True:
        return "is privileged"
    user = ctx.get("runAsUser", pod_ctx.get("runAsUser"))
    if user is not None and int(user) == 0:
        return "runs as UID 0"
    non_root = ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot"))
    if non_root is not True and user is None:
        return "may run as root (set runAsNonRoot: true or a non-zero runAsUser)"
    return None


def _no_root(args: ResourceValidationArgs, report: ReportViolation) -> None:
    template = _pod_template(args.resource_type, args.props)
    if template is None:
        return
    if args.resource_type == "kubernetes:apps/v1:DaemonSet":
        allowed = (args.get_config() or {}).get("allowedDaemonSets", list(DEFAULT_ALLOWED_DAEMONSETS))
        if _object_id(args.props, args.name) in allowed:
            return
    spec = _dig(template, "spec") or {}
    pod_ctx = _dig(spec, "securityContext") or {}
    for name, c in _containers(spec):
        problem = _root_or_privileged(c, pod_ctx)
        if problem:
            report(f"{_object_id(args.props, args.name)}: container '{name}' {problem}", None)


no_root_containers = ResourceValidationPolicy(
    name="no-privileged-or-root-containers",
    description="Containers run as non-root and unprivileged, except allow-listed system DaemonSets.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedDaemonSets": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(DEFAULT_ALLOWED_DAEMONSETS),
            },
        }
    ),
    validate=_no_root,
)


def is_gpu_node_group(props: Mapping[str, Any]) -> bool:
    """GPU if any instance type has GPUs in the catalog, or the AMI type ships the NVIDIA driver (the
    AMI check also covers instance types the catalog does not know yet)."""
    cat = catalog()
    for t in _seq(props.get("instanceTypes")):
        inst = cat.instance("aws", str(t))
        if inst is not None and inst.is_gpu:
            return True
    ami = props.get("amiType")
    return ami is not None and str(ami) in cat.ami_types and cat.ami_types[str(ami)].gpu


def _gpu_tainted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != NODE_GROUP or not is_gpu_node_group(args.props):
        return
    taints = [t for t in _seq(args.props.get("taints")) if isinstance(t, Mapping)]
    # EKS node groups spell the effect NO_SCHEDULE (Taint.eks_effect).
    if not any(t.get("key") == GPU_TAINT.key and t.get("effect") == GPU_TAINT.eks_effect for t in taints):
        report(
            f"GPU node group '{args.name}' has no {GPU_TAINT.key} {GPU_TAINT.eks_effect} taint; "
            "pods that do not ask for GPUs would fill the GPU nodes",
            None,
        )


gpu_pools_tainted = ResourceValidationPolicy(
    name="gpu-node-pools-tainted",
    description=f"GPU node groups carry the {GPU_TAINT.key} {GPU_TAINT.effect} taint.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_gpu_tainted,
)


def _ecr_hardened(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "aws:ecr/repository:Repository":
        return
    p = args.props
    if p.get("imageTagMutability") != "IMMUTABLE":
        report(f"imageTagMutability is {p.get('imageTagMutability')!r}; must be 'IMMUTABLE'", None)
    if _dig(p, "imageScanningConfiguration", "scanOnPush") is not True:
        report("imageScanningConfiguration.scanOnPush must be true", None)
    enc = [e for e in _seq(p.get("encryptionConfigurations")) if isinstance(e, Mapping)]
    if not enc or enc[0].get("encryptionType") != "KMS":
        report("encryptionConfigurations[0].encryptionType must be 'KMS'", None)


ecr_hardened = ResourceValidationPolicy(
    name="ecr-repositories-hardened",
    description="ECR repositories are immutable, scanned on push and encrypted with KMS.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_ecr_hardened,
)


def _eks_endpoint(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "aws:eks/cluster:Cluster":
        return
    vpc = args.props.get("vpcConfig") or {}
    if vpc.get("endpointPublicAccess") is not True:
        return
    cidrs = [str(c) for c in _seq(vpc.get("publicAccessCidrs"))]
    if not cidrs:  # EKS defaults an empty list to 0.0.0.0/0
        report("public endpoint without publicAccessCidrs is open to 0.0.0.0/0 (the EKS default)", None)
    literal = [c for c in cidrs if c in WORLD_CIDRS]
    for c in literal:
        report(f"public endpoint is open to {c}", None)
    if not literal and (version := covered_world(cidrs)) is not None:
        report(
            f"public endpoint is open to the whole IPv{version} internet: {', '.join(cidrs)} together cover it", None
        )


def covered_world(cidrs: Sequence[str]) -> int | None:
    """The IP version whose whole address space the union of `cidrs` covers (`0.0.0.0/1` + `128.0.0.0/1` is
    the world as much as `0.0.0.0/0` is), else None. Entries that are not CIDRs cover nothing. The stack
    spec refuses the same union before anything is planned (stacks/spec/safety.py)."""
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for c in cidrs:
        try:
            nets.append(ipaddress.ip_network(c, strict=False))
        except ValueError:
            continue
    v4 = [n for n in nets if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in nets if isinstance(n, ipaddress.IPv6Network)]
    if v4 and list(ipaddress.collapse_addresses(v4)) == [ipaddress.IPv4Network("0.0.0.0/0")]:
        return 4
    if v6 and list(ipaddress.collapse_addresses(v6)) == [ipaddress.IPv6Network("::/0")]:
        return 6
    return None


eks_endpoint_not_world = ResourceValidationPolicy(
    name="eks-endpoint-not-public-to-world",
    description="The EKS API endpoint is private, or public only to listed CIDRs.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_eks_endpoint,
)


def _imdsv2(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in ("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"):
        return
    tokens = _dig(args.props, "metadataOptions", "httpTokens")
    if tokens != "required":
        report(f"metadataOptions.httpTokens is {tokens!r}; must be 'required' (IMDSv2 only)", None)


imdsv2_required = ResourceValidationPolicy(
    name="imdsv2-required",
    description="Launch templates and instances require IMDSv2 (metadataOptions.httpTokens = required).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_imdsv2,
)


def stack_of(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::...` -> stack. Policy packs get no stack name otherwise."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


def _stateful_protected(args: StackValidationArgs, report: ReportViolation) -> None:
    protected_stacks = (args.get_config() or {}).get("protectedStacks", ["prod"])
    for r in args.resources:
        if r.resource_type in STATEFUL_TYPES and stack_of(r.urn) in protected_stacks and not r.opts.protect:
            report(f"{r.resource_type} '{r.name}' holds state and is not protected (protect=True)", r.urn)


stateful_protected = StackValidationPolicy(
    name="stateful-resources-protected",
    description="Stateful resources (clusters, registries, KMS keys, logs, volumes) are protected in prod.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "protectedStacks": {"type": "array", "items": {"type": "string"}, "default": ["prod"]},
        }
    ),
    validate=_stateful_protected,
)


# -- advisory --------------------------------------------------------------------------------------------


def _gpu_model_of(props: Mapping[str, Any]) -> str | None:
    for t in _seq(props.get("instanceTypes")):
        inst = catalog().instance("aws", str(t))
        if inst is not None and inst.gpu_model:
            return inst.gpu_model
    return None


def _spot_fallback(args: StackValidationArgs, report: ReportViolation) -> None:
    groups = [r for r in args.resources if r.resource_type == NODE_GROUP and is_gpu_node_group(r.props)]
    on_demand = {_gpu_model_of(r.props) for r in groups if r.props.get("capacityType", "ON_DEMAND") != "SPOT"}
    for r in groups:
        model = _gpu_model_of(r.props)
        if r.props.get("capacityType") == "SPOT" and model not in on_demand:
            report(
                f"spot GPU node group '{r.name}' ({model}) has no on-demand node group with the same GPU "
                "to fall back to when spot capacity is reclaimed",
                r.urn,
            )


spot_gpu_fallback = StackValidationPolicy(
    name="spot-gpu-pools-have-fallback",
    description="Spot GPU node groups have an on-demand node group with the same GPU model.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_spot_fallback,
)


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    match = selector.get("matchLabels") or {}
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def _pdbs(args: StackValidationArgs, report: ReportViolation) -> None:
    pdbs = [r.props for r in args.resources if r.resource_type == PDB]
    for r in args.resources:
        if r.resource_type != DEPLOYMENT or not is_model_workload(r.props):
            continue
        ns = _dig(r.props, "metadata", "namespace") or "default"
        labels = _dig(r.props, "spec", "template", "metadata", "labels") or {}
        if not any(
            (_dig(p, "metadata", "namespace") or "default") == ns
            and _selects(_dig(p, "spec", "selector") or {}, labels)
            for p in pdbs
        ):
            report(
                f"model Deployment {_object_id(r.props, r.name)} has no PodDisruptionBudget; node drains "
                "and autoscaler scale-down can evict every replica at once",
                r.urn,
            )


model_pdbs = StackValidationPolicy(
    name="model-deployments-have-pdb",
    description="Model Deployments have a PodDisruptionBudget selecting their pods.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_pdbs,
)

MANDATORY: list[Policy] = [
    model_images_pinned,
    no_root_containers,
    gpu_pools_tainted,
    ecr_hardened,
    eks_endpoint_not_world,
    imdsv2_required,
    stateful_protected,
]
ADVISORY: list[Policy] = [spot_gpu_fallback, model_pdbs]
ALL: list[Policy] = [*MANDATORY, *ADVISORY]
