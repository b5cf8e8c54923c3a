"""`addons:` block (NVIDIA, cluster autoscaler, Istio + gateway, Prometheus, logging, KEDA) and its rules."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from components.observability.slo import is_duration
from stacks.spec.base import CONFIG_KEY_RE, DnsName, Duration, Loc, Problem, Spec

if TYPE_CHECKING:
    from stacks.spec.stack import StackSpec
from stacks.spec.errors import show


class AddonToggle(Spec):
    enabled: bool = True
    """Install this add-on."""


class NvidiaAddonSpec(AddonToggle):
    dcgm_exporter: bool = True
    """DCGM exporter on every GPU node (GPU utilisation, memory, Xid errors for alerts and SLOs); its
    ServiceMonitor is created when `addons.prometheus.enabled`."""


class ClusterAutoscalerSpec(AddonToggle):
    scale_down_unneeded_time: Duration = "10m"
    """How long a node must be unneeded before the autoscaler removes it. GPU nodes take minutes to boot
    and load models, so a short value makes pools flap; a long one pays for idle GPUs."""
    scale_down_gpu_utilization_threshold: float = Field(default=0.5, gt=0, le=1)
    """A GPU node whose pods request less than this share of its GPUs is a scale-down candidate (its
    pods must fit elsewhere). CPU and memory are ignored on GPU nodes."""


class RateLimitSpec(Spec):
    requests_per_minute: int = Field(ge=1, le=1_000_000)
    """Sustained requests per minute allowed on the route, per gateway replica (Envoy local rate limit:
    a token bucket refilled in steps of at least a second that add up to this rate). Requests over the
    limit get HTTP 429."""
    burst: int | None = Field(default=None, ge=1, le=1_000_000)
    """Bucket size: how many requests may arrive at once. Default: equal to requestsPerMinute."""


class GatewayRouteSpec(Spec):
    name: DnsName
    """Name of the VirtualService http route (bound to this gateway) the rate limit applies to; the
    model release names its route after the model, so this is usually the model name."""
    path_prefix: str
    """URL path prefix of the route, e.g. /v1/models/llama3-8b; authentication is enforced on it."""
    require_auth: bool = True
    """Default: requests need a valid JWT from `jwt.issuer`; false makes the route public."""
    rate_limit: RateLimitSpec | None = None
    """Local rate limit for the route. Default: not rate limited."""


class JwtSpec(Spec):
    issuer: str
    """JWT `iss` the gateway accepts, e.g. https://auth.example.com/ (https only)."""
    jwks_uri: str
    """URL of the issuer's JSON Web Key Set (https only); istiod fetches and caches it."""
    audiences: tuple[str, ...] = ()
    """Accepted `aud` values. Default: any audience of the issuer."""


class GatewaySpec(Spec):
    enabled: bool = False
    """Install the ingress gateway and its Gateway, auth and rate-limit objects. Default: off, since it
    needs hosts, a TLS Secret and (for authenticated routes) a JWT issuer that only you can name."""
    hosts: tuple[str, ...] = ()
    """Host names the gateway serves, e.g. ['models.example.com'] or ['*.models.example.com'].
    Required when the gateway is enabled."""
    tls_secret: str | None = None
    """Name of the TLS Secret (tls.crt/tls.key) in the gateway namespace `istio-ingress`, used as the
    Gateway's credentialName. Required when the gateway is enabled; HTTP is redirected to HTTPS."""
    load_balancer: Literal["internal", "internet-facing"] = "internal"
    """Default: an internal cloud load balancer (reachable from the VPC only). `internet-facing`
    publishes the gateway (AWS NLB scheme / Alibaba SLB address type)."""
    min_replicas: int | None = Field(default=None, ge=1, le=50)
    """Gateway pods kept running (the HPA scales up to maxReplicas). Default: 2 in prod (with a
    PodDisruptionBudget), 1 elsewhere."""
    max_replicas: int = Field(default=5, ge=1, le=100)
    """Upper bound of the gateway HPA."""
    jwt: JwtSpec | None = None
    """Token issuer for routes with requireAuth. Required when any route requires auth."""
    routes: tuple[GatewayRouteSpec, ...] = ()
    """Model routes with their authentication and rate limit. Default: none."""


