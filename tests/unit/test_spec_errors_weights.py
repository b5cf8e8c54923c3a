"""Bad model-weights config (docs/model-weights.md): each case asserts the exact message — the fetchable
schemes per cloud, the artifact and cache fields, and the cold-start refusal with its numbers and fixes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.spec_helpers import Case, assert_rejected, mutate, problems, raw_stack

DEV = raw_stack("dev")
PROD = raw_stack("prod")
EXISTING = raw_stack("existing-dev")
# Inputs that also break a rule of components/models/validation.py: the message must be among the problems.
ALSO_OTHERS = ["unmanaged s3 bucket", "oss on aws"]


def idle_version(raw: dict[str, Any], objective: int) -> dict[str, Any]:
    """prod's embeddings with a third version that takes no traffic and scales from zero, no surge."""
    out = copy.deepcopy(raw)
    m = out["models"][1]
    v = copy.deepcopy(m["versions"][1])
    v.update(name="v5", semver="5.0.0", autoscaling={"minReplicas": 0, "maxReplicas": 2}, coldStartSeconds=objective)
    m["versions"].append(v)
    m["maxSurge"] = 0
    return out


CASES: list[Case] = [
    (
        "unmanaged s3 bucket",
        mutate(PROD, "models.1.artifactBucket", False),
        "gpu-platform:models[1].versions[0].artifact.uri: 's3://gpu-prod-embeddings-artifacts/v3/' is in a bucket "
        "the stack does not manage, so no identity may read it; set artifactBucket: true and upload the weights to "
        "the model's own bucket (s3://gpu-prod-embeddings-artifacts/...)",
    ),
    (
        "oss on aws",
        mutate(PROD, "models.2.versions.0.artifact.uri", "oss://weights/reranker/v1/"),
        "gpu-platform:models[2].versions[0].artifact.uri: 'oss://weights/reranker/v1/': oss:// cannot be read on "
        "'aws': the release's workload identity reads s3:// only; copy the weights to s3://",
    ),
    (
        "gs not fetched",
        mutate(DEV, "models.0.versions.0.artifact", {"uri": "gs://b/m/"}),
        "gpu-platform:models[0].versions[0].artifact.uri: 'gs://b/m/': gs:// is not fetched (the platform has no GCP "
        "identity); copy the weights to s3://, oss://, a Hugging Face revision (hf://org/model@<revision>) or a "
        "claim (pvc://<claim>/<path>)",
    ),
    (
        "hf without org",
        mutate(DEV, "models.0.versions.0.artifact", {"uri": "hf://llama@abc"}),
        "gpu-platform:models[0].versions[0].artifact.uri: 'hf://llama@abc' is not hf://<org>/<model>@<revision>; "
        "name the repository and pin a revision",
    ),
    (
        "pvc bad claim",
        mutate(DEV, "models.0.versions.0.artifact", {"uri": "pvc://Bad_Claim/x"}),
        "gpu-platform:models[0].versions[0].artifact.uri: 'pvc://Bad_Claim/x' is not pvc://<claim>/<path>; name a "
        "PersistentVolumeClaim of the model's namespace",
    ),
    (
        "token secret on s3",
        mutate(PROD, "models.0.versions.0.artifact.tokenSecret", "hf-token"),
        "gpu-platform:models[0].versions[0].artifact.tokenSecret: 'hf-token' is set but the artifact is not a "
        "hf:// URI (s3://); a token secret is for hf:// only (object stores use the release's workload identity): "
        "remove it",
    ),
    (
        "cache without artifact size",
        mutate(PROD, "models.0.versions.0.artifact.sizeGib"),
        "gpu-platform:models[0].versions[0].artifact.sizeGib: required with a model cache: the cache must hold "
        "every version's weights; set the artifact's size in GiB",
    ),
    (
        "cache too small",
        mutate(PROD, "models.0.cache.sizeGib", 20),
        "gpu-platform:models[0].cache.sizeGib: 20 GiB cannot hold the 2 artifact(s) the versions fetch into it "
        "(30 GiB); set cache.sizeGib to at least 30",
    ),
    (
        "cache on existing cluster",
        mutate(EXISTING, "models.0.cache", {"sizeGib": 50}),
        "gpu-platform:models[0].cache.storageClass: required with cloud: existing: this stack installs no "
        "ReadWriteMany storage for model caches; name a ReadWriteMany StorageClass of the cluster (NFS, EFS, NAS, "
        "CephFS...) or remove cache",
    ),
    (
        "surge cold start over objective",
        mutate(PROD, "models.1.versions.0.coldStartSeconds", 300),
        "gpu-platform:models[1].versions[0].coldStartSeconds: 300s is exceeded by the cold start of maxSurge 1 (a "
        "surge pod may need a new node): 567s = node boot 360s (gpu-a100-mig p4d.24xlarge, catalog cold_start) + "
        "image pull 72s (7 GiB) + weights 15s (1.3 GiB at 90 MiB/s, no cache) + load 120s; set maxSurge: 0 (pods "
        "replaced in place, no new node), or add a model cache (a hit skips the 15s fetch), or raise "
        "coldStartSeconds to at least 567",
    ),
    (
        "scale from zero cold start over objective",
        idle_version(PROD, 400),
        "gpu-platform:models[1].versions[2].coldStartSeconds: 400s is exceeded by the cold start of minReplicas 0 "
        "(scale from zero): 567s = node boot 360s (gpu-a100-mig p4d.24xlarge, catalog cold_start) + image pull 72s "
        "(7 GiB) + weights 15s (1.3 GiB at 90 MiB/s, no cache) + load 120s; keep minReplicas >= 1, or add a model "
        "cache (a hit skips the 15s fetch), or raise coldStartSeconds to at least 567",
    ),
    (
        "cold start objective without image size",
        mutate(PROD, "models.1.versions.0.imageSizeGib"),
        "gpu-platform:models[1].versions[0].coldStartSeconds: 900s cannot be checked without imageSizeGib; declare "
        "imageSizeGib (GiB) so the preview can prove the cold start",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fails_with_exact_message(case: Case) -> None:
    assert_rejected(case, only=case[0] not in ALSO_OTHERS)


def test_each_cold_start_fix_really_fixes() -> None:
    """The refusal's fixes are real: each one alone makes the same config pass."""
    surge = mutate(PROD, "models.1.versions.0.coldStartSeconds", 300)
    for fixed in (
        mutate(surge, "models.1.maxSurge", 0),
        mutate(surge, "models.1.versions.0.coldStartSeconds", 567),
    ):
        assert not any("coldStartSeconds" in p for p in _problems_or_none(fixed))
    # The cache removes the fetch (15s), which is not enough for 300s: the refusal stays, with the hit budget.
    cached = mutate(surge, "models.1.cache", {"sizeGib": 10})
    assert any("552s = node boot 360s" in p and "weights 0s (cache hit)" in p for p in problems(cached))
    zero = idle_version(PROD, 400)
    assert not _problems_or_none(mutate(zero, "models.1.versions.2.coldStartSeconds", 567))


def _problems_or_none(raw: dict[str, Any]) -> list[str]:
    try:
        return problems(raw)
    except AssertionError:
        return []
