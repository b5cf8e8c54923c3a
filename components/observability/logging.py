"""LoggingStack: EFK — Elasticsearch and Kibana through the ECK operator, Fluent Bit on every node.

- ECK operator (`eck-operator` chart) as a `helm.v3.Release`: it ships the CRDs the Elasticsearch and
  Kibana objects below need, and a release keeps CRD upgrades with the operator's own history.
- `Elasticsearch` CR: N master+data nodes on the encrypted StorageClass. ECK creates the PVCs itself,
  so what we protect is the CR: `protect=True` in prod (no update or destroy can delete it), and
  `volumeClaimDeletePolicy: DeleteOnScaledownOnly` keeps the volumes if the CR is deleted anyway.
  `node.store.allow_mmap: false` avoids the privileged sysctl init container.
- Credentials are Secrets: least-privilege file-realm users (Fluent Bit may only write `k8s-logs-*`,
  the lifecycle job may only manage ILM and templates), passwords from pulumi-random; ECK keeps the
  `elastic` superuser password in `<name>-es-elastic-user`.
- Retention: a Job (Elasticsearch image, so no extra image to trust) puts an ILM policy deleting
  indices after N days and an index template attaching it to `k8s-logs-*`. Its name carries a hash of
  the policy, so a retention change runs a new Job.
- Fluent Bit (`fluent-bit` chart, a `helm.v3.Release`: one DaemonSet, its upgrade should be atomic)
  tails container logs, adds Kubernetes metadata, parses JSON model-server lines and ships them to
  Elasticsearch over TLS (CA from ECK), buffering on the node's disk while Elasticsearch is away.
  It tolerates the GPU taint so GPU nodes' logs are collected too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from components import helm
from components.scheduling import gpu_tolerations

NAMESPACE = "logging"
OPERATOR_NAMESPACE = "elastic-system"
ES_NAME = "logs"
KIBANA_NAME = "logs"
KIBANA_NAME_LABEL = "kibana.k8s.elastic.co/name"
"""The label ECK puts on a Kibana's pods, valued with the Kibana's name (ECK pkg/controller/kibana/label)."""
STACK_VERSION = "9.4.3"
"""Elasticsearch / Kibana version (the one ECK 3.5.0's samples deploy)."""
ES_IMAGE = f"docker.elastic.co/elasticsearch/elasticsearch:{STACK_VERSION}"
INDEX_PREFIX = "k8s-logs"
"""Fluent Bit writes daily indices `k8s-logs-YYYY.MM.DD` (not `logs-*`, which Elasticsearch's built-in
template would turn into a data stream)."""
ILM_POLICY = "k8s-logs-retention"
ROLES_SECRET = "logging-roles"
WRITER_SECRET = "logging-fluent-bit-user"
LIFECYCLE_SECRET = "logging-lifecycle-user"
ES_HTTP_CA_SECRET = f"{ES_NAME}-es-http-certs-public"
ES_URL = f"https://{ES_NAME}-es-http.{NAMESPACE}.svc:9200"
FLUENT_BIT_STATE = "/var/fluent-bit/state"
MODEL_JSON_PARSER = "model_json"

_RESTRICTED_CONTAINER: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
}
_ES_USER = 1000  # the uid the Elastic images run as
_JOB_USER = 10001
ILM_JOB_LABELS = {"app.kubernetes.io/name": "logging-ilm"}


@dataclass(frozen=True, slots=True)
class LoggingStackArgs:
    provider: k8s.Provider
    storage_class: str
    replicas: int = 1
    storage_gib: int = 100
    retention_days: int = 14
    kibana_replicas: int = 1
    protect_data: bool = False
    """protect=True on the Elasticsearch CR (prod)."""
    tolerations: tuple[Mapping[str, str], ...] = field(default_factory=lambda: tuple(gpu_tolerations()))
    """Taints Fluent Bit tolerates; at least the GPU taint."""
    service_monitor: bool = False
    """Render Fluent Bit's ServiceMonitor (only when prometheus-operator's CRDs exist)."""
    zone_spread: bool = False
    """Spread Elasticsearch nodes across zones (needs replicas >= zones to be useful)."""


