"""Cross-field rules over a structurally valid StackSpec.

Each rule yields (key path, message) pairs; `check(spec)` runs them all so a stack file gets every
problem in one go. Messages say what was received, what is allowed, and how to fix it.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import TypeAlias

from stacks.errors import show
from stacks.spec_models import KUBERNETES_VERSIONS, GpuSpec, StackSpec

Loc: TypeAlias = tuple[str | int, ...]
Problem: TypeAlias = tuple[Loc, str]
Rule: TypeAlias = Callable[[StackSpec], Iterable[Problem]]

RULES: list[Rule] = []
# Rules that derive facts from other parts of the spec (pool shapes, capacity) and run only when those
# parts passed their own rules: a rule never has to cope with, or crash on, input another rule rejects.
DEPENDENT: list[tuple[Rule, tuple[str, ...]]] = []

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy API).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# Kubernetes label / taint key: optional DNS prefix, then a name of up to 63 characters.
LABEL_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
IMAGE_DIGEST_RE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*@sha256:[a-f0-9]{64}$")
AWS_PRINCIPAL_RE = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(role|user|assumed-role)/[\w+=,.@/-]+$")


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def rule_after(*keys: str) -> Callable[[Rule], Rule]:
    """Register a rule that runs only when no problem was found under the given top-level keys."""

    def register(fn: Rule) -> Rule:
        DEPENDENT.append((fn, keys))
        return fn

    return register


def check(spec: StackSpec) -> list[Problem]:
    problems = [p for r in RULES for p in r(spec)]
    failed = {str(loc[0]) for loc, _ in problems if loc}
    for fn, keys in DEPENDENT:
        if not failed.intersection(keys):
            problems += list(fn(spec))
    return problems


def _dupes(values: Iterable[str]) -> set[str]:
    return {v for v, n in Counter(values).items() if n > 1}


@rule
def zones(spec: StackSpec) -> Iterator[Problem]:
    for i, zone in enumerate(spec.zones):
        if not zone.startswith(spec.region):
            yield (
                ("zones", i),
                (f"{show(zone)} is not a zone of region {show(spec.region)}; use zones named {spec.region}<letter>"),
            )
    for zone in sorted(_dupes(spec.zones)):
        yield ("zones",), f"{show(zone)} is listed twice; list each zone once"
    need = 2 if (spec.cloud == "aws" or spec.is_prod) else 1
    if len(set(spec.zones)) < need:
        why = "EKS needs subnets in two zones" if spec.cloud == "aws" else "prod must survive a zone outage"
        yield ("zones",), f"{len(set(spec.zones))} zone(s) given; at least {need} required ({why}); add a zone"


@rule
def cluster(spec: StackSpec) -> Iterator[Problem]:
    c = spec.cluster
    if c.kubernetes_version not in KUBERNETES_VERSIONS:
        yield (
            ("cluster", "kubernetesVersion"),
            (f"{show(c.kubernetes_version)} is not supported; choose one of " + ", ".join(KUBERNETES_VERSIONS)),
        )
    if spec.cloud == "alicloud" and not 1 <= c.log_retention_days <= 3650:
        yield (
            ("cluster", "logRetentionDays"),
            (f"{c.log_retention_days} is outside 1..3650 days (Log Service TTL); choose a value in that range"),
        )
    if spec.cloud == "aws" and c.log_retention_days not in LOG_RETENTION_DAYS:
        near = min(LOG_RETENTION_DAYS, key=lambda d: abs(d - c.log_retention_days))
        yield (
            ("cluster", "logRetentionDays"),
            (
                f"{c.log_retention_days} is not a CloudWatch retention period; "
                f"use {near} (allowed: {', '.join(map(str, LOG_RETENTION_DAYS))})"
            ),
        )
    if spec.cloud == "aws":
        for i, arn in enumerate(c.admin_principals):
            if not AWS_PRINCIPAL_RE.match(arn):
                yield (
                    ("cluster", "adminPrincipals", i),
                    (
                        f"{show(arn)} is not an IAM role or user ARN; write it like "
                        "'arn:aws:iam::123456789012:role/platform-admin'"
                    ),
                )


@rule
def network(spec: StackSpec) -> Iterator[Problem]:
    net = spec.cluster.network
    vpc = ipaddress.ip_network(net.vpc_cidr)
    svc = ipaddress.ip_network(net.service_cidr)
    loc: Loc = ("cluster", "network")
    if not 16 <= vpc.prefixlen <= 20:
        yield (
            (*loc, "vpcCidr"),
            (
                f"{show(net.vpc_cidr)} has prefix /{vpc.prefixlen}; use a /16 to /20 "
                "(each zone needs a large private subnet for pod IPs)"
            ),
        )
    if vpc.overlaps(svc):
        yield (
            (*loc, "serviceCidr"),
            (
                f"{show(net.service_cidr)} overlaps vpcCidr {show(net.vpc_cidr)}; "
                "choose a Service CIDR outside the VPC, e.g. '172.20.0.0/16'"
            ),
        )
    if not vpc.is_private:
        yield (*loc, "vpcCidr"), f"{show(net.vpc_cidr)} is not a private (RFC 1918) range; use e.g. '10.0.0.0/16'"
    if len(spec.zones) > 6:
        yield ("zones",), f"{len(spec.zones)} zones given; at most 6 fit the subnet plan"


@rule
def endpoint(spec: StackSpec) -> Iterator[Problem]:
    e = spec.cluster.endpoint
    loc: Loc = ("cluster", "endpoint")
    if not e.private_access and not e.public_access:
        yield (
            (*loc, "privateAccess"),
            "false while publicAccess is false leaves no API endpoint; set privateAccess: true",
        )
    if e.public_access and not e.public_access_cidrs:
        yield (
            (*loc, "publicAccessCidrs"),
            (
                "empty while publicAccess is true; list the CIDRs allowed to reach the "
                "API server (e.g. your VPN egress '203.0.113.0/24')"
            ),
        )
    if not e.public_access and e.public_access_cidrs:
        yield (*loc, "publicAccessCidrs"), "given while publicAccess is false; set publicAccess: true or remove them"
    for i, cidr in enumerate(e.public_access_cidrs):
        if ipaddress.ip_network(cidr).prefixlen == 0 and not e.allow_world:
            yield (
                (*loc, "publicAccessCidrs", i),
                (
                    "'0.0.0.0/0' opens the API server to the whole internet; "
                    "list narrower CIDRs, or set allowWorld: true to accept the risk"
                ),
            )


@rule
def node_pools(spec: StackSpec) -> Iterator[Problem]:
    for name in sorted(_dupes(p.name for p in spec.node_pools)):
        yield ("nodePools",), f"pool name {show(name)} is used twice; pool names must be unique"
    for i, pool in enumerate(spec.node_pools):
        loc: Loc = ("nodePools", i)
        if pool.min_size > pool.max_size:
            yield (*loc, "minSize"), f"{pool.min_size} is greater than maxSize {pool.max_size}; make minSize <= maxSize"
        for key, value in pool.labels.items():
            if not LABEL_KEY_RE.match(key):
                yield (*loc, "labels", key), f"{show(key)} is not a valid Kubernetes label key"
            if not LABEL_VALUE_RE.match(value):
                yield (
                    (*loc, "labels", key),
                    (f"value {show(value)} is not a valid label value (63 chars max: letters, digits, '-', '_', '.')"),
                )
        for j, taint in enumerate(pool.taints):
            if not LABEL_KEY_RE.match(taint.key):
                yield (*loc, "taints", j, "key"), f"{show(taint.key)} is not a valid taint key"
        for j, typ in enumerate(pool.instance_types):
            if typ in pool.instance_types[:j]:
                yield (*loc, "instanceTypes", j), f"{show(typ)} is listed twice; list each instance type once"
        yield from _gpu_block(pool.gpu, loc)


def _gpu_block(gpu: GpuSpec | None, loc: Loc) -> Iterator[Problem]:
    if gpu is None:
        return
    loc = (*loc, "gpu")
    if gpu.sharing == "mig" and gpu.mig is None:
        yield (*loc, "mig"), "required when sharing is 'mig'; add mig: {strategy: mixed, layout: <layout>}"
    if gpu.sharing != "mig" and gpu.mig is not None:
        yield (*loc, "mig"), f"given while sharing is {show(gpu.sharing)}; set sharing: mig or remove the mig block"
    if gpu.sharing == "time-slicing" and gpu.time_slicing is None:
        yield (*loc, "timeSlicing"), "required when sharing is 'time-slicing'; add timeSlicing: {replicas: 4}"
    if gpu.sharing != "time-slicing" and gpu.time_slicing is not None:
        yield (
            (*loc, "timeSlicing"),
            (f"given while sharing is {show(gpu.sharing)}; set sharing: time-slicing or remove the timeSlicing block"),
        )
    if gpu.time_slicing is not None and gpu.time_slicing.replicas < 2:
        yield (
            (*loc, "timeSlicing", "replicas"),
            (f"{gpu.time_slicing.replicas} shares nothing; use 2 or more (or sharing: none for whole GPUs)"),
        )


@rule
def registry(spec: StackSpec) -> Iterator[Problem]:
    for i, region in enumerate(spec.registry.replication_regions):
        if region == spec.region:
            yield (
                ("registry", "replicationRegions", i),
                (f"{show(region)} is the stack's own region; replicate to other regions only"),
            )
    for i, repo in enumerate(spec.registry.ci_push_repos):
        if not re.match(r"^[\w.-]+/[\w.-]+(:[\w./*-]+)?$", repo):
            yield (
                ("registry", "ciPushRepos", i),
                (f"{show(repo)} is not a GitHub repository; write 'owner/repo' or 'owner/repo:refs/heads/main'"),
            )
