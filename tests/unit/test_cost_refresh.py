"""scripts/refresh_prices.py on small inputs in the shape of its two public price files, without network:
parsing, the us-east-1 override, Local Zones left out, the written file loads, an unreachable proxy keeps
the committed book, and --check reports staleness (docs/cost.md#refreshing)."""

from __future__ import annotations

import importlib.util
import json
import sys
import urllib.error
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from components.cost.price_book import load_price_book
from tools.offline.runner import PROJECT_DIR


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("refresh_prices", PROJECT_DIR / "scripts" / "refresh_prices.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["refresh_prices"] = mod
    spec.loader.exec_module(mod)
    return mod


R = _script()

GO = """package pricing

// generated at 2026-07-20T13:44:30Z for us-east-1

var InitialOnDemandPricesAWS = map[string]map[ec2types.InstanceType]float64{
\t// us-east-1
\t"us-east-1": {
\t\t// g6 family
\t\t"g6.xlarge": 0.804800, "g6.2xlarge": 0.977600,
\t},
}
"""

EC2INFO = [
    {
        "instance_type": "g6.xlarge",
        "pricing": {
            "us-east-1": {"linux": {"ondemand": "0.9", "spot_min": "0.3", "spot_max": "0.4"}},
            "us-west-2": {
                "linux": {"ondemand": "0.8048", "reserved": {"yrTerm1Standard.noUpfront": "0.5"}},
            },
            "us-west-2-lax-1": {"linux": {"ondemand": "1.0"}},
        },
    },
    {"instance_type": "x9.notincatalog", "pricing": {"us-east-1": {"linux": {"ondemand": "1"}}}},
]


def test_parse_karpenter() -> None:
    assert R.parse_karpenter(GO) == ({"g6.xlarge": 0.8048, "g6.2xlarge": 0.9776}, "2026-07-20T13:44:30Z")


def test_parse_karpenter_refuses_another_format() -> None:
    with pytest.raises(ValueError, match="no us-east-1 block or generation time"):
        R.parse_karpenter("package pricing\n")


def test_parse_ec2info_keeps_catalog_types_and_regions_only() -> None:
    got = R.parse_ec2info(json.dumps(EC2INFO), {"g6.xlarge"})
    assert got == {
        "g6.xlarge": {
            "us-east-1": {"on_demand": 0.9, "spot": [0.3, 0.4]},
            "us-west-2": {"on_demand": 0.8048, "reserved_1y": 0.5},
        }
    }


def test_build_prefers_karpenter_for_us_east_1_and_the_file_loads(tmp_path: Path) -> None:
    e = R.parse_ec2info(json.dumps(EC2INFO), {"g6.xlarge"})
    data = R.build(({"g6.xlarge": 0.8048}, "2026-07-20T13:44:30Z", "2026-11-12T04:19:54Z"), (e, "2025-05-28T09:21:47Z"))
    data.pop("_module_times")
    east = data["instances"]["aws"]["g6.xlarge"]["us-east-1"]
    assert east["on_demand"] == {"price": 0.8048, "source": "karpenter"}
    assert east["spot"] == {"low": 0.3, "high": 0.4, "source": "ec2info"}
    assert data["instances"]["aws"]["g6.2xlarge"] == {}  # in the catalog, in neither input
    text = R.render(data)
    assert (
        "      us-west-2: {on_demand: {price: 0.8048, source: ec2info}, reserved: {price: 0.5, source: ec2info}}\n"
        in text
    )
    gen = tmp_path / "aws_instances.yaml"
    gen.write_text(text)
    book = load_price_book.__wrapped__(PROJECT_DIR / "components" / "cost" / "prices.yaml", gen)
    assert book.instance("aws", "us-west-2", "g6.xlarge", "reserved").hourly == 0.5  # type: ignore[union-attr]
    assert yaml.safe_load(text)["sources"]["karpenter"]["date"] == "2026-07-20"


def test_an_unreachable_proxy_keeps_the_committed_book(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def offline(url: str) -> bytes:
        raise urllib.error.URLError("no route")

    before = R.GENERATED_PATH.read_text()
    monkeypatch.setattr(R, "fetch", offline)
    assert R.main([]) == 0
    assert capsys.readouterr().out.startswith("could not fetch the public price files (<urlopen error no route>)")
    assert R.GENERATED_PATH.read_text() == before


def test_check_reports_staleness(capsys: pytest.CaptureFixture[str]) -> None:
    date = load_price_book().date
    assert R.main(["--check", "--max-age-days", "100000"]) == 0
    assert R.main(["--check", "--max-age-days", "0"]) == 1
    assert f"price book dated {date}" in capsys.readouterr().out