def roles_yaml() -> str:
    roles = {
        "log_writer": {
            "cluster": ["monitor"],
            "indices": [{"names": [f"{INDEX_PREFIX}-*"], "privileges": ["create_index", "create_doc", "index"]}],
        },
        "log_lifecycle": {"cluster": ["manage_ilm", "manage_index_templates"]},
    }
    return yaml.safe_dump(roles, sort_keys=True)


def ilm_policy(retention_days: int) -> dict[str, Any]:
    return {
        "policy": {
            "phases": {
                "hot": {"min_age": "0ms", "actions": {}},
                "delete": {"min_age": f"{retention_days}d", "actions": {"delete": {}}},
            }
        }
    }


def index_template(replicas: int) -> dict[str, Any]:
    # A replica needs a second node; a single-node cluster with replicas would stay yellow forever.
    return {
        "index_patterns": [f"{INDEX_PREFIX}-*"],
        "priority": 200,
        "template": {
            "settings": {"index.lifecycle.name": ILM_POLICY, "index.number_of_replicas": 1 if replicas > 1 else 0}
        },
    }


def elasticsearch_spec(args: LoggingStackArgs) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": {
            "fsGroup": _ES_USER,
            "runAsUser": _ES_USER,
            "runAsGroup": _ES_USER,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "elasticsearch",
                # The JVM heap is sized from the memory limit (Elasticsearch 8+: half of it).
                "resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
                "securityContext": dict(_RESTRICTED_CONTAINER),
            }
        ],
    }
    if args.zone_spread:
        pod_spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"elasticsearch.k8s.elastic.co/cluster-name": ES_NAME}},
            }
        ]
    return {
        "version": STACK_VERSION,
        "volumeClaimDeletePolicy": "DeleteOnScaledownOnly",
        "auth": {
            "roles": [{"secretName": ROLES_SECRET}],
            "fileRealm": [{"secretName": WRITER_SECRET}, {"secretName": LIFECYCLE_SECRET}],
        },
        "nodeSets": [
            {
                "name": "default",
                "count": args.replicas,
                "config": {"node.roles": ["master", "data", "ingest"], "node.store.allow_mmap": False},
                "podTemplate": {"spec": pod_spec},
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "elasticsearch-data"},  # the name ECK mounts as the data path
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "storageClassName": args.storage_class,
                            "resources": {"requests": {"storage": f"{args.storage_gib}Gi"}},
                        },
                    }
                ],
            }
        ],
    }


def kibana_spec(replicas: int) -> dict[str, Any]:
    return {
        "version": STACK_VERSION,
        "count": replicas,
        "elasticsearchRef": {"name": ES_NAME},
        "podTemplate": {
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [
                    {
                        "name": "kibana",
                        "resources": {
                            "requests": {"cpu": "500m", "memory": "1Gi"},
                            "limits": {"cpu": "1", "memory": "2Gi"},
                        },
                        "securityContext": dict(_RESTRICTED_CONTAINER),
                    }
                ],
            }
        },
    }


def ilm_files(args: LoggingStackArgs) -> dict[str, str]:
    return {
        "policy.json": json.dumps(ilm_policy(args.retention_days), sort_keys=True),
        "template.json": json.dumps(index_template(args.replicas), sort_keys=True),
    }


