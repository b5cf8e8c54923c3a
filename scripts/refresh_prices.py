"""Refresh the generated AWS instance prices of the price book (components/cost/aws_instances.yaml).

    python scripts/refresh_prices.py [--check] [--max-age-days N]

Two public, dated price files, both fetched as Go modules (the only outside source this repository's
machines reach; docs/cost.md#refreshing):

- karpenter: aws/karpenter-provider-aws pkg/providers/pricing/zz_generated.pricing_aws.go, Linux on-demand
  for us-east-1 from the AWS Pricing API, with the time it was generated;
- ec2info: cristim/ec2-instances-info data/instances.json (the ec2instances.info dump of the AWS price
  list): Linux on-demand, the observed spot range and 1-year standard no-upfront reservations per region.

Only the catalog's instance types (components/gpu/catalog.yaml) are written. us-east-1 on-demand comes from
karpenter (the newer file); every other figure from ec2info. When a module cannot be fetched the committed
book is kept and the script says so (exit 0); `--check` exits 1 when the committed book is older than
`--max-age-days` (default 90), for a scheduled job.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.cost.price_book import GENERATED_PATH, load_price_book, reload_price_book  # noqa: E402
from components.gpu.catalog import catalog  # noqa: E402

PROXY = "https://proxy.golang.org"
KARPENTER = ("github.com/aws/karpenter-provider-aws", "v1.15.2")
EC2INFO = ("github.com/cristim/ec2-instances-info", "v0.0.0-20250528091325-32acf84f42eb")
KARPENTER_FILE = "pkg/providers/pricing/zz_generated.pricing_aws.go"
EC2INFO_FILE = "data/instances.json"
RESERVED_TERM = "yrTerm1Standard.noUpfront"
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as res:  # noqa: S310 - fixed https URL of the Go proxy
        return res.read()


def module_file(module: str, version: str, path: str) -> tuple[str, str]:
    """(file text, module version time) from the Go module proxy."""
    info = json.loads(fetch(f"{PROXY}/{module}/@v/{version}.info"))
    with zipfile.ZipFile(io.BytesIO(fetch(f"{PROXY}/{module}/@v/{version}.zip"))) as z:
        text = z.read(f"{module}@{version}/{path}").decode()
    return text, str(info["Time"])


def parse_karpenter(text: str) -> tuple[dict[str, float], str]:
    """us-east-1 on-demand prices and the time the file was generated."""
    generated = re.search(r"// generated at (\S+) for us-east-1", text)
    block = re.search(r'"us-east-1": \{(.*?)\n\t\},', text, re.S)
    if generated is None or block is None:
        raise ValueError(f"{KARPENTER_FILE}: no us-east-1 block or generation time; has the format changed?")
    prices = {m[1]: float(m[2]) for m in re.finditer(r'"([a-z0-9.-]+)": ([0-9.]+)', block[1])}
    return prices, generated[1]


def parse_ec2info(text: str, wanted: set[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """instance type -> region -> {on_demand, spot: [min, max], reserved_1y} (Linux), catalog types only."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for item in json.loads(text):
        name = item["instance_type"]
        if name not in wanted:
            continue
        for region, by_os in sorted((item.get("pricing") or {}).items()):
            if not REGION_RE.match(region):
                continue  # Local Zones and Wavelength Zones (us-east-1-bos-1): not a stack's region
            linux = by_os.get("linux") or {}
            entry: dict[str, Any] = {}
            if _num(linux.get("ondemand")) is not None:
                entry["on_demand"] = _num(linux["ondemand"])
            lo, hi = _num(linux.get("spot_min")), _num(linux.get("spot_max"))
            if lo is not None and hi is not None:
                entry["spot"] = [lo, hi]
            if (r := _num((linux.get("reserved") or {}).get(RESERVED_TERM))) is not None:
                entry["reserved_1y"] = r
            if entry:
                out.setdefault(name, {})[region] = entry
    return out


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v > 0 else None


