"""Provider- and API-side name limits, checked on the plan: what a mock never checks.

A real `pulumi preview` runs each provider's Check (the Terraform bridge applies the auto-name cap and the
Terraform schema's validation; pulumi-kubernetes and Helm validate names) and `pulumi up` then meets the
cloud API's own limits. Under the recording monitor nothing checks a name, so a plan could pass offline
with a name the first real run refuses. `check(resources)` applies the limits below to every resource of
a plan and returns one message per violation, naming the resource, the property, the value and the limit.

Names the program does not set are the provider's auto-names, computed the way the providers do:

- Terraform-bridged providers (pulumi-aws, pulumi-alicloud): `<logical name>-` + 7 random hex characters
  (pulumi-terraform-bridge tfbridge.AutoName: Randlen 7), capped by the provider's AutoName maxlen
  (pulumi-aws provider/autonaming.go: 255 unless resources.go says otherwise, e.g. iam Role 64);
  resource.NewUniqueName refuses "name '<prefix>' plus 7 random chars is longer than maximum length N".
- A `*_prefix` property: Terraform appends id.UniqueIDSuffixLength = 26 characters
  (terraform-plugin-sdk helper/id), so the full name is the prefix + 26.
- pulumi-kubernetes: metadata.name `<logical name>-` + 8 hex (provider pkg/metadata/naming.go
  AssignNameIfAutonamable: NewUniqueName(prefix, 0, 0) -> 8); a Helm Release's name the same way
  (pkg/provider/helm_release.go assignNameIfAutonameable: NewUniqueHex(prefix, 0, 0) -> 8).

Values a preview cannot know (`<computed>`) are skipped, as the real preview skips them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tools.offline.reference_outputs import COMPUTED, SECRET

TF_AUTONAME_SUFFIX = 8  # "-" + 7 hex (tfbridge.AutoName Randlen 7)
TF_PREFIX_SUFFIX = 26  # terraform-plugin-sdk helper/id UniqueIDSuffixLength
K8S_AUTONAME_SUFFIX = 9  # "-" + 8 hex

# Kubernetes name shapes (k8s.io/apimachinery pkg/util/validation/validation.go).
DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*"
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
QUALIFIED_NAME_PART = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

_APIMACHINERY = "k8s.io/apimachinery pkg/util/validation"


@dataclass(frozen=True)
class Name:
    """A physical name in `prop`; when the program leaves it unset and `auto_suffix` > 0, the provider's
    auto-name (logical name + suffix) is checked instead, unless one of `conflicts` is set (the bridge
    does not auto-name a property whose ConflictsWith partner is set)."""

    prop: str
    max_len: int
    source: str
    min_len: int = 1
    pattern: str | None = None
    allowed: str = ""
    auto_suffix: int = 0
    auto_cap: int = 0  # the provider's own cap on the auto-name (tfbridge AutoName maxlen), if lower
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prefix:
    """A name prefix to which the provider appends `suffix` characters; the full name must fit `max_len`."""

    prop: str
    max_len: int
    source: str
    suffix: int = TF_PREFIX_SUFFIX
    pattern: str | None = None
    allowed: str = ""


Rule = Name | Prefix

_NO_HTTP = r"(?!https?://).*"

# Type token -> rules. Only types this program creates; a type missing here is reported by
# tests/plan/test_name_limits.py when a plan contains it, so the table grows with the program.
LIMITS: dict[str, tuple[Rule, ...]] = {
    # -- AWS ------------------------------------------------------------------------------------------
    "aws:iam/role:Role": (
        # pulumi-aws resources.go aws_iam_role: tfbridge.AutoName("name", 64, "-"); IAM API: RoleName 1-64
        # of [\w+=,.@-] (IAM User Guide "IAM object quotas"/"Using_Identifiers", linked from the SDK docstring).
        Name(
            "name",
            64,
            "IAM RoleName (IAM quotas; pulumi-aws AutoName maxlen 64)",
            pattern=r"[\w+=,.@-]+",
            allowed="letters, digits and +=,.@_-",
            auto_suffix=TF_AUTONAME_SUFFIX,
            conflicts=("namePrefix",),
        ),
        # 64 - 26: the provider's name_prefix validation (the brief's "name_prefix <= 38").
        Prefix("namePrefix", 64, "IAM RoleName 64 = prefix + 26 (terraform-provider-aws validRolePrefix)"),
    ),
    "aws:iam/rolePolicy:RolePolicy": (
        # terraform-provider-aws iam role_policy: name StringLenBetween(1, 128), [\w+=,.@-]; auto-named by
        # pulumi-aws setAutonaming (maxlen 255, so only the API limit bites).
        Name(
            "name",
            128,
            "IAM inline policy name (terraform-provider-aws aws_iam_role_policy validation)",
            pattern=r"[\w+=,.@-]+",
            allowed="letters, digits and +=,.@_-",
            auto_suffix=TF_AUTONAME_SUFFIX,
            conflicts=("namePrefix",),
        ),
        Prefix("namePrefix", 128, "IAM inline policy name 128 = prefix + 26"),
    ),
    "aws:iam/policy:Policy": (
        Name(
            "name",
            128,
            "IAM PolicyName 1-128 (IAM quotas)",
            pattern=r"[\w+=,.@-]+",
            allowed="letters, digits and +=,.@_-",
            auto_suffix=TF_AUTONAME_SUFFIX,
            conflicts=("namePrefix",),
        ),
        Prefix("namePrefix", 128, "IAM PolicyName 128 = prefix + 26 (name_prefix <= 102)"),
    ),
    "aws:iam/instanceProfile:InstanceProfile": (
        Name(
            "name",
            128,
            "IAM InstanceProfileName 1-128 (pulumi_aws iam/instance_profile.py docstring: [\\w+=,.@-])",
            pattern=r"[\w+=,.@-]+",
            allowed="letters, digits and +=,.@_-",
            auto_suffix=TF_AUTONAME_SUFFIX,
            conflicts=("namePrefix",),
        ),
        Prefix("namePrefix", 128, "IAM InstanceProfileName 128 = prefix + 26"),
    ),
    "aws:eks/cluster:Cluster": (
        # pulumi_aws eks/cluster.py docstring: 1-100 characters, ^[0-9A-Za-z][A-Za-z0-9\-_]*$.
        Name(
            "name",
            100,
            "pulumi_aws eks/cluster.py docstring",
            pattern=r"[0-9A-Za-z][A-Za-z0-9\-_]*",
            allowed="letters, digits, - and _, starting with a letter or digit",
            auto_suffix=TF_AUTONAME_SUFFIX,
        ),
    ),
    "aws:eks/nodeGroup:NodeGroup": (
        # pulumi_aws eks/node_group.py docstring: node_group_name <= 63, starts with a letter or digit, then
        # letters, digits, - and _. Unset (with no prefix) Terraform names it "terraform-" + 26: fits.
        Name(
            "nodeGroupName",
            63,
            "EKS node group name (pulumi_aws eks/node_group.py docstring)",
            pattern=r"[0-9A-Za-z][A-Za-z0-9\-_]*",
            allowed="letters, digits, - and _, starting with a letter or digit",
        ),
        Prefix(
            "nodeGroupNamePrefix",
            63,
            "EKS node group name 63 = prefix + 26 (pulumi_aws eks/node_group.py docstring)",
            pattern=r"[0-9A-Za-z][A-Za-z0-9\-_]*",
            allowed="letters, digits, - and _, starting with a letter or digit",
        ),
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": (
        # EC2 CreateLaunchTemplate LaunchTemplateName: 3-128 of [a-zA-Z0-9().\-/_] (EC2 API reference;
        # terraform-provider-aws validLaunchTemplateName / name_prefix <= 99 = 125 - 26).
        Name(
            "name",
            128,
            "EC2 LaunchTemplateName 3-128 (EC2 API reference)",
            min_len=3,
            pattern=r"[a-zA-Z0-9().\-/_]+",
            allowed="letters, digits and ().-/_",
            auto_suffix=TF_AUTONAME_SUFFIX,
            conflicts=("namePrefix",),
        ),
        Prefix(
            "namePrefix",
            125,
            "terraform-provider-aws launch template name_prefix <= 99 (+ 26)",
            pattern=r"[a-zA-Z0-9().\-/_]+",
            allowed="letters, digits and ().-/_",
        ),
    ),
    "aws:ec2/securityGroup:SecurityGroup": (
        Name(
            "name",
            255,
            "EC2 GroupName <= 255 (EC2 API reference)",
            auto_suffix=TF_AUTONAME_SUFFIX,
            conflicts=("namePrefix",),
        ),
        Prefix("namePrefix", 255, "EC2 GroupName 255 = prefix + 26 (name_prefix <= 100 in the provider)"),
    ),
    # Issue 18 (Karpenter's interruption path, EFA placement groups). From the services' API references
    # (SQS CreateQueue QueueName, EventBridge PutRule Name / Target Id, EC2 CreatePlacementGroup GroupName);
    # not in ../shared/reference.
    "aws:sqs/queue:Queue": (
        Name(
            "name",
            80,
            "SQS CreateQueue QueueName: 1-80 letters, digits, - and _ (SQS API reference)",
            pattern=r"[A-Za-z0-9_-]+",
            allowed="letters, digits, - and _",
            auto_suffix=TF_AUTONAME_SUFFIX,
            conflicts=("namePrefix",),
        ),
        Prefix("namePrefix", 80, "SQS QueueName 80 = prefix + 26"),
    ),
    "aws:cloudwatch/eventRule:EventRule": (
        Name(
            "name",
            64,
            "EventBridge PutRule Name: 1-64 of [.-_A-Za-z0-9] (EventBridge API reference)",
            pattern=r"[.\-_A-Za-z0-9]+",
            allowed="letters, digits and .-_",
            auto_suffix=TF_AUTONAME_SUFFIX,
            conflicts=("namePrefix",),
        ),
        Prefix("namePrefix", 64, "EventBridge rule Name 64 = prefix + 26"),
    ),
    "aws:cloudwatch/eventTarget:EventTarget": (
        Name(
            "targetId",
            64,
            "EventBridge Target Id: 1-64 of [.-_A-Za-z0-9] (EventBridge API reference)",
            pattern=r"[.\-_A-Za-z0-9]+",
            allowed="letters, digits and .-_",
        ),
    ),
    "aws:ec2/placementGroup:PlacementGroup": (
        Name(
            "name",
            255,
            "EC2 CreatePlacementGroup GroupName <= 255 (EC2 API reference)",
            auto_suffix=TF_AUTONAME_SUFFIX,
        ),
    ),
    "aws:s3/bucket:Bucket": (
        # pulumi_aws s3/bucket.py docstring: bucket lowercase, <= 63; bucket_prefix <= 37; S3 User Guide
        # "Bucket naming rules": 3-63, lowercase letters, digits, dots and hyphens, begin and end with a
        # letter or digit, no "..", not an IP address, no xn-- / sthree- prefix, no -s3alias / --ol-s3 suffix.
        Name(
            "bucket",
            63,
            "S3 bucket naming rules (pulumi_aws s3/bucket.py docstring)",
            min_len=3,
            pattern=(
                r"(?!xn--|sthree-|amzn-s3-demo-)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)"
                r"(?!.*(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$)[a-z0-9][a-z0-9.-]*[a-z0-9]"
            ),
            allowed="lowercase letters, digits, . and -, starting and ending with a letter or digit",
            auto_suffix=TF_AUTONAME_SUFFIX,
            auto_cap=63,
            conflicts=("bucketPrefix",),
        ),
        Prefix(
            "bucketPrefix",
            63,
            "S3 bucket name 63 = bucket_prefix (<= 37, pulumi_aws s3/bucket.py docstring) + 26",
            pattern=r"[a-z0-9][a-z0-9.-]*",
            allowed="lowercase letters, digits, . and -",
        ),
    ),
    "aws:kms/alias:Alias": (
        # KMS CreateAlias AliasName: 1-256, ^alias/[a-zA-Z0-9/_-]+$, not alias/aws/ (KMS API reference;
        # pulumi_aws kms/alias.py docstring: must start with "alias/").
        Name(
            "name",
            256,
            "KMS AliasName (KMS API reference; pulumi_aws kms/alias.py docstring)",
            pattern=r"alias/(?!aws/)[a-zA-Z0-9/_-]+",
            allowed="'alias/' then letters, digits, /, _ and - (not alias/aws/)",
            conflicts=("namePrefix",),
        ),
        Prefix(
            "namePrefix",
            256,
            "KMS AliasName 256 = prefix + 26",
            pattern=r"alias/(?!aws/)[a-zA-Z0-9/_-]*",
            allowed="'alias/' then letters, digits, /, _ and -",
        ),
    ),
    "aws:cloudwatch/logGroup:LogGroup": (
        # CloudWatch Logs CreateLogGroup logGroupName: 1-512 of [\.\-_/#A-Za-z0-9] (Logs API reference).
        Name(
            "name",
            512,
            "CloudWatch Logs logGroupName (Logs API reference)",
            pattern=r"[.\-_/#A-Za-z0-9]+",
            allowed="letters, digits and .-_/#",
            auto_suffix=TF_AUTONAME_SUFFIX,
            conflicts=("namePrefix",),
        ),
        Prefix("namePrefix", 512, "CloudWatch Logs logGroupName 512 = prefix + 26"),
    ),
    "aws:ecr/repository:Repository": (
        # ECR CreateRepository repositoryName: 2-256, lowercase,
        # (?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)* (ECR API reference).
        Name(
            "name",
            256,
            "ECR repositoryName (ECR API reference)",
            min_len=2,
            pattern=r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*",
            allowed="lowercase path segments of letters and digits joined by . _ -",
            auto_suffix=TF_AUTONAME_SUFFIX,
        ),
    ),
    # -- Alibaba Cloud ---------------------------------------------------------------------------------
    # pulumi-alicloud provider/resources.go SetAutonaming(255, "-") (../shared/reference/alicloud-ack.md
    # "Auto-naming"): an unset top-level `name` is auto-named unless its ExactlyOneOf/ConflictsWith
    # partner is set. Limits from the pulumi_alicloud docstrings where they state one, else the Alibaba
    # Cloud API reference of the create call.
    "alicloud:vpc/network:Network": (
        Name(
            "vpcName",
            128,
            "pulumi_alicloud vpc/network.py docstring (1-128, not http(s)://)",
            pattern=_NO_HTTP,
            allowed="any text not starting with http:// or https://",
        ),
    ),
    "alicloud:vpc/switch:Switch": (
        Name(
            "vswitchName",
            128,
            "pulumi_alicloud vpc/switch.py docstring (1-128, not http(s)://)",
            pattern=_NO_HTTP,
            allowed="any text not starting with http:// or https://",
        ),
    ),
    "alicloud:vpc/natGateway:NatGateway": (
        Name(
            "natGatewayName",
            128,
            "pulumi_alicloud vpc/nat_gateway.py docstring (2-128)",
            min_len=2,
            pattern=r"(?!https?://)[A-Za-z0-9._][A-Za-z0-9._-]*[A-Za-z0-9._]",
            allowed="letters, digits and - . _, not starting or ending with -",
        ),
    ),
    "alicloud:vpc/routeTable:RouteTable": (
        Name(
            "routeTableName",
            128,
            "VPC CreateRouteTable RouteTableName 1-128, not http(s):// (VPC API reference)",
            pattern=_NO_HTTP,
            allowed="any text not starting with http:// or https://",
        ),
    ),
    "alicloud:vpc/routeEntry:RouteEntry": (
        Name(
            "name",
            128,
            "pulumi_alicloud vpc/route_entry.py docstring (1-128, not http(s)://)",
            pattern=_NO_HTTP,
            allowed="any text not starting with http:// or https://",
            auto_suffix=TF_AUTONAME_SUFFIX,
        ),
    ),
    "alicloud:vpc/snatEntry:SnatEntry": (
        Name(
            "snatEntryName",
            128,
            "pulumi_alicloud vpc/snat_entry.py docstring (2-128, starts with a letter, not http(s)://)",
            min_len=2,
            pattern=r"(?!https?://)[A-Za-z].*",
            allowed="starting with a letter",
        ),
    ),
    "alicloud:ecs/eipAddress:EipAddress": (
        Name(
            "addressName",
            128,
            "pulumi_alicloud ecs/eip_address.py docstring (1-128, starts with a letter)",
            pattern=r"[A-Za-z][A-Za-z0-9._-]*",
            allowed="letters, digits and . _ -, starting with a letter",
        ),
    ),
    "alicloud:cs/managedKubernetes:ManagedKubernetes": (
        # ACK CreateCluster `name`: 1-63 characters of letters, digits, Chinese characters and -, not
        # starting with - (ACK API reference).
        Name(
            "name",
            63,
            "ACK CreateCluster name (ACK API reference)",
            pattern=r"[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9\u4e00-\u9fff-]*",
            allowed="letters, digits, Chinese characters and -, not starting with -",
            auto_suffix=TF_AUTONAME_SUFFIX,
            conflicts=("namePrefix",),
        ),
    ),
    "alicloud:cs/nodePool:NodePool": (
        # ACK CreateClusterNodePool nodepool_info.name: 1-63 of letters, digits, Chinese characters and -,
        # not starting with - (ACK API reference).
        Name(
            "nodePoolName",
            63,
            "ACK CreateClusterNodePool nodepool_info.name (ACK API reference)",
            pattern=r"[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9\u4e00-\u9fff-]*",
            allowed="letters, digits, Chinese characters and -, not starting with -",
        ),
    ),
    "alicloud:ram/role:Role": (
        # RAM CreateRole RoleName: 1-64 of letters, digits, . and - (RAM API reference).
        Name(
            "roleName",
            64,
            "RAM CreateRole RoleName (RAM API reference)",
            pattern=r"[A-Za-z0-9.-]+",
            allowed="letters, digits, . and -",
        ),
        Name(
            "name",
            64,
            "RAM CreateRole RoleName (RAM API reference; `name` is the deprecated spelling)",
            pattern=r"[A-Za-z0-9.-]+",
            allowed="letters, digits, . and -",
            auto_suffix=TF_AUTONAME_SUFFIX,
            conflicts=("roleName",),
        ),
    ),
    "alicloud:ram/policy:Policy": (
        Name(
            "policyName",
            128,
            "pulumi_alicloud ram/policy.py docstring (1-128, letters, digits and -)",
            pattern=r"[A-Za-z0-9-]+",
            allowed="letters, digits and -",
        ),
    ),
    "alicloud:cr/namespace:Namespace": (
        # ACR Personal Edition CreateNamespace: 2-30 of lowercase letters, digits, _ and -, not starting or
        # ending with a separator (ACR API reference).
        Name(
            "name",
            30,
            "ACR Personal Edition namespace name (ACR API reference)",
            min_len=2,
            pattern=r"[a-z0-9]([a-z0-9_-]*[a-z0-9])?",
            allowed="lowercase letters, digits, _ and -, starting and ending with a letter or digit",
        ),
    ),
    "alicloud:cr/repo:Repo": (
        # ACR CreateRepo RepoName: 2-64 of lowercase letters, digits and the separators _ - ., not starting
        # or ending with a separator (ACR API reference; same wording as pulumi_alicloud cr/chain.py).
        Name(
            "name",
            64,
            "ACR repository name (ACR API reference)",
            min_len=2,
            pattern=r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?",
            allowed="lowercase letters, digits, _ - ., starting and ending with a letter or digit",
        ),
    ),
    "alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace": (
        Name(
            "name",
            120,
            "pulumi_alicloud cs/registry_enterprise_namespace.py docstring (2-120)",
            min_len=2,
            pattern=r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?",
            allowed="lowercase letters, digits, _ - ., starting and ending with a letter or digit",
        ),
    ),
    "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo": (
        Name(
            "name",
            64,
            "ACR Enterprise Edition CreateRepository RepoName 2-64 (ACR API reference)",
            min_len=2,
            pattern=r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?",
            allowed="lowercase letters, digits, _ - ., starting and ending with a letter or digit",
        ),
    ),
    "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance": (
        # ACR CreateInstance InstanceName: 3-30 of letters, digits and -, starting with a letter or digit
        # (ACR API reference).
        Name(
            "instanceName",
            30,
            "ACR Enterprise Edition InstanceName (ACR API reference)",
            min_len=3,
            pattern=r"[A-Za-z0-9][A-Za-z0-9-]*",
            allowed="letters, digits and -, starting with a letter or digit",
        ),
    ),
    # -- Helm ------------------------------------------------------------------------------------------
    "kubernetes:helm.sh/v3:Release": (
        # helm.sh/helm/v3 pkg/chartutil/validate_name.go ValidateReleaseName: <= 53, DNS-1123 subdomain shape.
        Name(
            "name",
            53,
            "Helm release name (helm pkg/chartutil ValidateReleaseName)",
            pattern=DNS1123_SUBDOMAIN,
            allowed="lowercase letters, digits, - and ., starting and ending with a letter or digit",
            auto_suffix=K8S_AUTONAME_SUFFIX,
        ),
        Name(
            "namespace",
            63,
            "Namespace name: DNS-1123 label (k8s ValidateNamespaceName)",
            pattern=DNS1123_LABEL,
            allowed="lowercase letters, digits and -, starting and ending with a letter or digit",
        ),
    ),
}

# metadata.name per Kubernetes kind (k8s.io/kubernetes pkg/apis/*/validation): most kinds are DNS-1123
# subdomains (<= 253); these are stricter. Custom resources are validated as subdomains by the apiserver
# (apiextensions customResourceStrategy), plus what their operator's webhook refuses.
_K8S_LABEL = (
    "DNS-1123 label",
    63,
    DNS1123_LABEL,
    "lowercase letters, digits and -, starting and ending with a letter or digit",
)
_K8S_NAMES: dict[str, tuple[str, int, str, str]] = {
    "core/v1:Namespace": _K8S_LABEL,  # core/validation ValidateNamespaceName
    # core/validation ValidateServiceName = NameIsDNS1035Label: starts with a letter.
    "core/v1:Service": (
        "DNS-1035 label",
        63,
        DNS1035_LABEL,
        "lowercase letters, digits and -, starting with a letter and ending with a letter or digit",
    ),
    # batch/validation ValidateJob: the apiserver labels the pod template job-name=<name>, a label value.
    "batch/v1:Job": _K8S_LABEL,
    # ECK webhooks (elastic/cloud-on-k8s commonv1.CheckNameLength, MaxElasticsearchNameLength): 36, the
    # operator suffixes derived names within a 63-character label.
    "elasticsearch.k8s.elastic.co/v1:Elasticsearch": ("ECK name", 36, DNS1123_SUBDOMAIN, "a DNS-1123 subdomain"),
    "kibana.k8s.elastic.co/v1:Kibana": ("ECK name", 36, DNS1123_SUBDOMAIN, "a DNS-1123 subdomain"),
}
_K8S_SUBDOMAIN = ("DNS-1123 subdomain", 253, DNS1123_SUBDOMAIN, "lowercase letters, digits, - and .")


@dataclass(frozen=True)
class Violation:
    type: str
    name: str
    prop: str
    value: str
    problem: str
    source: str

    def __str__(self) -> str:
        return f"{self.type} '{self.name}': {self.prop} {self.value} {self.problem} [{self.source}]"


def _get(inputs: Mapping[str, Any], path: str) -> Any:
    node: Any = inputs
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _unknown(value: Any) -> bool:
    return value in (COMPUTED, SECRET) or (isinstance(value, str) and "<computed>" in value)


def _shape(value: str, min_len: int, max_len: int, pattern: str | None, allowed: str) -> str | None:
    if len(value) > max_len:
        return f"is {len(value)} characters; at most {max_len} allowed"
    if len(value) < min_len:
        return f"is {len(value)} characters; at least {min_len} required"
    if pattern is not None and not re.fullmatch(pattern, value):
        return f"is not allowed: use {allowed}"
    return None


def _check_rule(r: Mapping[str, Any], rule: Rule) -> Iterator[Violation]:
    inputs: Mapping[str, Any] = r["inputs"]
    value = _get(inputs, rule.prop)
    if _unknown(value):
        return
    if isinstance(rule, Prefix):
        if not isinstance(value, str):
            return
        full = len(value) + rule.suffix
        if full > rule.max_len:
            yield Violation(
                r["type"],
                r["name"],
                rule.prop,
                repr(value),
                f"is {len(value)} characters; the provider appends {rule.suffix}, making {full}: at most "
                f"{rule.max_len} allowed, so the prefix may have {rule.max_len - rule.suffix}",
                rule.source,
            )
        elif rule.pattern is not None and not re.fullmatch(rule.pattern, value):
            yield Violation(
                r["type"], r["name"], rule.prop, repr(value), f"is not allowed: use {rule.allowed}", rule.source
            )
        return
    if isinstance(value, str):
        problem = _shape(value, rule.min_len, rule.max_len, rule.pattern, rule.allowed)
        if problem:
            yield Violation(r["type"], r["name"], rule.prop, repr(value), problem, rule.source)
        return
    if value is not None or not rule.auto_suffix or any(_get(inputs, c) is not None for c in rule.conflicts):
        return
    random = rule.auto_suffix - 1
    auto = f"{r['name']}-{'0' * random}"
    shown = f"(auto-named: {r['name']!r} + '-' + {random} random hex = {len(auto)} characters)"
    cap = min(rule.max_len, rule.auto_cap or rule.max_len)
    if len(auto) > cap:
        yield Violation(
            r["type"],
            r["name"],
            rule.prop,
            shown,
            f"is longer than {cap}: shorten the logical name to {cap - rule.auto_suffix} characters or set "
            f"{rule.prop} explicitly",
            rule.source,
        )
        return
    problem = _shape(auto, rule.min_len, cap, rule.pattern, rule.allowed)
    if problem:
        yield Violation(r["type"], r["name"], rule.prop, shown, problem, rule.source)


def _label_problems(labels: Any, where: str) -> Iterator[tuple[str, str, str]]:
    if not isinstance(labels, Mapping):
        return
    for key, value in labels.items():
        yield from _key_problems(str(key), f"{where}[{key!r}]")
        if isinstance(value, str) and not _unknown(value):
            problem = _shape(
                value, 0, 63, LABEL_VALUE, "letters, digits, - _ ., starting and ending with a letter or digit"
            )
            if problem:
                yield f"{where}[{key!r}]", repr(value), problem


def _key_problems(key: str, where: str) -> Iterator[tuple[str, str, str]]:
    prefix, _, name = key.rpartition("/")
    problem = _shape(
        name, 1, 63, QUALIFIED_NAME_PART, "letters, digits, - _ ., starting and ending with a letter or digit"
    )
    if problem:
        yield where, f"key {key!r} (name part {name!r})", problem
    if prefix:
        problem = _shape(prefix, 1, 253, DNS1123_SUBDOMAIN, "a DNS-1123 subdomain")
        if problem:
            yield where, f"key {key!r} (prefix {prefix!r})", problem


def _check_kubernetes(r: Mapping[str, Any]) -> Iterator[Violation]:
    kind = r["type"].removeprefix("kubernetes:")
    what, max_len, pattern, allowed = _K8S_NAMES.get(kind, _K8S_SUBDOMAIN)
    source = f"Kubernetes metadata.name: {what} ({_APIMACHINERY}; k8s.io/kubernetes pkg/apis/*/validation)"
    inputs: Mapping[str, Any] = r["inputs"]
    name = _get(inputs, "metadata.name")
    if isinstance(name, str) and not _unknown(name):
        problem = _shape(name, 1, max_len, pattern, allowed)
        if problem:
            yield Violation(r["type"], r["name"], "metadata.name", repr(name), problem, source)
    elif name is None and _get(inputs, "metadata.generateName") is None:
        auto = f"{r['name']}-{'0' * (K8S_AUTONAME_SUFFIX - 1)}"
        problem = _shape(auto, 1, max_len, pattern, allowed)
        if problem:
            shown = f"(auto-named: {r['name']!r} + '-' + 8 random hex = {len(auto)} characters)"
            yield Violation(r["type"], r["name"], "metadata.name", shown, problem, source)
    namespace = _get(inputs, "metadata.namespace")
    if isinstance(namespace, str) and not _unknown(namespace):
        problem = _shape(namespace, 1, 63, DNS1123_LABEL, _K8S_LABEL[3])
        if problem:
            yield Violation(
                r["type"], r["name"], "metadata.namespace", repr(namespace), problem, "Namespace name: DNS-1123 label"
            )
    label_source = f"Kubernetes labels and annotation keys ({_APIMACHINERY} IsQualifiedName / IsValidLabelValue)"
    for base in ("metadata", "spec.template.metadata", "spec.selector.matchLabels"):
        labels = _get(inputs, base) if base.endswith("matchLabels") else _get(inputs, f"{base}.labels")
        for where, value, problem in _label_problems(
            labels, base if base.endswith("matchLabels") else f"{base}.labels"
        ):
            yield Violation(r["type"], r["name"], where, value, problem, label_source)
        if not base.endswith("matchLabels"):
            annotations = _get(inputs, f"{base}.annotations")
            if isinstance(annotations, Mapping):
                for key in annotations:
                    for where, value, problem in _key_problems(str(key), f"{base}.annotations[{key!r}]"):
                        yield Violation(r["type"], r["name"], where, value, problem, label_source)


def is_kubernetes_object(type_: str) -> bool:
    return type_.startswith("kubernetes:") and not type_.startswith(("kubernetes:helm.sh/", "kubernetes:yaml"))


def check(resources: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """Every name limit the providers and APIs would enforce that a resource of the plan breaks."""
    out: list[Violation] = []
    for r in resources:
        if not r.get("custom") or r.get("read"):
            continue
        for rule in LIMITS.get(r["type"], ()):
            out.extend(_check_rule(r, rule))
        if is_kubernetes_object(r["type"]):
            out.extend(_check_kubernetes(r))
    return out


class NameLimitError(Exception):
    """The plan names something a provider or cloud API refuses; str() lists every violation."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        lines = "\n".join(f"  - {v}" for v in violations)
        super().__init__(
            f"{len(violations)} name(s) the providers or cloud APIs refuse (a real preview or up fails):\n{lines}"
        )