def ilm_job_name(files: Mapping[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(dict(files), sort_keys=True).encode()).hexdigest()[:8]
    return f"logging-ilm-{digest}"


ILM_SCRIPT = f"""set -eu
# Credentials are mounted as files (not environment variables) and read only here.
auth="$(cat /etc/es-user/username):$(cat /etc/es-user/password)"
put() {{
  curl --fail --silent --show-error --retry 60 --retry-delay 10 --retry-all-errors \\
    --cacert /etc/es-ca/ca.crt -u "$auth" \\
    -X PUT -H 'Content-Type: application/json' --data "@$2" "{ES_URL}/$1"
  echo
}}
put _ilm/policy/{ILM_POLICY} /etc/ilm/policy.json
put _index_template/{INDEX_PREFIX} /etc/ilm/template.json
"""


def fluent_bit_config() -> dict[str, str]:
    """Fluent Bit pipeline (classic config sections of the chart's `config` value)."""
    return {
        "service": f"""[SERVICE]
    Daemon Off
    Flush 1
    Log_Level info
    Parsers_File /fluent-bit/etc/parsers.conf
    Parsers_File /fluent-bit/etc/conf/custom_parsers.conf
    HTTP_Server On
    HTTP_Listen 0.0.0.0
    HTTP_Port 2020
    Health_Check On
    storage.path {FLUENT_BIT_STATE}/buffer
    storage.sync normal
    storage.backlog.mem_limit 16M
""",
        "inputs": f"""[INPUT]
    Name tail
    Path /var/log/containers/*.log
    Exclude_Path /var/log/containers/fluent-bit-*.log
    multiline.parser cri, docker
    Tag kube.*
    DB {FLUENT_BIT_STATE}/tail.db
    Mem_Buf_Limit 50MB
    Skip_Long_Lines On
    storage.type filesystem
""",
        "filters": f"""[FILTER]
    Name kubernetes
    Match kube.*
    Merge_Log On
    Merge_Parser {MODEL_JSON_PARSER}
    Keep_Log Off
    Labels On
    Annotations Off
    K8S-Logging.Parser On
    K8S-Logging.Exclude On
""",
        "outputs": f"""[OUTPUT]
    Name es
    Match kube.*
    Host {ES_NAME}-es-http.{NAMESPACE}.svc
    Port 9200
    HTTP_User ${{ES_USER}}
    HTTP_Passwd ${{ES_PASSWORD}}
    tls On
    tls.verify On
    tls.ca_file /fluent-bit/tls/ca.crt
    Logstash_Format On
    Logstash_Prefix {INDEX_PREFIX}
    Suppress_Type_Name On
    Replace_Dots On
    Trace_Error On
    Retry_Limit no_limits
    storage.total_limit_size 2G
""",
        # Model servers (vLLM, Triton, our own) log one JSON object per line; `time` becomes the record
        # time. Pods can pick another parser with the fluentbit.io/parser annotation.
        "customParsers": f"""[PARSER]
    Name {MODEL_JSON_PARSER}
    Format json
    Time_Key time
    Time_Format %Y-%m-%dT%H:%M:%S.%L%z
    Time_Keep On
""",
    }


def fluent_bit_overrides(args: LoggingStackArgs) -> dict[str, Any]:
    def secret_env(name: str, key: str) -> dict[str, Any]:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": WRITER_SECRET, "key": key}}}

    return {
        "config": fluent_bit_config(),
        "env": [secret_env("ES_USER", "username"), secret_env("ES_PASSWORD", "password")],
        "tolerations": [dict(t) for t in args.tolerations],
        # Only /var/log is read (read-only); the position DB and buffer live in their own host directory.
        "daemonSetVolumes": [
            {"name": "varlog", "hostPath": {"path": "/var/log"}},
            {"name": "state", "hostPath": {"path": FLUENT_BIT_STATE, "type": "DirectoryOrCreate"}},
            {"name": "etcmachineid", "hostPath": {"path": "/etc/machine-id", "type": "File"}},
        ],
        "daemonSetVolumeMounts": [
            {"name": "varlog", "mountPath": "/var/log", "readOnly": True},
            {"name": "state", "mountPath": FLUENT_BIT_STATE},
            {"name": "etcmachineid", "mountPath": "/etc/machine-id", "readOnly": True},
        ],
        "extraVolumes": [{"name": "es-ca", "secret": {"secretName": ES_HTTP_CA_SECRET}}],
        "extraVolumeMounts": [{"name": "es-ca", "mountPath": "/fluent-bit/tls", "readOnly": True}],
        "serviceMonitor": {"enabled": args.service_monitor},
    }


def _restricted_pod() -> k8s.core.v1.PodSecurityContextArgs:
    # A high UID that maps to no user on the node (curl needs no particular user).
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=_JOB_USER,
        run_as_group=_JOB_USER,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def _restricted_container() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )


