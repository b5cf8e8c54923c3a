"""Generate a prod-scale stack config in memory: 3 zones, 7 GPU pools (whole GPU, time-sliced, MIG mixed
and single, spot), and N model releases cycling through canary, header A/B, shadow, MIG and time-sliced
shapes. Starts from Pulumi.prod.yaml so every key stays realistic; only pools and models are scaled.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import yaml

from tools.offline.config import PROJECT_DIR, StackConfig, config_from_raw


def _digest(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def _pools(n_models: int) -> list[dict[str, Any]]:
    big = max(8, n_models)  # room for every release's worst rollout step
    return [
        {"name": "system", "instanceTypes": ["m6i.2xlarge"], "minSize": 3, "maxSize": 12},
        {"name": "gpu-a10g", "instanceTypes": ["g5.2xlarge"], "minSize": 0, "maxSize": big * 2},
        {
            "name": "gpu-a10g-spot",
            "instanceTypes": ["g5.2xlarge"],
            "capacityType": "SPOT",
            "minSize": 0,
            "maxSize": big,
        },
        {
            "name": "gpu-l4-shared",
            "instanceTypes": ["g6.xlarge"],
            "minSize": 0,
            "maxSize": big,
            "gpu": {"sharing": "time-slicing", "timeSlicing": {"replicas": 4}},
        },
        {"name": "gpu-l40s", "instanceTypes": ["g6e.2xlarge"], "minSize": 0, "maxSize": big},
        {
            "name": "gpu-a100-mig",
            "instanceTypes": ["p4d.24xlarge"],
            "minSize": 0,
            "maxSize": max(2, n_models // 8),
            "diskSizeGib": 500,
            "gpu": {"sharing": "mig", "mig": {"strategy": "mixed", "layout": "all-balanced"}},
        },
        {
            "name": "gpu-h100-mig",
            "instanceTypes": ["p5.48xlarge"],
            "minSize": 0,
            "maxSize": max(2, n_models // 16),
            "diskSizeGib": 500,
            "gpu": {"sharing": "mig", "mig": {"strategy": "single", "layout": "all-1g.10gb"}},
        },
    ]


def _version(model: str, name: str, semver: str, gpu: dict[str, Any], runtime: str, bucket: str) -> dict[str, Any]:
    return {
        "name": name,
        "semver": semver,
        "runtime": runtime,
        "image": f"444455556666.dkr.ecr.us-east-1.amazonaws.com/serving/{runtime}@sha256:{_digest(model + name)}",
        "gpu": gpu,
        "cpu": 2,
        "memoryGib": 8,
        "loadSeconds": 300,
        "artifact": {"uri": f"s3://{bucket}/{name}/", "sha256": _digest(f"weights-{model}-{name}")},
    }


def _model(i: int, cluster: str) -> dict[str, Any]:
    name = f"model-{i:03d}"
    kind = i % 4
    if kind == 0:  # whole GPU with a 90/10 canary and a header A/B route
        gpu = {"count": 1, "model": "a10g", "modelMemoryGib": 16}
        traffic = {
            "stable": "v1",
            "candidate": "v2",
            "candidateWeight": 10,
            "abRoutes": [{"header": "x-variant", "values": ["b"], "version": "v2"}],
        }
        runtime = "vllm"
    elif kind == 1:  # MIG slice with a shadow
        gpu = {"migProfile": "2g.10gb", "modelMemoryGib": 6}
        traffic = {"stable": "v1", "shadow": {"version": "v2", "percent": 10}}
        runtime = "triton"
    elif kind == 2:  # time-sliced share with a canary
        gpu = {"timeSliced": True, "modelMemoryGib": 4}
        traffic = {"stable": "v1", "candidate": "v2", "candidateWeight": 25}
        runtime = "torchserve"
    else:  # L40S whole GPU, stable only
        gpu = {"count": 1, "model": "l40s", "modelMemoryGib": 30}
        traffic = {"stable": "v1"}
        runtime = "vllm"
    # Weights in the model's own bucket, which the stack creates (artifactBucket; the bucket name rule is
    # components/aws/artifact_names.py): as Pulumi.prod.yaml's models do.
    bucket = f"{cluster}-{name}-artifacts"
    return {
        "name": name,
        "hosts": [f"{name}.models.example.com"],
        "artifactBucket": True,
        "autoscaling": {"minReplicas": 1, "maxReplicas": 2, "targetRpsPerReplica": 10},
        "versions": [
            _version(name, "v1", "1.0.0", gpu, runtime, bucket),
            _version(name, "v2", "1.1.0", gpu, runtime, bucket),
        ],
        "traffic": traffic,
    }


def raw_config(n_models: int) -> dict[str, Any]:
    cfg = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]
    raw = {k.split(":", 1)[1]: copy.deepcopy(v) for k, v in cfg.items() if k.startswith("gpu-platform:")}
    raw["nodePools"] = _pools(n_models)
    cluster = raw.get("cluster", {}).get("name") or f"gpu-{raw['environment']}"
    raw["models"] = [_model(i, cluster) for i in range(n_models)]
    # The gateway routes of Pulumi.prod.yaml name its own models. Prod refuses a model published on the
    # gateway without a route (stacks/spec/safety.py), so every generated model gets one, cycling through
    # the shapes (rate limits, auth) of the file's routes.
    gateway = raw.get("addons", {}).get("istio", {}).get("gateway", {})
    if gateway.get("routes"):
        shapes = gateway["routes"]
        gateway["routes"] = [
            {**shapes[i % len(shapes)], "name": m["name"], "pathPrefix": f"/v1/models/{m['name']}"}
            for i, m in enumerate(raw["models"])
        ]
    return raw


def stack_config(n_models: int) -> StackConfig:
    return config_from_raw(raw_config(n_models), f"bench-{n_models}")