class IstioSpec(Spec):
    enabled: bool = True
    """Install Istio (base CRDs, istiod, mesh-wide mTLS STRICT, request telemetry)."""
    istiod_replicas: int | None = Field(default=None, ge=1, le=10)
    """istiod pods. Default: 2 in prod (with a PodDisruptionBudget, so a node drain never takes the
    control plane down), 1 elsewhere (no PDB: a single-replica PDB would block drains)."""
    gateway: GatewaySpec = GatewaySpec()
    """The API gateway: TLS entry point with JWT auth and per-route rate limits."""


class AlertReceiverSpec(Spec):
    name: DnsName
    """Receiver name, shown in Alertmanager."""
    type: Literal["slack", "pagerduty", "webhook"]
    """Where the alerts go."""
    secret_key: str
    """Key in the `gpu-platform-secrets:` config namespace holding the Slack webhook URL, PagerDuty
    routing key or webhook URL: `pulumi config set --secret gpu-platform-secrets:<key> <value>`."""
    channel: str | None = None
    """Slack channel, e.g. '#gpu-alerts' (slack only; required there)."""
    severities: tuple[Literal["critical", "warning", "info"], ...] = ("critical", "warning")
    """Alerts whose `severity` label is one of these are sent here."""


class AlertmanagerSpec(Spec):
    replicas: int | None = Field(default=None, ge=1, le=5)
    """Alertmanager pods (they gossip to deduplicate). Default: 2 in prod, 1 elsewhere."""
    receivers: tuple[AlertReceiverSpec, ...] = ()
    """Notification targets. Default: none — alerts are only visible in Alertmanager and Grafana."""


class GrafanaSpec(Spec):
    admin_password_key: str | None = None
    """Key in the `gpu-platform-secrets:` config namespace with the Grafana admin password. Default: a
    generated 32-character password (pulumi-random), exported as the secret output grafanaAdminPassword."""
    storage_gib: int = Field(default=10, ge=1, le=1024)
    """Persistent volume for Grafana's database (users, preferences, edited dashboards)."""


class PrometheusSpec(Spec):
    enabled: bool = True
    """Install kube-prometheus-stack with the GPU, mesh SLO and platform rules."""
    retention: str = "15d"
    """How long samples are kept, as a Prometheus duration (e.g. 15d, 4w)."""
    storage_gib: int = Field(default=50, ge=10, le=16384)
    """Persistent volume per Prometheus replica. Size-based retention is set to 90% of it, so a full
    disk drops the oldest data instead of stopping ingestion."""
    replicas: int | None = Field(default=None, ge=1, le=5)
    """Prometheus pods, each scraping everything. Default: 2 in prod, 1 elsewhere."""
    alertmanager: AlertmanagerSpec = AlertmanagerSpec()
    """Alertmanager replicas and receivers."""
    grafana: GrafanaSpec = GrafanaSpec()
    """Grafana admin credentials and storage."""


class LoggingSpec(Spec):
    enabled: bool = True
    """Install the ECK operator, Elasticsearch, Kibana and the Fluent Bit DaemonSet."""
    replicas: int | None = Field(default=None, ge=1, le=50)
    """Elasticsearch nodes (each master-eligible and data). Default: 3 in prod (survives one node
    loss), 1 elsewhere. 2 is rejected: two master-eligible nodes cannot elect a master after a loss."""
    storage_gib: int = Field(default=100, ge=10, le=65536)
    """Data volume per Elasticsearch node, on the encrypted StorageClass."""
    retention_days: int = Field(default=14, ge=1, le=3650)
    """Log indices older than this are deleted by an index lifecycle policy."""
    kibana_replicas: int | None = Field(default=None, ge=1, le=10)
    """Kibana pods. Default: 2 in prod, 1 elsewhere."""


class KedaSpec(AddonToggle):
    replicas: int | None = Field(default=None, ge=1, le=5)
    """KEDA operator and metrics-server pods. Default: 2 in prod, 1 elsewhere."""


class ChartSourceSpec(Spec):
    repository: str | None = None
    """A Helm repository (`https://...`) or OCI registry path (`oci://host/path`) that serves every chart of
    charts/pins.yaml under its pinned name and version, used instead of each pin's own repository: a
    mirror, or the registry of an air-gapped site."""
    directory: str | None = None
    """A local directory holding every pinned chart as `<chart>-<version>.tgz` (what `helm pull` saves),
    used instead of the repositories. A relative path is relative to the directory `pulumi` runs in (the
    project directory)."""


