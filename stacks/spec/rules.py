"""Every cross-field rule of the spec, listed explicitly, and `check(spec)` that runs them all.

A rule yields (key path, message) pairs; a stack file gets every problem in one go. Messages say what
was received, what is allowed and how to fix it. Rules live next to their config block
(stacks/spec/<block>.py); adding one means adding it here too (tests/unit/test_spec_rules_listed.py
fails on a block rule that is not listed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeAlias

from stacks.spec import (
    addons,
    analysis,
    artifact,
    budget,
    cloud_facts,
    cluster,
    models,
    names,
    platform_facts,
    pools,
    registry,
    safety,
    stack,
)
from stacks.spec.base import Problem
from stacks.spec.stack import StackSpec
from stacks.workloads import checks

Rule: TypeAlias = Callable[[StackSpec], Iterable[Problem]]

RULES: tuple[Rule, ...] = (
    stack.zones,
    stack.alicloud_only_keys,
    stack.aws_only_model_keys,
    models.aws_artifact_buckets,
    artifact.model_weights,
    analysis.model_analysis,
    cluster.cluster,
    cluster.network,
    cluster.endpoint,
    cluster.alicloud_zones,
    cluster.alicloud_cluster,
    cluster.existing_cluster,
    pools.node_pools,
    pools.pool_catalog,
    pools.gpu_sharing,
    pools.aws_node_group_names,
    pools.alicloud_pools,
    pools.existing_pools,
    pools.karpenter_pools,
    pools.reservations,
    pools.capacity_block_price,
    pools.efa_registry,
    registry.registry,
    registry.aws_registry,
    registry.alicloud_registry,
    registry.existing_registry,
    addons.istio,
    addons.gateway_routes,
    addons.prometheus,
    addons.logging,
    addons.storage_class,
    addons.keda,
    addons.chart_source,
    addons.existing_addons,
    cloud_facts.regions,
    cloud_facts.network_ranges,
    platform_facts.regexes,
    platform_facts.slo_windows,
    platform_facts.path_prefixes,
    names.platform_namespaces,
    names.model_object_names,
    safety.world_endpoint,
    safety.prod_deletion_protection,
    safety.prod_open_routes,
    safety.acknowledgements,
    budget.budget_currency,
    budget.prod_prices_known,
)

# Rules that derive facts from other parts of the spec (pool shapes, capacity) and run only when no
# problem was found under the given top-level keys: a rule never has to cope with, or crash on, input
# another rule rejects.
DEPENDENT: tuple[tuple[Rule, tuple[str, ...]], ...] = (
    # Needs valid pools (their shapes feed the capacity check) and cloud/zones.
    (checks.models, ("nodePools", "cloud", "zones")),
    # The cold-start budget reads the pools' instances (catalog cold_start facts).
    (artifact.cold_start, ("nodePools", "cloud", "zones", "models")),
)


def check(spec: StackSpec) -> list[Problem]:
    problems = [p for r in RULES for p in r(spec)]
    failed = {str(loc[0]) for loc, _ in problems if loc}
    for fn, keys in DEPENDENT:
        if not failed.intersection(keys):
            problems += list(fn(spec))
    return problems
