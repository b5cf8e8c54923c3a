"""Rules of the model weights (`models[i].versions[j].artifact`, `models[i].cache`, `coldStartSeconds`):
docs/model-weights.md. The artifact and cache fields themselves are in stacks/spec/models.py.

- `model_weights`: each artifact is fetchable with the identity this cloud gives the release (s3:// on AWS
  through the model's own `artifactBucket`, oss:// on Alibaba through RRSA, hf:// and pvc:// anywhere),
  a cache has storage to live on, plus the release-level rules of components/models/weights_plan.py;
- `cold_start`: a scale-from-zero or surge setting whose budget exceeds `coldStartSeconds` is refused
  (components/models/cold_start.py). Needs valid pools (the budget reads their instances), so it is listed
  under DEPENDENT in stacks/spec/rules.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from components.aws.artifact_names import artifact_uri_prefix
from components.models.args import ModelReleaseArgs
from components.models.cold_start import check_cold_start
from components.models.weights_plan import check_weights, scheme
from stacks.spec.base import Problem
from stacks.spec.errors import show

if TYPE_CHECKING:
    from stacks.spec.stack import StackSpec

# The object store each cloud's release identity reads (components/aws/seam.py, components/alicloud/seam.py).
STORE_SCHEME = {"aws": "s3", "alicloud": "oss"}


def model_weights(spec: StackSpec) -> Iterator[Problem]:
    store = STORE_SCHEME.get(spec.cloud)
    for i, m in enumerate(spec.models):
        for j, v in enumerate(m.versions):
            if v.artifact is None:
                continue
            s = scheme(v.artifact.uri)
            loc = ("models", i, "versions", j, "artifact", "uri")
            if s in STORE_SCHEME.values() and s != store:
                where = (
                    f"on {show(spec.cloud)}" if store else f"with cloud {show(spec.cloud)} (no object-store identity)"
                )
                fix = (
                    f"copy the weights to {store}://"
                    if store
                    else "use hf://org/model@<revision> or pvc://<claim>/<path>"
                )
                yield (
                    loc,
                    f"{show(v.artifact.uri)}: {s}:// cannot be read {where}: the release's workload identity reads "
                    f"{store + ':// only' if store else 'no object store'}; {fix}",
                )
            elif s == "s3" and not m.artifact_bucket:
                yield (
                    loc,
                    f"{show(v.artifact.uri)} is in a bucket the stack does not manage, so no identity may read it; "
                    "set artifactBucket: true and upload the weights to the model's own bucket "
                    f"({artifact_uri_prefix(spec.cluster_name, m.name)}...)",
                )
        # A cloud without an object store of ours is a cluster the stack does not create: no RWX storage either.
        installs_cache = spec.cloud in STORE_SCHEME and not spec.cluster_stack
        if m.cache is not None and m.cache.storage_class is None and not installs_cache:
            what = "a models-only stack (clusterStack)" if spec.cluster_stack else f"cloud: {spec.cloud}"
            yield (
                ("models", i, "cache", "storageClass"),
                f"required with {what}: this stack installs no ReadWriteMany storage for model caches; name a "
                "ReadWriteMany StorageClass of the cluster (NFS, EFS, NAS, CephFS...) or remove cache",
            )
    if spec.models:
        for i, a in enumerate(_releases(spec, with_pools=False)):
            for loc, msg in check_weights(a):
                yield ("models", i, *loc), msg


def cold_start(spec: StackSpec) -> Iterator[Problem]:
    if spec.models:
        for i, a in enumerate(_releases(spec, with_pools=True)):
            for loc, msg in check_cold_start(a):
                yield ("models", i, *loc), msg


def _releases(spec: StackSpec, *, with_pools: bool) -> list[ModelReleaseArgs]:
    # Imported here: stacks.workloads and stacks.contract import the spec package this module is part of.
    from stacks.contract import pool_facts
    from stacks.workloads.release_args import release_args

    pools = pool_facts(spec) if with_pools else ()
    return [release_args(spec, i, pools) for i in range(len(spec.models))]