class AddonsSpec(Spec):
    nvidia: NvidiaAddonSpec = NvidiaAddonSpec()
    """NVIDIA device plugin, GPU feature discovery, MIG manager, DCGM exporter."""
    cluster_autoscaler: ClusterAutoscalerSpec = ClusterAutoscalerSpec()
    """Cluster autoscaler with scale-from-zero GPU node templates."""
    istio: IstioSpec = IstioSpec()
    """Istio mesh (mTLS STRICT) and the API gateway."""
    prometheus: PrometheusSpec = PrometheusSpec()
    """kube-prometheus-stack with GPU and SLO rules."""
    logging: LoggingSpec = LoggingSpec()
    """Elasticsearch, Kibana and Fluent Bit (EFK)."""
    keda: KedaSpec = KedaSpec()
    """KEDA: scales model versions on their request rate (the ScaledObjects of `autoscaling.engine: keda`)."""
    storage_class: str | None = None
    """Encrypted StorageClass for Prometheus, Alertmanager, Grafana and Elasticsearch volumes. Default:
    the encrypted class the cluster layer creates and reports (ClusterFacts.storage_class):
    `gp3-encrypted` on AWS, `alicloud-disk-essd-encrypted` on Alibaba. Required on an existing cluster
    (`cloud: existing`) while Prometheus or logging is enabled: name one of its StorageClasses."""
    chart_source: ChartSourceSpec | None = None
    """Where every Helm chart comes from instead of the repositories in charts/pins.yaml (same charts, same
    versions): `{repository: https://charts.mirror.example.com}`, `{repository: oci://registry.example.com/charts}`
    or `{directory: /srv/charts}`. Default: each chart's own repository."""


