"""Render every Helm release of a plan for real: `helm template` with the release's values, from the
vendored chart packages in ../shared/charts (docs/testing.md#charts-rendered-for-real).

For each `kubernetes:helm.sh/v3:Release` and `kubernetes:helm.sh/v4:Chart` of a plan:

    helm template <release> <chart> --namespace <release namespace> --values <the release's values>
        --kube-version <the cluster's Kubernetes version> --include-crds --skip-tests
        --api-versions <group/version and group/version/Kind of every CRD the stack's charts install>

with helm from `.tools/bin` (`make tools`, docs/tools.md: helm v4.3.2). What differs from a real install:

- **Where charts come from.** `../shared/charts/<chart>-<version>.tgz`, the pinned version exactly, with
  two documented exceptions (`ChartSource.note` says so in the report): the Istio charts there are
  1.29.6 while charts/pins.yaml pins 1.29.8 (../shared/charts/README.md), a patch-level difference
  accepted for Istio only; and Istio's `cni` chart is not vendored at all, so it is rendered from the
  nearest real source here, `manifests/charts/istio-cni` of the istio.io/istio module that builds
  istioctl (Go module cache; release-1.30 branch, scripts/build-tools.sh ISTIO_MODULE_VERSION), **not**
  the pinned 1.29.8 chart. Any other pin without its package is `ChartNotVendored`.
- **Istio charts are packaged from the source tree**, whose values carry development placeholders
  (`hub: gcr.io/istio-testing`, `tag: latest`; Chart.yaml `1.0.0` in the module). Istio's release
  builder rewrites those when it publishes a chart (istio/release-builder pkg/build/helm.go
  sanitizeChart: hubs -> docker.io/istio, `tag: latest` / `1.x-dev` / `*-latest-daily` -> the release
  version, Chart.yaml's placeholder version -> the release); `_stamp_istio` does the same, with the
  pinned version as the tag: the images are the ones the pinned chart deploys.
- **Values a preview cannot know** (`<computed>`, `<secret>` in the plan) get well-formed placeholders
  (`placeholder()`; listed per release in the report).
- **Namespaces**: helm install (and pulumi's v4 Chart) put a namespaced object without a namespace into
  the release namespace; so do we (`cluster_scoped()` decides which kinds are namespaced).
- `--skip-tests`: `helm test` pods run only on request, never on install. Other hooks stay (a v3
  Release runs them; a v4 Chart creates them as plain objects).
- The API versions helm knows besides `--api-versions` are its built-in set (client-go v0.37), not the
  discovery answer of a 1.33/1.34 API server; of the vendored charts' capability checks only the GPU
  Operator's DRA check (`gpuCluster.deployCR`, off) reads an API the clusters do not serve.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.offline import kyaml
from tools.offline.config import PROJECT_DIR
from tools.offline.fixtures import ACCOUNT_ID
from tools.offline.reference_outputs import COMPUTED, SECRET

HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
CHARTS_DIR = PROJECT_DIR.parent / "shared" / "charts"
# helm and istioctl from `make tools`; GPU_PLATFORM_TOOLS_BIN points elsewhere (tests: an empty directory).
TOOLS_BIN = Path(os.environ.get("GPU_PLATFORM_TOOLS_BIN") or PROJECT_DIR / ".tools" / "bin")
BUILD_HELM = "run `make tools` (or `bash scripts/build-tools.sh helm`) to build it into .tools/bin"

# ../shared/charts/README.md: the vendored Istio charts are 1.29.6, the pins 1.29.8. Accepted for these
# charts only, and only within one minor (the newest vendored patch of the pinned minor is used).
ISTIO_CHARTS = frozenset({"base", "istiod", "gateway", "cni"})
# Istio's published charts take their images from docker.io/istio (istio.io install docs, release-builder).
ISTIO_RELEASE_HUB = "docker.io/istio"
_ISTIO_DEV_HUBS = ("gcr.io/istio-testing", "gcr.io/istio-release", "registry.istio.io/testing")
_ISTIO_DEV_TAGS = (re.compile(r"tag: .*-latest-daily"), re.compile(r"tag: latest"), re.compile(r"tag: 1\.[0-9]+-dev"))
# Istio's CNI chart inside the istio.io/istio module (not vendored in ../shared/charts).
ISTIO_MODULE_CHARTS = {"cni": "manifests/charts/istio-cni"}
# Karpenter's charts inside the github.com/aws/karpenter-provider-aws module (not vendored either), fetched
# by scripts/fetch-karpenter.sh into .tools/modules at its KARPENTER_MODULE_VERSION (docs/karpenter.md).
KARPENTER_MODULE_CHARTS = {"karpenter": "charts/karpenter", "karpenter-crd": "charts/karpenter-crd"}
FETCH_KARPENTER = "run `bash scripts/fetch-karpenter.sh` (make tools does) to fetch the module into .tools/modules"
# The EFA device plugin's chart inside the github.com/aws/eks-charts module, fetched by the same script at its
# EKS_CHARTS_MODULE_VERSION (docs/karpenter.md#efa-device-plugin).
EKS_CHARTS_MODULE_CHARTS = {"aws-efa-k8s-device-plugin": "stable/aws-efa-k8s-device-plugin"}

# Built-in cluster-scoped kinds (Kubernetes 1.33/1.34 API); CRDs declare their own scope.
CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IngressClass",
        "IPAddress",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "ServiceCIDR",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)


class ChartNotVendored(Exception):
    """A pinned chart with no package to render it from."""


class RenderError(Exception):
    """helm refused to render a release (its message included)."""


@dataclass(frozen=True)
class Release:
    """One Helm resource of a plan, as helm would be asked to install it."""

    name: str  # the Helm release name (v3 Release: `name`; v4 Chart: the resource name)
    namespace: str
    chart: str
    version: str
    repo: str
    values: Any
    type: str  # the Pulumi type


@dataclass(frozen=True)
class ChartSource:
    chart: str
    pinned: str
    version: str  # the version of the templates rendered
    path: Path  # a packaged chart (.tgz) or a chart directory
    note: str = ""  # how this differs from the pinned chart ("" = it is the pinned chart)
    stamp: str = ""  # Istio: the version release-builder would stamp (images, placeholder Chart version)


@dataclass(frozen=True)
class Placeholder:
    path: str  # dotted path in the values
    marker: str  # <computed> or <secret>
    value: str


@dataclass
class RenderedRelease:
    release: Release
    source: ChartSource
    objects: list[dict[str, Any]]
    placeholders: list[Placeholder] = field(default_factory=list)


@dataclass
class Rendering:
    """Every release of one plan rendered (or why not: `skipped`)."""

    releases: list[RenderedRelease] = field(default_factory=list)
    kube_version: str = ""
    api_versions: list[str] = field(default_factory=list)
    helm_version: str = ""
    skipped: str = ""  # why nothing was rendered ("" = rendered)
    missing: list[tuple[Release, str]] = field(default_factory=list)  # releases with no chart to render

    def objects(self) -> Iterator[tuple[RenderedRelease, dict[str, Any]]]:
        for r in self.releases:
            for obj in r.objects:
                yield r, obj


# ---------------------------------------------------------------------------------------------------
# releases and their charts


def chart_name(chart: str, version: str) -> str:
    """The chart's name from what a Helm resource is given: a name (with a repository), an OCI reference
    (`oci://registry/path/<chart>`) or a local package (`<dir>/<chart>-<version>.tgz`) (components/helm.py)."""
    name = chart.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (f"-{version}.tgz", f"-v{version.lstrip('v')}.tgz"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def releases(plan: dict[str, Any]) -> list[Release]:
    out: list[Release] = []
    for r in plan["resources"]:
        if r["type"] not in HELM_TYPES:
            continue
        i = r["inputs"]
        out.append(
            Release(
                name=i.get("name") or r["name"],
                namespace=i.get("namespace") or "default",
                chart=chart_name(str(i["chart"]), str(i.get("version") or "")),
                version=str(i.get("version") or ""),
                repo=(i.get("repositoryOpts") or {}).get("repo", ""),
                values=i.get("values") or {},
                type=r["type"],
            )
        )
    return sorted(out, key=lambda x: (x.namespace, x.name))


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.lstrip("v").split(".")[:2])


def _patch(path: Path, chart: str) -> int:
    m = re.search(r"\.([0-9]+)$", path.name[len(chart) + 1 : -len(".tgz")])
    return int(m.group(1)) if m else -1


def build_tools_pin(name: str, project_dir: Path = PROJECT_DIR) -> str:
    """A `NAME=value` pin at the top of scripts/build-tools.sh."""
    m = re.search(rf"^{name}=(\S+)", (project_dir / "scripts" / "build-tools.sh").read_text(), re.M)
    if not m:
        raise ChartNotVendored(f"scripts/build-tools.sh pins no {name}")
    return m.group(1)


def go_mod_cache() -> Path:
    if env := os.environ.get("GOMODCACHE"):
        return Path(env)
    go = shutil.which("go") or "/usr/local/go/bin/go"
    try:
        out = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True, check=True, timeout=30)
        if out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return Path(os.environ.get("GOPATH") or Path.home() / "go") / "pkg" / "mod"


def istio_module_dir() -> Path:
    """istio.io/istio at the pseudo-version istioctl is built from (release-1.30 branch), in the module cache."""
    return go_mod_cache() / "istio.io" / f"istio@{build_tools_pin('ISTIO_MODULE_VERSION')}"


def _fetched_module_dir(variable: str, module: str, project_dir: Path) -> Path:
    """`module` at the version scripts/fetch-karpenter.sh pins in `variable`, in .tools/modules."""
    m = re.search(rf"^{variable}=(\S+)", (project_dir / "scripts" / "fetch-karpenter.sh").read_text(), re.M)
    if not m:
        raise ChartNotVendored(f"scripts/fetch-karpenter.sh pins no {variable}")
    return project_dir / ".tools" / "modules" / f"{module}@{m.group(1)}"


def karpenter_module_dir(project_dir: Path = PROJECT_DIR) -> Path:
    """github.com/aws/karpenter-provider-aws at the version scripts/fetch-karpenter.sh pins, in .tools/modules."""
    return _fetched_module_dir("KARPENTER_MODULE_VERSION", "github.com/aws/karpenter-provider-aws", project_dir)


def eks_charts_module_dir(project_dir: Path = PROJECT_DIR) -> Path:
    """github.com/aws/eks-charts at the version scripts/fetch-karpenter.sh pins, in .tools/modules."""
    return _fetched_module_dir("EKS_CHARTS_MODULE_VERSION", "github.com/aws/eks-charts", project_dir)


def find_chart(chart: str, version: str, charts_dir: Path = CHARTS_DIR) -> ChartSource:
    """Where to render the pinned `chart` `version` from; ChartNotVendored says what is missing."""
    exact = charts_dir / f"{chart}-{version}.tgz"
    fetched = {
        **{c: (karpenter_module_dir, p) for c, p in KARPENTER_MODULE_CHARTS.items()},
        **{c: (eks_charts_module_dir, p) for c, p in EKS_CHARTS_MODULE_CHARTS.items()},
    }
    if chart in fetched and not exact.is_file():
        module_dir, sub = fetched[chart]
        module = module_dir()
        path = module / sub
        if not (path / "Chart.yaml").is_file():
            raise ChartNotVendored(f"{chart} {version}: {path} is missing; {FETCH_KARPENTER}")
        found = str(kyaml.load((path / "Chart.yaml").read_text()).get("version", ""))
        if found != version:
            raise ChartNotVendored(
                f"{chart} {version}: {path} is chart version {found}; pin {found} or fetch the module that ships {version}"
            )
        return ChartSource(chart, version, version, path, f"rendered from the {module.name} Go module (not vendored)")
    stamp = version if chart in ISTIO_CHARTS else ""
    if exact.is_file():
        return ChartSource(chart, version, version, exact, stamp=stamp)
    if chart in ISTIO_CHARTS:
        same_minor = [
            p for p in charts_dir.glob(f"{chart}-*.tgz") if _minor(p.name[len(chart) + 1 :]) == _minor(version)
        ]
        if same_minor:
            best = max(same_minor, key=lambda p: _patch(p, chart))
            vendored = best.name[len(chart) + 1 : -len(".tgz")]
            note = (
                f"vendored Istio {vendored} rendered for the pinned {version}: a patch-level difference accepted "
                "for Istio only (../shared/charts/README.md); images tagged "
                f"{ISTIO_RELEASE_HUB}/*:{version} as the published {version} chart sets them"
            )
            return ChartSource(chart, version, vendored, best, note, stamp)
        if chart in ISTIO_MODULE_CHARTS:
            module = istio_module_dir()
            path = module / ISTIO_MODULE_CHARTS[chart]
            if path.is_dir():
                label = build_tools_pin("ISTIO_VERSION_LABEL")
                note = (
                    f"rendered from the istio.io/istio module (1.30 branch, {module.name}), not the pinned "
                    f"{version} chart, which is not vendored in ../shared/charts; images tagged "
                    f"{ISTIO_RELEASE_HUB}/*:{version} as the published {version} chart sets them"
                )
                return ChartSource(chart, version, label, path, note, stamp)
            raise ChartNotVendored(
                f"{chart} {version}: not vendored ({exact} is missing) and {path} is not in the Go module cache; "
                "`make tools` (istioctl) downloads the istio.io/istio module"
            )
    raise ChartNotVendored(f"{chart} {version}: {exact} is missing; vendor the pinned chart in ../shared/charts")


def _stamp_istio(chart_dir: Path, source: ChartSource) -> None:
    """What istio/release-builder does to a chart before publishing it (pkg/build/helm.go sanitizeChart)."""
    for p in sorted(chart_dir.rglob("*")):
        if p.name not in ("Chart.yaml", "values.yaml"):
            continue
        text = p.read_text()
        if p.name == "Chart.yaml":
            current = kyaml.load(text).get("version", "")
            if current == "1.0.0":  # the source tree's placeholder: the templates' own version instead
                chart_version = re.sub(r"^(\d+\.\d+)-", r"\1.0-", source.version)
                for key in ("version", "appVersion"):
                    text = re.sub(rf"^{key}: \"?1\.0\.0\"?$", f"{key}: {chart_version}", text, flags=re.M)
        for hub in _ISTIO_DEV_HUBS:
            text = text.replace(f"hub: {hub}", f"hub: {ISTIO_RELEASE_HUB}")
        for rx in _ISTIO_DEV_TAGS:
            text = rx.sub(f"tag: {source.stamp}", text)
        p.write_text(text)


def _chart_path(source: ChartSource, workdir: Path) -> Path:
    """The chart to hand helm: the package itself, or (Istio) a stamped copy."""
    if not source.stamp:
        return source.path
    dest = workdir / "charts" / f"{source.chart}-{source.version}"
    if not dest.exists():
        dest.mkdir(parents=True)
        if source.path.is_dir():
            shutil.copytree(source.path, dest / source.chart)
        else:
            with tarfile.open(source.path) as t:
                t.extractall(dest, filter="data")
        for p in dest.rglob("*"):
            if not p.is_symlink():
                p.chmod(0o755 if p.is_dir() else 0o644)  # the module cache is read-only
        _stamp_istio(dest / source.chart, source)
    return dest / source.chart


# ---------------------------------------------------------------------------------------------------
# values


def placeholder(path: list[str], marker: str) -> str:
    """A well-formed stand-in for a value the plan cannot know (docs/testing.md lists them):

    - an IAM role ARN (a key ending in `role-arn` / `roleArn`, e.g. the IRSA annotation
      `eks.amazonaws.com/role-arn`): `arn:aws:iam::123456789012:role/offline-computed-<key path>`;
    - any other `<computed>`: `offline-computed-<key path>`;
    - a `<secret>`: `offline-secret-<key path>`.
    Key paths are slugged to a DNS-label-like form so the value is also a valid name."""
    tail = kyaml.slug("-".join(path))[:40].strip("-.") or "value"
    key = path[-1] if path else ""
    if marker == COMPUTED and (key.lower().endswith("role-arn") or key.endswith("RoleArn") or key == "roleArn"):
        return f"arn:aws:iam::{ACCOUNT_ID}:role/offline-computed-{tail}"
    return f"offline-{'secret' if marker == SECRET else 'computed'}-{tail}"


def with_placeholders(values: Any, path: list[str] | None = None) -> tuple[Any, list[Placeholder]]:
    path = path or []
    if isinstance(values, str) and values in (COMPUTED, SECRET):
        ph = placeholder(path, values)
        return ph, [Placeholder(".".join(path) or "(values)", values, ph)]
    found: list[Placeholder] = []
    if isinstance(values, dict):
        out: dict[str, Any] = {}
        for k, v in values.items():
            out[k], f = with_placeholders(v, [*path, str(k)])
            found += f
        return out, found
    if isinstance(values, list):
        items: list[Any] = []
        for n, v in enumerate(values):
            item, f = with_placeholders(v, [*path, str(n)])
            items.append(item)
            found += f
        return items, found
    return values, found


# ---------------------------------------------------------------------------------------------------
# rendering


def helm_binary(tools_bin: Path = TOOLS_BIN) -> Path | None:
    p = tools_bin / "helm"
    return p if p.is_file() and os.access(p, os.X_OK) else None


def kube_version(plan: dict[str, Any]) -> str:
    """The cluster's Kubernetes version as helm's --kube-version wants it (v<major>.<minor>.<patch>)."""
    facts = plan.get("outputs", {}).get("clusterFacts")
    version = str(facts.get("kubernetesVersion", "")) if isinstance(facts, dict) else ""
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", version):
        raise RenderError(
            f"the plan exports no clusterFacts.kubernetesVersion to render its charts for (got {version!r})"
        )
    return "v" + (version if version.count(".") == 2 else version + ".0")


def crd_api_versions(objects: Iterable[dict[str, Any]]) -> list[str]:
    """`group/version` and `group/version/Kind` of every served version of every CRD among `objects`."""
    out: set[str] = set()
    for o in objects:
        if o.get("kind") != "CustomResourceDefinition":
            continue
        spec = o.get("spec") or {}
        for v in spec.get("versions") or []:
            if v.get("served", True):
                out |= {f"{spec['group']}/{v['name']}", f"{spec['group']}/{v['name']}/{spec['names']['kind']}"}
    return sorted(out)


def cluster_scoped(objects: Iterable[dict[str, Any]]) -> set[str]:
    """Built-in cluster-scoped kinds plus the kinds of the Cluster-scoped CRDs among `objects`."""
    kinds = set(CLUSTER_SCOPED)
    for o in objects:
        spec = o.get("spec") or {}
        if o.get("kind") == "CustomResourceDefinition" and spec.get("scope") == "Cluster":
            kinds.add(spec["names"]["kind"])
    return kinds


def _uses_capabilities(source: ChartSource) -> bool:
    """Whether any template of the chart reads .Capabilities.APIVersions (only those render differently
    once the CRDs are known)."""
    if source.path.is_dir():
        texts: Iterable[str] = (p.read_text(errors="replace") for p in source.path.rglob("*") if p.is_file())
    else:
        with tarfile.open(source.path) as t:
            texts = [
                f.read().decode(errors="replace")
                for m in t.getmembers()
                if m.isfile() and (f := t.extractfile(m)) is not None
            ]
    return any("APIVersions" in text for text in texts)


def helm_template(
    helm: Path,
    release: Release,
    chart: Path,
    values: Any,
    kube_version: str,
    api_versions: list[str],
    workdir: Path,
    cache: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    values_file = workdir / f"values-{release.namespace}-{release.name}.json"
    values_file.write_text(json.dumps(values, sort_keys=True))
    cmd = [
        str(helm),
        "template",
        release.name,
        str(chart),
        "--namespace",
        release.namespace,
        "--values",
        str(values_file),
        "--kube-version",
        kube_version,
        "--include-crds",
        "--skip-tests",
    ]
    for api in api_versions:
        cmd += ["--api-versions", api]
    home = workdir / "helm-home"  # no user repositories, plugins or cache: the chart is local
    env = {
        **os.environ,
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    if res.returncode != 0:
        raise RenderError(f"helm template {release.name} ({release.chart} {release.version}): {res.stderr.strip()}")
    return kyaml.load_stream(res.stdout, cache)


def _version(helm: Path) -> str:
    res = subprocess.run([str(helm), "version", "--short"], capture_output=True, text=True, check=False, timeout=60)
    return res.stdout.strip().split("+")[0] or "unknown"


def render_plan(
    plan: dict[str, Any], *, helm: Path | None = None, charts_dir: Path = CHARTS_DIR, workdir: Path | None = None
) -> Rendering:
    """Render every Helm release of `plan` (module docstring): releases whose chart is not there are listed
    in `missing`; a chart helm refuses to render raises RenderError."""
    rels = releases(plan)
    if not rels:
        return Rendering()
    helm = helm or helm_binary()
    if helm is None:
        return Rendering(skipped=f"helm not found at {TOOLS_BIN / 'helm'}: {BUILD_HELM}")
    result = Rendering(kube_version=kube_version(plan), helm_version=_version(helm))
    found: list[tuple[Release, ChartSource]] = []
    for r in rels:
        try:
            found.append((r, find_chart(r.chart, r.version, charts_dir)))
        except ChartNotVendored as err:
            result.missing.append((r, str(err)))
    with tempfile.TemporaryDirectory(prefix="gpu-platform-charts-") as tmp:
        work = workdir or Path(tmp)
        parsed: dict[str, Any] = {}  # document text -> object: pass 2 repeats most of pass 1
        prepared = [(_chart_path(s, work), *with_placeholders(r.values)) for r, s in found]

        def render(i: int, apis: list[str]) -> list[dict[str, Any]]:
            chart, values, _ = prepared[i]
            return helm_template(helm, found[i][0], chart, values, result.kube_version, apis, work, parsed)

        # Pass 1 finds the CRDs the stack installs; pass 2 renders the charts that ask for API versions
        # again with those CRDs served (ServiceMonitors, PrometheusRules, ...).
        first = [render(i, []) for i in range(len(found))]
        result.api_versions = crd_api_versions(o for objs in first for o in objs)
        for i, (r, source) in enumerate(found):
            objs = render(i, result.api_versions) if _uses_capabilities(source) else first[i]
            result.releases.append(RenderedRelease(r, source, objs, prepared[i][2]))
    scoped = cluster_scoped(o for _, o in result.objects())
    for rr, obj in result.objects():
        meta = obj.setdefault("metadata", {})
        if not meta.get("namespace") and obj["kind"] not in scoped:
            meta["namespace"] = rr.release.namespace
    return result


def release_files(rendered: RenderedRelease) -> dict[str, dict[str, Any]]:
    """file name -> object for one release's objects; two objects with one name are a RenderError."""
    out: dict[str, dict[str, Any]] = {}
    for obj in rendered.objects:
        name = kyaml.file_name(obj)
        if name in out:
            raise RenderError(f"release {rendered.release.name} renders {name} twice")
        out[name] = obj
    return out
