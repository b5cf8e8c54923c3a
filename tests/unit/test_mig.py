"""MIG config rendering, node labels and the extended resources each sharing mode advertises."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from components.gpu.catalog import InstanceType, catalog
from components.gpu.mig import gpu_resources_per_node, mig_config_label, render_mig_parted_config

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "mig-parted-config.yaml"
# A representative stack: p5 mixed + single, p4d, p4de, p5en, and a bare-metal Alibaba A100.
REPRESENTATIVE = [
    ("h100-80gb", "all-balanced"),
    ("h100-80gb", "all-1g.10gb"),
    ("h100-80gb", "all-3g.40gb"),
    ("a100-40gb", "all-balanced"),
    ("a100-40gb", "all-1g.10gb"),
    ("a100-80gb", "all-7g.80gb"),
    ("h100-80gb", "all-7g.80gb"),
    ("h200-141gb", "all-2g.35gb"),
]


def _it(cloud: str, name: str) -> InstanceType:
    it = catalog().instance("aws" if cloud == "aws" else "alicloud", name)
    assert it is not None
    return it


def test_golden_mig_parted_config() -> None:
    rendered = yaml.safe_dump(render_mig_parted_config(REPRESENTATIVE), sort_keys=False)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(rendered)
    assert rendered == GOLDEN.read_text(), "rendered mig-parted config changed; review, then UPDATE_GOLDEN=1"


def test_config_shape_is_mig_parted_v1() -> None:
    cfg = render_mig_parted_config([("h100-80gb", "all-3g.40gb")])
    assert cfg == {
        "mig-configs": {
            "all-3g.40gb": [{"devices": "all", "mig-devices": {"3g.40gb": 2}, "mig-enabled": True}],
            "all-disabled": [{"devices": "all", "mig-enabled": False}],
        },
        "version": "v1",
    }


def test_rendering_is_order_independent_and_deduplicated() -> None:
    forward = render_mig_parted_config(REPRESENTATIVE)
    backward = render_mig_parted_config(list(reversed(REPRESENTATIVE)) + REPRESENTATIVE[:2])
    assert yaml.safe_dump(forward, sort_keys=False) == yaml.safe_dump(backward, sort_keys=False)


def test_only_used_layouts_are_rendered() -> None:
    assert sorted(render_mig_parted_config([])["mig-configs"]) == ["all-disabled"]
    assert sorted(render_mig_parted_config([("a100-80gb", "all-2g.20gb")])["mig-configs"]) == [
        "all-2g.20gb",
        "all-disabled",
    ]


def test_same_name_different_contents_gets_distinct_labels() -> None:
    # all-1g.10gb is 7 devices on an H100 but 4 double-memory devices on an A100-40GB.
    assert mig_config_label("h100-80gb", "all-1g.10gb") == "all-1g.10gb-h100-80gb"
    assert mig_config_label("a100-40gb", "all-1g.10gb") == "all-1g.10gb-a100-40gb"
    assert mig_config_label("h100-80gb", "all-balanced") == "all-balanced-h100-80gb"
    configs = render_mig_parted_config([("h100-80gb", "all-1g.10gb"), ("a100-40gb", "all-1g.10gb")])["mig-configs"]
    assert configs["all-1g.10gb-h100-80gb"][0]["mig-devices"] == {"1g.10gb": 7}
    assert configs["all-1g.10gb-a100-40gb"][0]["mig-devices"] == {"1g.10gb": 4}


def test_unambiguous_names_stay_plain_and_are_shared() -> None:
    # all-7g.80gb means one full-GPU instance wherever it is defined: one config serves both GPUs.
    assert mig_config_label("h100-80gb", "all-7g.80gb") == "all-7g.80gb"
    assert mig_config_label("a100-80gb", "all-7g.80gb") == "all-7g.80gb"
    configs = render_mig_parted_config([("h100-80gb", "all-7g.80gb"), ("a100-80gb", "all-7g.80gb")])["mig-configs"]
    assert sorted(configs) == ["all-7g.80gb", "all-disabled"]


def test_fails_when_layout_is_not_defined_for_the_gpu() -> None:
    with pytest.raises(ValueError) as err:
        render_mig_parted_config([("h100-80gb", "all-2g")])
    assert str(err.value) == (
        "'all-2g' is not a MIG layout for h100-80gb; choose one of all-1g.10gb, all-1g.10gb.me, "
        "all-1g.20gb, all-2g.20gb, all-3g.40gb, all-4g.40gb, all-7g.80gb, all-balanced"
    )


def test_fails_when_gpu_has_no_mig() -> None:
    with pytest.raises(ValueError) as err:
        mig_config_label("a10g", "all-1g.10gb")
    assert str(err.value) == (
        "a10g does not support MIG; MIG-capable GPUs: a100-40gb, a100-80gb, a30-24gb, b200-180gb, h100-80gb, h200-141gb"
    )


def test_fails_when_gpu_model_is_unknown() -> None:
    with pytest.raises(ValueError, match=r"^unknown GPU model 'h100'; known: a10, a100-40gb,"):
        render_mig_parted_config([("h100", "all-balanced")])


# --- resources per node -----------------------------------------------------------------------------


def test_whole_gpus() -> None:
    assert gpu_resources_per_node(_it("aws", "g5.12xlarge")) == {"nvidia.com/gpu": 4}
    assert gpu_resources_per_node(_it("aws", "p5.48xlarge"), "none") == {"nvidia.com/gpu": 8}


def test_time_slicing_multiplies_gpus() -> None:
    assert gpu_resources_per_node(_it("aws", "g6.12xlarge"), "time-slicing", time_slicing_replicas=4) == {
        "nvidia.com/gpu": 16
    }


def test_mig_mixed_on_h100_balanced() -> None:
    res = gpu_resources_per_node(_it("aws", "p5.48xlarge"), "mig", "mixed", "all-balanced")
    assert res == {"nvidia.com/mig-1g.10gb": 16, "nvidia.com/mig-2g.20gb": 8, "nvidia.com/mig-3g.40gb": 8}


def test_mig_mixed_on_a100_40gb_and_media_extension_names() -> None:
    p4d = _it("aws", "p4d.24xlarge")
    assert gpu_resources_per_node(p4d, "mig", "mixed", "all-balanced") == {
        "nvidia.com/mig-1g.5gb": 16,
        "nvidia.com/mig-2g.10gb": 8,
        "nvidia.com/mig-3g.20gb": 8,
    }
    assert gpu_resources_per_node(p4d, "mig", "mixed", "all-1g.5gb.me") == {"nvidia.com/mig-1g.5gb.me": 8}


def test_mig_single_advertises_devices_as_gpus() -> None:
    assert gpu_resources_per_node(_it("aws", "p5.48xlarge"), "mig", "single", "all-1g.10gb") == {"nvidia.com/gpu": 56}
    assert gpu_resources_per_node(_it("alicloud", "ecs.ebmgn7e.32xlarge"), "mig", "single", "all-3g.40gb") == {
        "nvidia.com/gpu": 16
    }


def test_fails_when_single_strategy_gets_a_mixed_layout() -> None:
    with pytest.raises(ValueError) as err:
        gpu_resources_per_node(_it("aws", "p5.48xlarge"), "mig", "single", "all-balanced")
    assert str(err.value) == (
        "MIG strategy 'single' needs a layout with one profile; 'all-balanced' on h100-80gb mixes "
        "1g.10gb, 2g.20gb, 3g.40gb; use strategy 'mixed' or an all-<profile> layout"
    )


def test_fails_when_mig_on_a_gpu_without_mig() -> None:
    with pytest.raises(ValueError, match=r"^a10g does not support MIG;"):
        gpu_resources_per_node(_it("aws", "g5.48xlarge"), "mig", "mixed", "all-1g.10gb")


def test_fails_when_cloud_forbids_mig_on_the_instance() -> None:
    with pytest.raises(ValueError) as err:
        gpu_resources_per_node(_it("alicloud", "ecs.gn7e-c16g1.32xlarge"), "mig", "mixed", "all-balanced")
    assert str(err.value) == (
        "alicloud ecs.gn7e-c16g1.32xlarge: the a100-80gb GPUs cannot be put in MIG mode on this "
        "instance type (cloud restriction); use a bare-metal type or sharing 'none'/'time-slicing'"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("none", "mixed", "all-balanced", None),
            "MIG strategy/layout given while sharing is 'none'; set sharing to 'mig'",
        ),
        (("none", None, None, 4), "time-slicing replicas given while sharing is 'none'; set sharing to 'time-slicing'"),
        (("time-slicing", None, None, 1), "time-slicing needs replicas >= 2, got 1"),
        (("mig", "mixed", None, None), "sharing 'mig' needs both a strategy (single or mixed) and a layout"),
    ],
)
def test_fails_on_contradictory_sharing_args(
    args: tuple[str, str | None, str | None, int | None], message: str
) -> None:
    sharing, strategy, layout, replicas = args
    with pytest.raises(ValueError) as err:
        gpu_resources_per_node(_it("aws", "p5.48xlarge"), sharing, strategy, layout, replicas)  # type: ignore[arg-type]
    assert str(err.value) == message


def test_fails_on_cpu_instance() -> None:
    with pytest.raises(ValueError) as err:
        gpu_resources_per_node(_it("aws", "m6i.large"))
    assert str(err.value) == "aws m6i.large has no GPUs; GPU sharing 'none' needs a GPU instance type"
