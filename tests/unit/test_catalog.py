"""The GPU catalog: hand-checked facts from the reference, and consistency rules over all of it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.cost.price_book import load_price_book
from components.gpu.catalog import CLOUDS, GpuModel, catalog, consistency_errors, layout_problems, load_catalog


def test_p5_48xlarge_facts_match_the_reference() -> None:
    p5 = catalog().instance("aws", "p5.48xlarge")
    assert p5 is not None
    assert (p5.vcpu, p5.memory_gib, p5.arch, p5.gpu_model, p5.gpu_count, p5.efa) == (
        192,
        2048,
        "x86_64",
        "h100-80gb",
        8,
        True,
    )
    assert (p5.price_usd_per_hour, p5.price_source) == (55.04, "karpenter")  # from the price book
    assert p5.is_gpu and p5.gpu is not None and p5.gpu.product.startswith("NVIDIA H100 80GB")
    assert p5.allocatable_cpu == 191.45 and p5.max_pods == 100 and p5.mig_allowed


def test_p5e_has_no_invented_price() -> None:
    p5e = catalog().instance("aws", "p5e.48xlarge")
    assert p5e is not None and p5e.price_usd_per_hour is None and p5e.price_source is None


def test_cpu_instances_are_not_gpu_and_arm_is_arm() -> None:
    m7g = catalog().instance("aws", "m7g.xlarge")
    m6i = catalog().instance("aws", "m6i.4xlarge")
    assert m7g is not None and m6i is not None
    assert (m7g.arch, m7g.vcpu, m7g.memory_gib, m7g.price_usd_per_hour, m7g.is_gpu, m7g.gpu) == (
        "arm64",
        4,
        16,
        0.1632,
        False,
        None,
    )
    assert (m6i.arch, m6i.vcpu, m6i.memory_gib, m6i.price_usd_per_hour) == ("x86_64", 16, 64, 0.768)


def test_efa_only_on_the_sizes_that_have_it() -> None:
    efa = {
        n: i.efa
        for n in ("g5.xlarge", "g5.8xlarge", "g6e.48xlarge", "p4d.24xlarge", "p3.8xlarge")
        if (i := catalog().instance("aws", n)) is not None
    }
    assert efa == {
        "g5.xlarge": False,
        "g5.8xlarge": True,
        "g6e.48xlarge": True,
        "p4d.24xlarge": True,
        "p3.8xlarge": False,
    }


def test_alicloud_mig_only_on_bare_metal_and_prices_unknown() -> None:
    cat = catalog()
    ebm = cat.instance("alicloud", "ecs.ebmgn7e.32xlarge")
    gn7e = cat.instance("alicloud", "ecs.gn7e-c16g1.32xlarge")
    gn7i = cat.instance("alicloud", "ecs.gn7i-c8g1.2xlarge")
    assert ebm is not None and gn7e is not None and gn7i is not None
    assert (ebm.gpu_model, ebm.gpu_count, ebm.vcpu, ebm.memory_gib, ebm.mig_allowed) == (
        "a100-80gb",
        8,
        128,
        1024,
        True,
    )
    assert (gn7e.gpu_model, gn7e.mig_allowed) == ("a100-80gb", False)  # passthrough VM: ACK says no MIG
    assert (gn7i.gpu_model, gn7i.gpu_count, gn7i.vcpu) == ("a10", 1, 8)
    assert all(i.price_usd_per_hour is None for i in cat.instances["alicloud"].values())


def test_lookups() -> None:
    cat = catalog()
    assert cat.instance("aws", "nope.large") is None
    assert cat.instance("alicloud", "p5.48xlarge") is None
    names = cat.instance_names("alicloud")
    assert names == sorted(names) and "ecs.g7.xlarge" in names and "ecs.c7.4xlarge" in names
    with pytest.raises(KeyError, match="unknown GPU model 'h100'; known: a10, a100-40gb"):
        cat.gpu("h100")


def test_ami_types() -> None:
    cat = catalog()
    assert cat.gpu_ami_types("x86_64") == [
        "AL2023_x86_64_NVIDIA",
        "BOTTLEROCKET_x86_64_NVIDIA",
        "BOTTLEROCKET_x86_64_NVIDIA_FIPS",
    ]
    assert cat.gpu_ami_types("arm64") == [
        "AL2023_ARM_64_NVIDIA",
        "BOTTLEROCKET_ARM_64_NVIDIA",
        "BOTTLEROCKET_ARM_64_NVIDIA_FIPS",
    ]
    assert "AL2023_ARM_64_STANDARD" in cat.standard_ami_types("arm64")
    assert cat.ami_types["AL2_x86_64_GPU"].legacy and cat.ami_types["AL2023_x86_64_NEURON"].neuron


def test_h100_profiles_and_layouts() -> None:
    h100 = catalog().gpu("h100-80gb")
    p = h100.profile("3g.40gb")
    assert p is not None and (p.compute_slices, p.memory_gb, p.max_per_gpu, p.resource_name) == (
        3,
        40,
        2,
        "nvidia.com/mig-3g.40gb",
    )
    me = h100.profile("1g.10gb+me")
    assert me is not None and me.resource_name == "nvidia.com/mig-1g.10gb.me"
    assert h100.layout_names() == [
        "all-1g.10gb",
        "all-1g.10gb.me",
        "all-1g.20gb",
        "all-2g.20gb",
        "all-3g.40gb",
        "all-4g.40gb",
        "all-7g.80gb",
        "all-balanced",
    ]
    assert dict(h100.mig_layouts["all-balanced"]) == {"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1}


def test_a100_40gb_names_differ_from_80gb() -> None:
    a40 = catalog().gpu("a100-40gb")
    assert dict(a40.mig_layouts["all-1g.5gb"]) == {"1g.5gb": 7}
    assert dict(a40.mig_layouts["all-1g.10gb"]) == {"1g.10gb": 4}  # double-memory 1g: 2 slots each
    assert not catalog().gpu("a10g").mig_supported and not catalog().gpu("a10g").mig_layouts


@pytest.mark.parametrize(
    ("counts", "problem"),
    [
        ({"3g.40gb": 3}, "3g.40gb: 3 per GPU, allowed 1..2"),
        # 7 compute slices (within budget) but 4+4+1 memory slots > 8: only the placement check catches it.
        ({"3g.40gb": 2, "1g.10gb": 1}, "no non-overlapping placement on the 8 memory slices of a h100-80gb"),
        ({"1g.10gb+me": 1, "1g.10gb": 7}, "uses 8 compute slices, a h100-80gb has 7"),
        (
            {"2g.10gb": 1},
            "'2g.10gb' is not a MIG profile of h100-80gb; known: 1g.10gb, 1g.10gb+me, 1g.20gb, 2g.20gb, "
            "3g.40gb, 4g.40gb, 7g.80gb",
        ),
    ],
)
def test_layout_problems_are_named(counts: dict[str, int], problem: str) -> None:
    assert layout_problems(catalog().gpu("h100-80gb"), counts) == [problem]


def test_valid_mixes_place() -> None:
    h100 = catalog().gpu("h100-80gb")
    assert layout_problems(h100, {"3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 2}) == []
    assert layout_problems(h100, {"4g.40gb": 1, "2g.20gb": 1, "1g.10gb": 1}) == []
    assert layout_problems(h100, {"4g.40gb": 1, "3g.40gb": 1}) == []
    assert layout_problems(catalog().gpu("l4"), {"1g.6gb": 1}) == ["l4 does not support MIG"]


# --- consistency over the whole catalog -------------------------------------------------------------


def test_catalog_has_no_consistency_errors() -> None:
    assert consistency_errors(catalog()) == []


def test_every_instance_gpu_model_exists_and_counts_agree() -> None:
    cat = catalog()
    for cloud in CLOUDS:
        for name in cat.instance_names(cloud):
            it = cat.instance(cloud, name)
            assert it is not None and it.cloud == cloud
            assert (it.gpu_model is None) == (it.gpu_count == 0), name
            if it.gpu_model is not None:
                assert it.gpu_model in cat.gpus, name


def test_prices_positive_or_none_and_sourced() -> None:
    for items in catalog().instances.values():
        for it in items.values():
            if it.price_usd_per_hour is None:
                assert it.price_source is None, it.name
            else:
                assert it.price_usd_per_hour > 0 and it.price_source in load_price_book().sources, it.name
            assert it.spec_source in catalog().sources, it.name


def _mig_gpus() -> list[GpuModel]:
    return [catalog().gpu(k) for k in catalog().mig_gpu_keys()]


def test_every_layout_respects_slice_budgets() -> None:
    for gpu in _mig_gpus():
        assert gpu.mig_layouts, gpu.key
        for name, counts in gpu.mig_layouts.items():
            compute = memory = 0
            for profile_name, count in counts.items():
                p = gpu.profile(profile_name)
                assert p is not None, (gpu.key, name)
                assert 1 <= count <= p.max_per_gpu, (gpu.key, name)
                compute += p.compute_slices * count
                memory += p.memory_slices * count
            assert compute <= gpu.compute_slices_total, (gpu.key, name)
            assert memory <= gpu.memory_slices_total, (gpu.key, name)
            assert layout_problems(gpu, counts) == [], (gpu.key, name)


def test_all_profile_layouts_follow_gpu_operator_naming() -> None:
    for gpu in _mig_gpus():
        for p in gpu.mig_profiles:
            assert dict(gpu.mig_layouts["all-" + p.name.replace("+", ".")]) == {p.name: p.max_per_gpu}
        assert "all-balanced" in gpu.mig_layouts


def test_loader_rejects_an_inconsistent_file(tmp_path: Path) -> None:
    raw = yaml.safe_load(Path("components/gpu/catalog.yaml").read_text())
    raw["aws_instance_types"]["g5.xlarge"]["gpu_model"] = "a10x"
    raw["aws_instance_types"]["g6.xlarge"]["price_usd_per_hour"] = 0.8  # prices live in components/cost/
    raw["gpu_models"]["h100-80gb"]["mig_layouts"]["all-3g.40gb"] = {"3g.40gb": 3}
    bad = tmp_path / "catalog.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError) as err:
        load_catalog(bad)
    assert str(err.value).splitlines()[1:] == [
        "  gpu h100-80gb layout all-3g.40gb: 3g.40gb: 3 per GPU, allowed 1..2",
        "  aws g5.xlarge: gpu_model 'a10x' is not in gpu_models",
        "  aws g6.xlarge: price_usd_per_hour belongs in the price book (components/cost/prices.yaml), not the catalog",
    ]
