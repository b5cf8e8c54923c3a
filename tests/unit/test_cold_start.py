"""The cold-start budget (components/models/cold_start.py): each term from the catalog facts and the spec,
worked out by hand here, the slowest eligible pool's network bounding the fetch, cache hit vs miss, and the
report table the plan shows."""

from __future__ import annotations

import dataclasses
import math

from components.gpu.catalog import cold_start_facts
from components.models.cold_start import GBPS_TO_MIBPS, check_cold_start, cold_start, render_cold_starts
from stacks.contract import pool_facts
from stacks.spec.parse import parse_spec
from stacks.workloads.release_args import release_args
from tests.spec_helpers import raw_stack


def _release(stack: str, index: int):  # noqa: ANN202 (ModelReleaseArgs)
    spec = parse_spec(raw_stack(stack))
    return release_args(spec, index, pool_facts(spec))


def test_catalog_facts_name_their_sources() -> None:
    f = cold_start_facts()
    assert f.boot_seconds == 360 and f.image_pull_mibps == 100
    assert f.fetch_mibps["s3"] == 90 and f.fetch_mibps["hf"] == 50
    # Instance store on the families the issue names: g5, g6, p4d, p5.
    assert f.instance_store_gib[("aws", "g5.2xlarge")] == 450
    assert f.instance_store_gib[("aws", "g6.xlarge")] == 250
    assert f.instance_store_gib[("aws", "p4d.24xlarge")] == 8000
    assert f.instance_store_gib[("aws", "p5.48xlarge")] == 30400
    assert set(f.sources) == {"boot_estimate", "pull_estimate", "fetch_estimate", "karp_nvme_bw"}


def test_prod_llama_budget_by_hand() -> None:
    a = _release("prod", 0)  # llama3-8b: A10G, 8.5 GiB image, 15 GiB weights, load 900s, cache on EFS
    c = cold_start(a, a.versions[0])
    assert (c.pool, c.instance) == ("gpu-a10g", "g5.2xlarge")
    # g5.2xlarge: 5 Gbps = 596 MiB/s, above one S3 stream (90 MiB/s): the stream bounds the fetch.
    assert c.fetch_mibps == 90
    assert c.image_pull_seconds == math.ceil(8.5 * 1024 / 100) == 88
    assert c.fetch_miss_seconds == math.ceil(15 * 1024 / 90) == 171
    assert c.total(hit=False) == 360 + 88 + 171 + 900 == 1519
    assert c.total(hit=True) == 360 + 88 + 0 + 900 == 1348
    # With its cache a new pod pays the hit: within the 1500s objective, so prod passes.
    assert c.cached and c.expected == 1348 and c.objective_seconds == 1500
    assert list(check_cold_start(a)) == []


def test_alicloud_qwen_budget_uses_the_store_stream_where_the_catalog_has_no_network_fact() -> None:
    a = _release("alicloud-prod", 0)  # qwen2-72b: 136 GiB from OSS, 10 GiB image, load 1800s, NAS cache
    c = cold_start(a, a.versions[0])
    assert c.instance == "ecs.gn7e-c16g1.16xlarge" and c.fetch_mibps == 90
    assert c.fetch_miss_seconds == math.ceil(136 * 1024 / 90) == 1548
    assert (c.total(hit=False), c.total(hit=True)) == (360 + 103 + 1548 + 1800, 360 + 103 + 1800)
    assert c.expected == 2263 <= 2400


def test_a_slow_node_network_bounds_the_fetch() -> None:
    a = _release("prod", 0)
    facts = cold_start_facts()
    slow = dataclasses.replace(facts, network_gbps={**facts.network_gbps, ("aws", "g5.2xlarge"): 0.5})
    c = cold_start(a, a.versions[0], slow)
    assert c.fetch_mibps == 0.5 * GBPS_TO_MIBPS
    assert c.fetch_miss_seconds == math.ceil(15 * 1024 / (0.5 * 1e9 / 8 / 2**20)) == 258


def test_report_shows_every_version_with_miss_hit_and_objective() -> None:
    rows = [cold_start(a, v) for a in (_release("prod", 0), _release("prod", 2)) for v in a.versions]
    table = render_cold_starts(rows)
    assert table.startswith("## Model cold-start budget\n")
    assert "| llama3-8b | v1 | gpu-a10g (g5.2xlarge) | 360s | 88s | 171s | 900s | 1519s | 1348s | 1500s ✓ |" in table
    # reranker: no cache, no objective.
    assert "| reranker | v1 | gpu-l4-shared (g6.xlarge) | 360s | 31s | 7s | 300s | 698s | — | — |" in table