class LoggingStack(pulumi.ComponentResource):
    operator: k8s.helm.v3.Release
    """The ECK operator release (it installs the Elasticsearch and Kibana CRDs)."""
    elasticsearch: k8s.apiextensions.CustomResource

    def __init__(
        self,
        name: str,
        args: LoggingStackArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        monitoring_depends_on: Sequence[pulumi.Resource] = (),
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> None:
        """`monitoring_depends_on`: the release installing the ServiceMonitor CRD, which the Fluent Bit
        chart renders with `service_monitor` (the component's own depends_on would not order it);
        `depends_on`: what must exist before anything here is installed (ClusterFacts.ready: nodes, cluster
        DNS, the storage driver and class). Every child gets it, since a component's own depends_on would
        not hold back its children."""
        super().__init__("gpu-platform:observability:LoggingStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(depends_on))
        op_ns = k8s.core.v1.Namespace(
            f"{name}-operator-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=OPERATOR_NAMESPACE, labels={"pod-security.kubernetes.io/enforce": "restricted"}
            ),
            opts=child,
        )
        # Fluent Bit reads host paths, so this namespace is privileged; Elasticsearch and Kibana run
        # with restricted settings regardless (see their pod templates).
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE,
                labels={
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            ),
            opts=child,
        )
        operator = self.operator = helm.release(
            "elastic-operator",
            "eck-operator",
            namespace=OPERATOR_NAMESPACE,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[op_ns])),
        )
        in_ns = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[ns]))

        def user_secret(suffix: str, secret_name: str, username: str, role: str) -> k8s.core.v1.Secret:
            password = random.RandomPassword(
                f"{name}-{suffix}-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
            )
            # ECK's file realm reads basic-auth Secrets with an extra `roles` key.
            return k8s.core.v1.Secret(
                f"{name}-{suffix}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=secret_name, namespace=NAMESPACE),
                type="kubernetes.io/basic-auth",
                string_data={"username": username, "password": pulumi.Output.secret(password.result), "roles": role},
                opts=in_ns,
            )

        roles = k8s.core.v1.Secret(
            f"{name}-roles",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ROLES_SECRET, namespace=NAMESPACE),
            type="Opaque",
            string_data={"roles.yml": roles_yaml()},
            opts=in_ns,
        )
        writer = user_secret("fluent-bit-user", WRITER_SECRET, "fluent-bit", "log_writer")
        lifecycle = user_secret("lifecycle-user", LIFECYCLE_SECRET, "log-lifecycle", "log_lifecycle")

        after_operator: list[pulumi.Resource] = [operator, roles, writer, lifecycle]
        self.elasticsearch = k8s.apiextensions.CustomResource(
            f"{name}-elasticsearch",
            api_version="elasticsearch.k8s.elastic.co/v1",
            kind="Elasticsearch",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ES_NAME, namespace=NAMESPACE),
            spec=elasticsearch_spec(args),
            # Log data: never deleted by an update in prod (ECK owns the PVCs; the CR is what we can protect).
            opts=pulumi.ResourceOptions.merge(
                in_ns, pulumi.ResourceOptions(depends_on=after_operator, protect=args.protect_data)
            ),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-kibana",
            api_version="kibana.k8s.elastic.co/v1",
            kind="Kibana",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=KIBANA_NAME, namespace=NAMESPACE),
            spec=kibana_spec(args.kibana_replicas),
            # The ECK CRDs come with the operator release; Kibana also waits for its Elasticsearch.
            opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[operator, self.elasticsearch])),
        )
        if args.kibana_replicas >= 2:
            # ECK gives Elasticsearch a default PodDisruptionBudget but Kibana none; with one replica a
            # minAvailable-1 budget would block every node drain, so only from two replicas on.
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-kibana-pdb",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{KIBANA_NAME}-kb", namespace=NAMESPACE),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    min_available=1,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels={KIBANA_NAME_LABEL: KIBANA_NAME}),
                    unhealthy_pod_eviction_policy="AlwaysAllow",
                ),
                opts=in_ns,
            )

        files = ilm_files(args)
        ilm_config = k8s.core.v1.ConfigMap(
            f"{name}-ilm",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="logging-ilm", namespace=NAMESPACE),
            data=files,
            opts=in_ns,
        )
        # The job talks to Elasticsearch and DNS only; nothing talks to it.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-ilm-netpol",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="logging-ilm", namespace=NAMESPACE),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(ILM_JOB_LABELS)),
                policy_types=["Ingress", "Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"elasticsearch.k8s.elastic.co/cluster-name": ES_NAME}
                                )
                            )
                        ],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=9200, protocol="TCP")],
                    ),
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": "kube-system"}
                                )
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(port=53, protocol="UDP"),
                            k8s.networking.v1.NetworkPolicyPortArgs(port=53, protocol="TCP"),
                        ],
                    ),
                ],
            ),
            opts=in_ns,
        )
        self._ilm_job(name, ilm_job_name(files), in_ns, [self.elasticsearch, ilm_config])

        helm.release(
            "fluent-bit",
            "fluent-bit",
            namespace=NAMESPACE,
            overrides=fluent_bit_overrides(args),
            opts=pulumi.ResourceOptions.merge(
                in_ns, pulumi.ResourceOptions(depends_on=[writer, self.elasticsearch, *monitoring_depends_on])
            ),
        )
        self.register_outputs(
            {"namespace": NAMESPACE, "elasticsearchUrl": ES_URL, "kibanaService": f"{NAMESPACE}/{KIBANA_NAME}-kb-http"}
        )

    def _ilm_job(self, name: str, job_name: str, opts: pulumi.ResourceOptions, deps: Sequence[pulumi.Resource]) -> None:
        container = k8s.core.v1.ContainerArgs(
            name="ilm",
            image=ES_IMAGE,
            image_pull_policy="Always",
            command=["/bin/sh", "-c", ILM_SCRIPT],
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "50m", "memory": "64Mi"}, limits={"cpu": "200m", "memory": "128Mi"}
            ),
            security_context=_restricted_container(),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="ilm", mount_path="/etc/ilm", read_only=True),
                k8s.core.v1.VolumeMountArgs(name="es-ca", mount_path="/etc/es-ca", read_only=True),
                k8s.core.v1.VolumeMountArgs(name="es-user", mount_path="/etc/es-user", read_only=True),
            ],
        )
        k8s.batch.v1.Job(
            f"{name}-ilm-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=job_name, namespace=NAMESPACE),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=6,
                active_deadline_seconds=1800,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=dict(ILM_JOB_LABELS)),
                    spec=k8s.core.v1.PodSpecArgs(
                        restart_policy="OnFailure",
                        automount_service_account_token=False,
                        security_context=_restricted_pod(),
                        containers=[container],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="ilm", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name="logging-ilm")
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="es-ca", secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=ES_HTTP_CA_SECRET)
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="es-user",
                                secret=k8s.core.v1.SecretVolumeSourceArgs(
                                    secret_name=LIFECYCLE_SECRET,
                                    items=[
                                        k8s.core.v1.KeyToPathArgs(key="username", path="username"),
                                        k8s.core.v1.KeyToPathArgs(key="password", path="password"),
                                    ],
                                ),
                            ),
                        ],
                    ),
                ),
            ),
            # A changed policy gives a new Job name; delete the finished old Job first.
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=list(deps), delete_before_replace=True)
            ),
        )