def build(karpenter: tuple[dict[str, float], str, str], ec2info: tuple[dict[str, Any], str]) -> dict[str, Any]:
    """The generated book section: every catalog AWS type, per region, each figure naming its source."""
    k_prices, k_generated, k_time = karpenter
    e_prices, e_time = ec2info
    instances: dict[str, dict[str, Any]] = {}
    for name in catalog().instance_names("aws"):
        regions: dict[str, Any] = {}
        for region, entry in sorted(e_prices.get(name, {}).items()):
            row: dict[str, Any] = {}
            if "on_demand" in entry:
                row["on_demand"] = {"price": entry["on_demand"], "source": "ec2info"}
            if "spot" in entry:
                row["spot"] = {"low": entry["spot"][0], "high": entry["spot"][1], "source": "ec2info"}
            if "reserved_1y" in entry:
                row["reserved"] = {"price": entry["reserved_1y"], "source": "ec2info"}
            regions[region] = row
        if name in k_prices:
            regions.setdefault("us-east-1", {})["on_demand"] = {"price": k_prices[name], "source": "karpenter"}
        instances[name] = dict(sorted(regions.items()))
    return {
        "generated_by": "scripts/refresh_prices.py",
        "sources": {
            "karpenter": {
                "title": f"{KARPENTER[0]}@{KARPENTER[1]} {KARPENTER_FILE} (AWS Pricing API, Linux on-demand, us-east-1)",
                "date": k_generated[:10],
                "confidence": "published",
            },
            "ec2info": {
                "title": f"{EC2INFO[0]}@{EC2INFO[1]} {EC2INFO_FILE} (AWS price list via ec2instances.info: Linux "
                f"on-demand, observed spot min-max, reserved {RESERVED_TERM}; module published {e_time[:10]})",
                "date": e_time[:10],
                "confidence": "published",
            },
        },
        "instances": {"aws": instances},
        "_module_times": {"karpenter": k_time},
    }


def render(data: dict[str, Any]) -> str:
    """YAML with one line per instance type and region (reviewable diffs when prices move)."""
    head = {k: v for k, v in data.items() if k != "instances"}
    lines = [
        "# GENERATED by scripts/refresh_prices.py from the public price files named under sources; do not edit.",
        yaml.safe_dump(head, sort_keys=False, width=200).rstrip("\n"),
        "instances:",
    ]
    for cloud, types in data["instances"].items():
        lines.append(f"  {cloud}:")
        for name, regions in types.items():
            lines.append(f"    {name}:" + ("" if regions else " {}"))
            for region, row in regions.items():
                flow = yaml.safe_dump(row, default_flow_style=True, sort_keys=False, width=10_000).strip()
                lines.append(f"      {region}: {flow}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="scripts/refresh_prices.py", description="Refresh the generated AWS instance prices of the price book."
    )
    ap.add_argument("--check", action="store_true", help="only report the book's age; exit 1 when stale")
    ap.add_argument("--max-age-days", type=int, default=90)
    args = ap.parse_args(argv)
    book = load_price_book()
    today = dt.datetime.now(dt.UTC).date()
    if args.check:
        age = book.age_days(today)
        print(f"price book dated {book.date} ({age} days old; stale after {args.max_age_days})")
        return 1 if age > args.max_age_days else 0
    try:
        k_text, k_time = module_file(*KARPENTER, KARPENTER_FILE)
        e_text, e_time = module_file(*EC2INFO, EC2INFO_FILE)
    except (urllib.error.URLError, TimeoutError, KeyError, zipfile.BadZipFile) as err:
        print(f"could not fetch the public price files ({err}); kept the committed book dated {book.date}")
        return 0
    k_prices, k_generated = parse_karpenter(k_text)
    wanted = set(catalog().instance_names("aws"))
    data = build((k_prices, k_generated, k_time), (parse_ec2info(e_text, wanted), e_time))
    data.pop("_module_times")
    GENERATED_PATH.write_text(render(data))
    fresh = reload_price_book()  # refuse to leave a book the loader rejects
    print(
        f"wrote {GENERATED_PATH.relative_to(ROOT)}: {len(data['instances']['aws'])} instance types, book dated {fresh.date}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