# A DNS host name, optionally a leading wildcard label ("*.models.example.com").
HOST_RE = re.compile(r"^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


# Kubernetes object names (Secrets, StorageClasses): DNS subdomain, 253 characters at most.
OBJECT_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


# A URL path prefix: starts with '/', no whitespace, wildcards or query string (Istio matches it literally).
PATH_PREFIX_RE = re.compile(r"^/[A-Za-z0-9._~!$&'()+,;=:@%/-]*$")


def _dupes(values: Iterable[str]) -> list[str]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def _https(url: str) -> bool:
    return re.match(r"^https://[^\s/]+(/\S*)?$", url) is not None


def istio(spec: StackSpec) -> Iterator[Problem]:
    ist = spec.addons.istio
    if not ist.enabled:
        return
    loc: Loc = ("addons", "istio")
    if spec.is_prod and ist.istiod_replicas == 1:
        yield (
            (*loc, "istiodReplicas"),
            (
                "1 in prod leaves the mesh without a control plane while its node "
                "drains; use 2 or more (or remove the key for the default of 2)"
            ),
        )
    if ist.gateway.enabled:
        yield from _gateway(ist.gateway, (*loc, "gateway"))


def _gateway(gw: GatewaySpec, loc: Loc) -> Iterator[Problem]:
    if not gw.hosts:
        yield (
            (*loc, "hosts"),
            (
                "empty while the gateway is enabled; list the host names it serves, "
                "e.g. ['models.example.com'], or set enabled: false"
            ),
        )
    for i, host in enumerate(gw.hosts):
        if not HOST_RE.match(host):
            yield (
                (*loc, "hosts", i),
                (
                    f"{show(host)} is not a DNS host name; write it like 'models.example.com' "
                    "or '*.models.example.com' (lowercase)"
                ),
            )
    for host in _dupes(gw.hosts):
        yield (*loc, "hosts"), f"{show(host)} is listed twice; list each host once"
    if gw.tls_secret is None:
        yield (
            (*loc, "tlsSecret"),
            (
                "required while the gateway is enabled; name the TLS Secret (tls.crt, tls.key) "
                "in namespace istio-ingress, e.g. 'models-example-com-tls'"
            ),
        )
    elif not OBJECT_NAME_RE.match(gw.tls_secret):
        yield (
            (*loc, "tlsSecret"),
            f"{show(gw.tls_secret)} is not a Kubernetes Secret name (lowercase, digits, '-', '.')",
        )
    if gw.min_replicas is not None and gw.min_replicas > gw.max_replicas:
        yield (
            (*loc, "minReplicas"),
            (f"{gw.min_replicas} is greater than maxReplicas {gw.max_replicas}; make minReplicas <= maxReplicas"),
        )
    for name in _dupes(r.name for r in gw.routes):
        yield (*loc, "routes"), f"route name {show(name)} is used twice; route names must be unique"
    for prefix in _dupes(r.path_prefix for r in gw.routes):
        yield (*loc, "routes"), f"path prefix {show(prefix)} is used by two routes; give each route its own prefix"
    for i, route in enumerate(gw.routes):
        if not PATH_PREFIX_RE.match(route.path_prefix):
            yield (
                (*loc, "routes", i, "pathPrefix"),
                (
                    f"{show(route.path_prefix)} is not a URL path prefix; start "
                    "with '/' and leave out wildcards and query strings, "
                    "e.g. '/v1/models/llama3-8b'"
                ),
            )
    auth_routes = [r.name for r in gw.routes if r.require_auth]
    if gw.jwt is None:
        if auth_routes:
            yield (
                (*loc, "jwt"),
                (
                    f"required because route(s) {', '.join(map(show, auth_routes))} require auth; "
                    "add jwt: {issuer: https://..., jwksUri: https://...} or set requireAuth: false"
                ),
            )
        return
    for key, url in (("issuer", gw.jwt.issuer), ("jwksUri", gw.jwt.jwks_uri)):
        if not _https(url):
            yield (*loc, "jwt", key), f"{show(url)} is not an https URL; tokens and keys must come over TLS"


def prometheus(spec: StackSpec) -> Iterator[Problem]:
    prom = spec.addons.prometheus
    if not prom.enabled:
        return
    loc: Loc = ("addons", "prometheus")
    if not is_duration(prom.retention):
        yield (*loc, "retention"), f"{show(prom.retention)} is not a Prometheus duration; write it like '15d' or '4w'"
    receivers = prom.alertmanager.receivers
    for name in _dupes(r.name for r in receivers):
        yield (*loc, "alertmanager", "receivers"), f"receiver name {show(name)} is used twice; names must be unique"
    for i, rcv in enumerate(receivers):
        rloc: Loc = (*loc, "alertmanager", "receivers", i)
        if rcv.type == "slack" and not rcv.channel:
            yield (*rloc, "channel"), "required for a slack receiver; add channel: '#gpu-alerts'"
        if rcv.type != "slack" and rcv.channel:
            yield (*rloc, "channel"), f"given for a {rcv.type} receiver; channel applies to slack only, remove it"
        if not CONFIG_KEY_RE.match(rcv.secret_key):
            yield (
                (*rloc, "secretKey"),
                (
                    f"{show(rcv.secret_key)} is not a config key name; use letters, digits, "
                    "'_', '-' and '.', starting with a letter"
                ),
            )
        if not rcv.severities:
            yield (*rloc, "severities"), "empty: the receiver would get no alerts; list critical, warning or info"
    key = prom.grafana.admin_password_key
    if key is not None and not CONFIG_KEY_RE.match(key):
        yield (
            (*loc, "grafana", "adminPasswordKey"),
            (f"{show(key)} is not a config key name; use letters, digits, '_', '-' and '.', starting with a letter"),
        )


def logging(spec: StackSpec) -> Iterator[Problem]:
    log = spec.addons.logging
    if not log.enabled:
        return
    loc: Loc = ("addons", "logging", "replicas")
    if log.replicas == 2:
        yield (
            loc,
            (
                "2 Elasticsearch nodes cannot elect a master after losing one (quorum is 2); "
                "use 1 for a test cluster or 3 or more"
            ),
        )
    elif spec.is_prod and log.replicas is not None and log.replicas < 3:
        yield loc, f"{log.replicas} in prod loses logging with one node; use 3 or more"


def storage_class(spec: StackSpec) -> Iterator[Problem]:
    name = spec.addons.storage_class
    if name is not None and not OBJECT_NAME_RE.match(name):
        yield ("addons", "storageClass"), f"{show(name)} is not a StorageClass name (lowercase, digits, '-', '.')"


def keda(spec: StackSpec) -> Iterator[Problem]:
    """KEDA autoscaling renders keda.sh ScaledObjects: without the add-on nothing reconciles them (and on a
    fresh cluster their CRD does not exist)."""
    if spec.addons.keda.enabled:
        return
    fix = (
        "needs the KEDA add-on, but addons.keda.enabled is false; set addons.keda.enabled: true, "
        "or engine: none for fixed replicas"
    )
    for i, m in enumerate(spec.models):
        if m.autoscaling.engine == "keda" and any(v.autoscaling is None for v in m.versions):
            yield ("models", i, "autoscaling", "engine"), f"'keda' {fix}"
        for j, v in enumerate(m.versions):
            if v.autoscaling is not None and v.autoscaling.engine == "keda":
                yield ("models", i, "versions", j, "autoscaling", "engine"), f"'keda' {fix}"


def gateway_routes(spec: StackSpec) -> Iterator[Problem]:
    """A gateway route exposes the model of the same name (its VirtualService binds to the gateway)."""
    ist = spec.addons.istio
    if not (ist.enabled and ist.gateway.enabled):
        return
    models = [m.name for m in spec.models]
    known = ", ".join(map(show, models)) if models else "none (this stack has no models)"
    for i, route in enumerate(ist.gateway.routes):
        if route.name not in models:
            yield (
                ("addons", "istio", "gateway", "routes", i, "name"),
                (
                    f"{show(route.name)} names no model; a gateway route exposes the model of the same name, "
                    f"choose one of {known}"
                ),
            )


# An https Helm repository or an OCI registry path: scheme, host, optional port and path, nothing else.
CHART_REPOSITORY_RE = re.compile(r"^(https|oci)://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[^\s?#]*)?$")


def chart_source(spec: StackSpec) -> Iterator[Problem]:
    """`addons.chartSource` names exactly one place every pinned chart comes from."""
    src = spec.addons.chart_source
    if src is None:
        return
    loc: Loc = ("addons", "chartSource")
    if (src.repository is None) == (src.directory is None):
        given = "both" if src.repository is not None else "neither"
        yield (
            loc,
            (
                f"{given} of repository and directory given; set one: repository: https://<mirror> (or "
                "oci://<registry>/<path>), or directory: <path to the pulled .tgz charts>"
            ),
        )
        return
    if src.repository is not None:
        repo = src.repository
        if repo.startswith("http://"):
            yield (
                (*loc, "repository"),
                (
                    f"{show(repo)} is plain http; charts must come over TLS: serve the mirror over "
                    "https://, or use a local directory"
                ),
            )
        elif not CHART_REPOSITORY_RE.match(repo):
            yield (
                (*loc, "repository"),
                (
                    f"{show(repo)} is not a Helm repository URL; write it like "
                    "'https://charts.mirror.example.com' or 'oci://registry.example.com/charts'"
                ),
            )
    if src.directory is not None:
        d = src.directory
        if not d.strip() or "://" in d or d != d.strip():
            yield (
                (*loc, "directory"),
                (
                    f"{show(d)} is not a directory path; write a local path like '/srv/charts' or "
                    "'../shared/charts' (for a URL use repository)"
                ),
            )


def existing_addons(spec: StackSpec) -> Iterator[Problem]:
    """On an existing cluster: the volumes need a StorageClass the config names, no node autoscaler is
    installed, and an internet-facing gateway needs the annotations that make the cluster publish it."""
    if spec.cloud != "existing":
        return
    a = spec.addons
    if a.storage_class is None and (a.prometheus.enabled or a.logging.enabled):
        users = " and ".join(
            n for n, on in (("Prometheus", a.prometheus.enabled), ("logging", a.logging.enabled)) if on
        )
        yield (
            ("addons", "storageClass"),
            (
                f"required with cloud 'existing' while {users} is enabled (their volumes need one); name a "
                "StorageClass of the cluster (kubectl get storageclass), preferably an encrypted one, e.g. "
                "storageClass: ceph-rbd-encrypted"
            ),
        )
    if a.cluster_autoscaler.model_fields_set:
        yield (
            ("addons", "clusterAutoscaler"),
            (
                "given while cloud is 'existing'; the platform installs no node autoscaler on a cluster it does not "
                "own (cluster.existing.scalesPools says whether the cluster scales its pools itself): remove "
                "clusterAutoscaler"
            ),
        )
    gw = a.istio.gateway
    ex = spec.cluster.existing
    if (
        a.istio.enabled
        and gw.enabled
        and gw.load_balancer == "internet-facing"
        and ex is not None
        and not ex.load_balancer_annotations.internet_facing
    ):
        yield (
            ("addons", "istio", "gateway", "loadBalancer"),
            (
                "'internet-facing' on an existing cluster, whose own load-balancer implementation decides where "
                "the gateway is published; give the annotations that publish it in "
                "cluster.existing.loadBalancerAnnotations.internetFacing (e.g. metallb.universe.tf/address-pool: "
                "public), or use loadBalancer: internal"
            ),
        )
