"""Shared building blocks of the spec: the strict pydantic base, name and CIDR types, and the rule types.

A rule is a function StackSpec -> iterable of (key path, message); stacks/spec/rules.py lists them all.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from components.gpu.catalog import Cloud as Cloud  # one definition of the clouds (the catalog's)
from components.models.validation import Loc as Loc
from components.models.validation import Problem as Problem
from stacks.spec.errors import show

Environment = Literal["dev", "staging", "prod"]
NAME_RE = re.compile(r"^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$")
# Kubernetes versions the project is tested against (EKS standard support and ACK, 2026-11).
KUBERNETES_VERSIONS = ("1.31", "1.32", "1.33", "1.34")


class Spec(BaseModel):
    """Base: frozen, camelCase keys, unknown keys are errors."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        strict=False,
        use_attribute_docstrings=True,
        # 'inf' / 'nan' (a quoted .inf reaches a float field as text) would pass every >= bound check and
        # surface as a capacity failure that never names the key (docs/stack-files.md#messages).
        allow_inf_nan=False,
    )


def _dns_name(value: str) -> str:
    if not NAME_RE.match(value):
        raise PydanticCustomError(
            "gp_name",
            "{got} is not a valid name; use 1-30 lowercase letters, digits and '-', starting with a letter",
            {"got": show(value)},
        )
    return value


def _cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise PydanticCustomError(
            "gp_cidr", "{got} is not a network CIDR; write it like '10.0.0.0/16' (host bits zero)", {"got": show(value)}
        ) from None
    if net.version != 4:
        raise PydanticCustomError("gp_cidr", "{got} is IPv6; only IPv4 CIDRs are supported", {"got": show(value)})
    return value


DnsName = Annotated[str, AfterValidator(_dns_name)]


Cidr = Annotated[str, AfterValidator(_cidr)]
_DURATION_RE = re.compile(r"^[1-9][0-9]*(s|m|h)$")


def _duration(value: str) -> str:
    if not _DURATION_RE.match(value):
        raise PydanticCustomError(
            "gp_duration",
            "{got} is not a duration; write a whole number with s, m or h, e.g. '10m'",
            {"got": show(value)},
        )
    return value


Duration = Annotated[str, AfterValidator(_duration)]
# Secret values (receiver URLs, passwords) never live in the typed spec: the spec names a key in this
# config namespace and the component reads it with `pulumi.Config(SECRETS_NAMESPACE).require_secret`,
# so the value stays encrypted in the stack file and marked secret in the engine.
SECRETS_NAMESPACE = "gpu-platform-secrets"
# Pulumi config key names (the part after `gpu-platform-secrets:`).
CONFIG_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
AWS_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")


# Kubernetes label / taint key: optional DNS prefix, then a name of up to 63 characters.
LABEL_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
AWS_PRINCIPAL_RE = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(role|user|assumed-role)/[\w+=,.@/-]+$")


def duplicates(values: Iterable[str]) -> set[str]:
    return {v for v, n in Counter(values).items() if n > 1}
