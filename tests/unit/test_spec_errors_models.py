"""Bad model-release config: each case asserts the exact message (key path, value, allowed, fix).

Cases whose input also trips a second rule (a duplicate version leaves the candidate unknown) assert
their message is among the problems; every other case asserts it is the only problem.
"""

from __future__ import annotations

import collections.abc
import copy
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias

import pytest

from components.models import validation
from components.models.args import ModelReleaseArgs
from components.models.validation import Problem
from stacks.spec.errors import key_path
from tests.spec_helpers import Case, assert_rejected, mutate, problems, raw_stack

DEV = raw_stack("dev")
PROD = raw_stack("prod")
M = "models.0"
# Inputs that also break a second rule: the message must be among the problems.
ALSO_OTHERS = [
    "duplicate model name",
    "duplicate version",
    "scale to zero on stable",
    "scale to zero without keda",
    "two releases same host",
]


def second_model(raw: dict[str, Any], **over: Any) -> dict[str, Any]:
    """The stack plus a copy of its first model named 'other' (then overridden)."""
    out = copy.deepcopy(raw)
    m = copy.deepcopy(out["models"][0])
    m["name"] = "other"
    m.update(over)
    out["models"].append(m)
    return out


CASES: list[Case] = [
    (
        "weight above 100",
        mutate(DEV, f"{M}.traffic.candidateWeight", 120),
        "gpu-platform:models[0].traffic.candidateWeight: must be <= 100, got 120",
    ),
    (
        "weight negative",
        mutate(DEV, f"{M}.traffic.candidateWeight", -5),
        "gpu-platform:models[0].traffic.candidateWeight: must be >= 0, got -5",
    ),
    (
        "unknown stable",
        mutate(DEV, f"{M}.traffic.stable", "v9"),
        "gpu-platform:models[0].traffic.stable: 'v9' is not a version of this model; choose one of ['v1', 'v2']",
    ),
    (
        "unknown candidate",
        mutate(DEV, f"{M}.traffic.candidate", "v7"),
        "gpu-platform:models[0].traffic.candidate: 'v7' is not a version of this model; choose one of ['v1', 'v2']",
    ),
    (
        "candidate is stable",
        mutate(DEV, f"{M}.traffic.candidate", "v1"),
        "gpu-platform:models[0].traffic.candidate: 'v1' is also the stable version; pick another version",
    ),
    (
        "weight without candidate",
        mutate(mutate(DEV, f"{M}.traffic.candidate"), f"{M}.traffic.candidateWeight", 10),
        "gpu-platform:models[0].traffic.candidateWeight: 10 with no candidate; set traffic.candidate or make the weight 0",
    ),
    (
        "shadow with live weight",
        mutate(DEV, f"{M}.traffic.shadow", {"version": "v2", "percent": 5}),
        "gpu-platform:models[0].traffic.shadow.version: 'v2' also takes 10% live traffic; its metrics would mix mirrored and live requests; shadow a version with weight 0",
    ),
    (
        "shadow of stable",
        mutate(DEV, f"{M}.traffic.shadow", {"version": "v1"}),
        "gpu-platform:models[0].traffic.shadow.version: 'v1' also takes 90% live traffic; its metrics would mix mirrored and live requests; shadow a version with weight 0",
    ),
    (
        "shadow unknown version",
        mutate(DEV, f"{M}.traffic.shadow", {"version": "v5"}),
        "gpu-platform:models[0].traffic.shadow.version: 'v5' is not a version of this model; choose one of ['v1', 'v2']",
    ),
    (
        "shadow percent zero",
        mutate(DEV, f"{M}.traffic.shadow", {"version": "v2", "percent": 0}),
        "gpu-platform:models[0].traffic.shadow.percent: must be > 0.0, got 0",
    ),
    (
        "uppercase header",
        mutate(DEV, f"{M}.traffic.abRoutes", [{"header": "X-Model-Variant", "values": ["v2"], "version": "v2"}]),
        "gpu-platform:models[0].traffic.abRoutes[0].header: 'X-Model-Variant' must be lowercase letters, digits and '-' (Istio matches header names in lowercase); write 'x-model-variant'",
    ),
    (
        "pseudo header",
        mutate(DEV, f"{M}.traffic.abRoutes", [{"header": "uri", "values": ["/x"], "version": "v2"}]),
        "gpu-platform:models[0].traffic.abRoutes[0].header: 'uri' is an Istio pseudo-header match, not a request header; use a custom header such as 'x-model-variant'",
    ),
    (
        "ab neither values nor regex",
        mutate(DEV, f"{M}.traffic.abRoutes", [{"header": "x-variant", "version": "v2"}]),
        "gpu-platform:models[0].traffic.abRoutes[0]: set exactly one of values or regex",
    ),
    (
        "ab regex does not compile",
        mutate(DEV, f"{M}.traffic.abRoutes", [{"header": "x-variant", "regex": "v(2", "version": "v2"}]),
        "gpu-platform:models[0].traffic.abRoutes[0].regex: 'v(2' does not compile (missing ), unterminated subpattern at position 1); Istio uses RE2 syntax",
    ),
    (
        "ab unknown version",
        mutate(DEV, f"{M}.traffic.abRoutes", [{"header": "x-variant", "values": ["a"], "version": "v3"}]),
        "gpu-platform:models[0].traffic.abRoutes[0].version: 'v3' is not a version of this model; choose one of ['v1', 'v2']",
    ),
    (
        "tag instead of digest",
        mutate(DEV, f"{M}.versions.0.image", "111122223333.dkr.ecr.us-west-2.amazonaws.com/serving/vllm-openai:latest"),
        "gpu-platform:models[0].versions[0].image: '111122223333.dkr.ecr.us-west-2.amazonaws.com/serving/vllm-openai:latest' is not pinned by digest; write '<repository>@sha256:<digest>', the digest lowercase, 64 hex digits (tags can be moved; resolve one with 'crane digest <ref>')",
    ),
    (
        "bad semver",
        mutate(DEV, f"{M}.versions.0.semver", "2.0"),
        "gpu-platform:models[0].versions[0].semver: '2.0' is not a semantic version; write MAJOR.MINOR.PATCH, e.g. '1.4.0'",
    ),
    (
        "duplicate version",
        mutate(DEV, f"{M}.versions.1.name", "v1"),
        "gpu-platform:models[0].versions: version name 'v1' is used twice; version names must be unique",
    ),
    (
        "bad runtime",
        mutate(DEV, f"{M}.versions.0.runtime", "onnx"),
        "gpu-platform:models[0].versions[0].runtime: 'onnx' is not allowed; choose one of 'triton', 'torchserve', 'tfserving', 'vllm' or 'custom'",
    ),
    (
        "mig profile not offered",
        mutate(PROD, "models.1.versions.0.gpu", {"migProfile": "3g.40gb"}),
        "gpu-platform:models[1].versions[0].gpu.migProfile: '3g.40gb' is not offered by any pool (pools offer: 1g.5gb, 2g.10gb, 3g.20gb); pick an offered profile or add a MIG pool whose layout contains it",
    ),
    (
        "mig profile syntax",
        mutate(PROD, "models.1.versions.0.gpu", {"migProfile": "2g10gb"}),
        "gpu-platform:models[1].versions[0].gpu.migProfile: '2g10gb' is not a MIG profile name; write it like '2g.10gb'",
    ),
    (
        "mig with count > 1",
        mutate(PROD, "models.1.versions.0.gpu", {"migProfile": "2g.10gb", "count": 2}),
        "gpu-platform:models[1].versions[0].gpu.count: 2 with migProfile '2g.10gb': a CUDA process uses only one MIG device, so more slices per pod are unusable; remove count or use whole GPUs",
    ),
    (
        "no gpu kind",
        mutate(DEV, f"{M}.versions.0.gpu", {"modelMemoryGib": 4}),
        "gpu-platform:models[0].versions[0].gpu: set exactly one of count, migProfile, timeSliced (got none)",
    ),
    (
        "two gpu kinds",
        mutate(DEV, f"{M}.versions.0.gpu", {"count": 1, "timeSliced": True}),
        "gpu-platform:models[0].versions[0].gpu: set exactly one of count, migProfile, timeSliced (got count, timeSliced)",
    ),
    (
        "model memory larger than mig slice",
        mutate(PROD, "models.1.versions.0.gpu", {"migProfile": "2g.10gb", "modelMemoryGib": 16}),
        "gpu-platform:models[1].versions[0].gpu.modelMemoryGib: 16 GiB does not fit one 2g.10gb MIG slice with 10 GiB of GPU memory; choose a larger slice or more whole GPUs, or quantise the model",
    ),
    (
        "model memory larger than gpu",
        mutate(DEV, f"{M}.versions.0.gpu.modelMemoryGib", 40),
        "gpu-platform:models[0].versions[0].gpu.modelMemoryGib: 40 GiB does not fit 1 whole GPU with 24 GiB of GPU memory; choose a larger slice or more whole GPUs, or quantise the model",
    ),
    (
        "time sliced without pool",
        mutate(DEV, f"{M}.versions.0.gpu", {"timeSliced": True}),
        "gpu-platform:models[0].versions[0].gpu.timeSliced: no pool shares GPUs by time-slicing; add a pool with gpu.sharing 'time-slicing' or request whole GPUs (count: 1)",
    ),
    (
        "too many gpus per pod",
        mutate(DEV, f"{M}.versions.0.gpu", {"count": 4}),
        "gpu-platform:models[0].versions[0].gpu.count: 4 whole GPU(s) per pod: no pool with whole GPUs has that many per node (largest: 1); lower count or add a larger pool",
    ),
    (
        "unknown gpu model",
        mutate(DEV, f"{M}.versions.0.gpu", {"count": 1, "model": "h200"}),
        "gpu-platform:models[0].versions[0].gpu.model: 'h200' is not a GPU model in the catalog; choose one of ['a10', 'a100-40gb', 'a100-80gb', 'a10g', 'a30-24gb', 'b200-180gb', 'h100-80gb', 'h200-141gb', 'l20', 'l4', 'l40s', 't4', 'v100-16gb', 'v100-32gb']",
    ),
    (
        "min > max replicas",
        mutate(DEV, f"{M}.autoscaling.minReplicas", 3),
        "gpu-platform:models[0].autoscaling.minReplicas: 3 is greater than maxReplicas 1; make minReplicas <= maxReplicas",
    ),
    (
        "version min > max",
        mutate(DEV, f"{M}.versions.1.autoscaling", {"minReplicas": 2, "maxReplicas": 1}),
        "gpu-platform:models[0].versions[1].autoscaling.minReplicas: 2 is greater than maxReplicas 1; make minReplicas <= maxReplicas",
    ),
    (
        "scale to zero on canary",
        mutate(DEV, f"{M}.versions.1.autoscaling", {"minReplicas": 0, "maxReplicas": 1}),
        "gpu-platform:models[0].versions[1].autoscaling.minReplicas: 0 (scale to zero) for version 'v2', which takes 10% canary traffic: with no pods the rollout gates see no data and the first requests wait for a cold GPU start; use minReplicas >= 1 for it",
    ),
    (
        "scale to zero on stable",
        mutate(DEV, f"{M}.autoscaling.minReplicas", 0),
        "gpu-platform:models[0].autoscaling.minReplicas: 0 (scale to zero) for version 'v1', which takes 90% live traffic as the stable version: with no pods the rollout gates see no data and the first requests wait for a cold GPU start; use minReplicas >= 1 for it",
    ),
    (
        "scale to zero without keda",
        mutate(
            mutate(DEV, f"{M}.traffic.candidate"),
            f"{M}.versions.1.autoscaling",
            {"engine": "none", "minReplicas": 0, "maxReplicas": 1},
        ),
        "gpu-platform:models[0].versions[1].autoscaling.minReplicas: 0 with engine 'none' runs no pods at all; use engine 'keda' or minReplicas >= 1",
    ),
    (
        "grace shorter than timeout",
        mutate(DEV, f"{M}.terminationGraceSeconds", 60),
        "gpu-platform:models[0].terminationGraceSeconds: 60s is shorter than preStop 10s + traffic.timeoutSeconds 120s + 5s; in-flight requests would be killed on scale-down; use at least 135",
    ),
    (
        "timeout below slo",
        mutate(DEV, f"{M}.traffic.timeoutSeconds", 1),
        "gpu-platform:models[0].traffic.timeoutSeconds: 1s is below slo.p99Ms 2000ms: requests would be cut off before the latency SLO could fire; raise the timeout or lower the SLO",
    ),
    (
        "retry on 5xx",
        mutate(DEV, f"{M}.traffic.retries", {"retryOn": "5xx,connect-failure"}),
        "gpu-platform:models[0].traffic.retries.retryOn: '5xx,connect-failure' retries 5xx: a retried request re-runs its GPU work on another replica; use 'connect-failure,refused-stream' or set allowGpuRetries: true",
    ),
    (
        "too many retries",
        mutate(DEV, f"{M}.traffic.retries", {"attempts": 5}),
        "gpu-platform:models[0].traffic.retries.attempts: must be <= 3, got 5",
    ),
    (
        "rollout steps not ending at 100",
        mutate(DEV, f"{M}.rolloutSteps", [10, 50, 25]),
        "gpu-platform:models[0].rolloutSteps: [10, 50, 25] must be strictly increasing weights between 1 and 100 that end at 100, e.g. [10, 25, 50, 100]",
    ),
    (
        "two releases same host",
        second_model(DEV, hosts=["llama3-8b.models.dev.example.com"]),
        "gpu-platform:models[1].hosts[0]: 'llama3-8b.models.dev.example.com' is already routed by model 'llama3-8b'; two VirtualServices for one host merge unpredictably; give each model its own host",
    ),
    (
        "duplicate model name",
        second_model(DEV, name="llama3-8b"),
        "gpu-platform:models[1].name: model name 'llama3-8b' is used twice; model names must be unique",
    ),
    (
        "bad host",
        mutate(DEV, f"{M}.hosts", ["Llama.Example.com"]),
        "gpu-platform:models[0].hosts[0]: 'Llama.Example.com' is not a lowercase DNS hostname such as 'llama.models.example.com'",
    ),
    (
        "system namespace",
        mutate(DEV, f"{M}.namespace", "kube-system"),
        "gpu-platform:models[0].namespace: 'kube-system' is a system namespace; model servers need their own Pod Security and NetworkPolicy rules, so use a dedicated namespace",
    ),
    (
        "prod artifact without sha256",
        mutate(PROD, "models.0.versions.0.artifact.sha256"),
        "gpu-platform:models[0].versions[0].artifact.sha256: required in prod; set the artifact's sha256 (64 hex) so what was evaluated is what is served",
    ),
    (
        "artifact outside the model's bucket",
        mutate(PROD, "models.0.versions.0.artifact.uri", "s3://llama3-8b-artifacts/v1/"),
        "gpu-platform:models[0].versions[0].artifact.uri: 's3://llama3-8b-artifacts/v1/' is not in the model's own "
        "artifact store s3://gpu-prod-llama3-8b-artifacts/ (artifactBucket: true; its servers may read only that); "
        "write 's3://gpu-prod-llama3-8b-artifacts/<path>', or remove artifactBucket to load the weights from a "
        "store you manage",
    ),
    (
        "prod version without artifact",
        # Without artifactBucket, which asks for the artifact in its own words.
        mutate(mutate(PROD, "models.2.versions.0.artifact"), "models.2.artifactBucket", False),
        "gpu-platform:models[2].versions[0].artifact: required in prod: set {uri, sha256} so the served weights are the evaluated ones",
    ),
    (
        "hf artifact without revision",
        mutate(DEV, f"{M}.versions.0.artifact", {"uri": "hf://meta/llama3"}),
        "gpu-platform:models[0].versions[0].artifact.uri: 'hf://meta/llama3' has no revision; pin 'hf://org/model@<commit>' so the weights cannot change under the same version",
    ),
    (
        "artifact unknown scheme",
        mutate(DEV, f"{M}.versions.0.artifact", {"uri": "ftp://x/y"}),
        "gpu-platform:models[0].versions[0].artifact.uri: 'ftp://x/y' has no supported scheme; use one of s3://, oss://, gs://, hf://, pvc://",
    ),
    (
        "bad sha256",
        mutate(DEV, f"{M}.versions.0.artifact", {"uri": "hf://meta/llama3@main", "sha256": "abc"}),
        "gpu-platform:models[0].versions[0].artifact.sha256: 'abc' is not a sha256; write 64 lowercase hex digits",
    ),
    (
        "bad metadata key",
        mutate(DEV, f"{M}.versions.0.metadata", {"eval report": "x"}),
        "gpu-platform:models[0].versions[0].metadata.eval report: 'eval report' cannot be an annotation name; use up to 58 letters, digits, '-', '_' or '.'",
    ),
    (
        "slo window",
        mutate(DEV, f"{M}.slo.window", "5 minutes"),
        "gpu-platform:models[0].slo.window: '5 minutes' is not a Prometheus duration; write e.g. '5m' or '1h'",
    ),
    (
        "unknown model key",
        mutate(DEV, f"{M}.replicas", 3),
        "gpu-platform:models[0].replicas: unknown key; allowed keys: analysis, artifactBucket, autoscaling, cache, gateway, hosts, maxSurge, name, namespace, rolloutSteps, slo, stableScaling, terminationGraceSeconds, tier, traffic, versions",
    ),
    (
        "bad tier",
        mutate(DEV, f"{M}.tier", "gold"),
        "gpu-platform:models[0].tier: 'gold' is not allowed; choose one of 'critical', 'standard' or 'batch'",
    ),
    (
        "analysis interval too short",
        mutate(DEV, f"{M}.analysis", {"interval": "30s"}),
        "gpu-platform:models[0].analysis.interval: '30s' is shorter than 1m; a rate() over fewer than 4 scrapes (15s) swings with single requests; use '1m' or longer",
    ),
    (
        "analysis looks back beyond the step",
        mutate(DEV, f"{M}.analysis", {"stepInterval": "5m", "intervals": 10}),
        "gpu-platform:models[0].analysis.stepInterval: '5m' is shorter than the 10 x 1m the analysis looks back over, which would judge traffic from the previous step; raise stepInterval or lower intervals",
    ),
    (
        "analysis check repeated",
        mutate(
            DEV,
            f"{M}.analysis",
            {
                "checks": [
                    {"metric": "p99Ms", "against": "stable", "max": 1.5},
                    {"metric": "p99Ms", "against": "stable", "max": 2},
                ]
            },
        ),
        "gpu-platform:models[0].analysis.checks[1]: check p99Ms against stable repeats checks[0]; keep one of them",
    ),
    (
        "analysis requires more intervals than analysed",
        mutate(
            DEV,
            f"{M}.analysis",
            {"intervals": 3, "checks": [{"metric": "errorRatio", "max": 0.01, "requiredPassing": 4}]},
        ),
        "gpu-platform:models[0].analysis.checks[0].requiredPassing: 4 is more than the 3 intervals analysed; use at most 3",
    ),
    (
        "analysis relative max below 1",
        mutate(DEV, f"{M}.analysis", {"checks": [{"metric": "p99Ms", "against": "stable", "max": 0.8}]}),
        "gpu-platform:models[0].analysis.checks[0].max: 0.8 would require the candidate to beat the stable version; use 1 or more (1.5: at most 50% worse)",
    ),
    (
        "analysis ignoreBelow on a threshold",
        mutate(DEV, f"{M}.analysis", {"checks": [{"metric": "errorRatio", "max": 0.01, "ignoreBelow": 0.001}]}),
        "gpu-platform:models[0].analysis.checks[0].ignoreBelow: applies only to checks against the stable version; remove it, or set against: stable",
    ),
    (
        "analysis error ratio threshold of 1",
        mutate(DEV, f"{M}.analysis", {"checks": [{"metric": "errorRatio", "max": 1}]}),
        "gpu-platform:models[0].analysis.checks[0].max: 1 is not a ratio errorRatio can reach; use a value below 1 (0.01 = 1%)",
    ),
    (
        "analysis gpu saturation above 1",
        mutate(DEV, f"{M}.analysis", {"checks": [{"metric": "gpuSaturation", "max": 95}]}),
        "gpu-platform:models[0].analysis.checks[0].max: 95 is not a ratio gpuSaturation can reach; use a value at most 1 (0.9 = 90% busy)",
    ),
    (
        "analysis gpu saturation on time-sliced GPUs",
        mutate(PROD, "models.2.analysis", {"checks": [{"metric": "gpuSaturation", "against": "stable", "max": 1.3}]}),
        "gpu-platform:models[2].analysis.checks[0].metric: 'gpuSaturation' needs a GPU per pod, but version(s) v1 use time-sliced GPUs, whose utilisation DCGM cannot attribute to one pod; drop this check",
    ),
    (
        "analysis unknown metric",
        mutate(DEV, f"{M}.analysis", {"checks": [{"metric": "latency", "max": 1}]}),
        "gpu-platform:models[0].analysis.checks[0].metric: 'latency' is not allowed; choose one of 'errorRatio', 'p99Ms' or 'gpuSaturation'",
    ),
    (
        "analysis unknown key",
        mutate(DEV, f"{M}.analysis", {"stepIntervall": "10m"}),
        "gpu-platform:models[0].analysis.stepIntervall: unknown key; did you mean 'stepInterval'?",
    ),
    (
        "analysis bad duration",
        mutate(DEV, f"{M}.analysis", {"stepInterval": "10 minutes"}),
        "gpu-platform:models[0].analysis.stepInterval: '10 minutes' is not a duration; write a whole number with s, m or h, e.g. '10m'",
    ),
    (
        "analysis min requests zero",
        mutate(DEV, f"{M}.analysis", {"minRequests": 0}),
        "gpu-platform:models[0].analysis.minRequests: must be >= 1, got 0",
    ),
    (
        "digest uppercase and 63 hex digits",
        mutate(
            DEV,
            f"{M}.versions.0.image",
            "111122223333.dkr.ecr.us-west-2.amazonaws.com/serving/vllm@sha256:" + "A" + "1" * 62,
        ),
        "gpu-platform:models[0].versions[0].image: '111122223333.dkr.ecr.us-west-2.amazonaws.com/serving/vllm@sha256:A"
        + "1" * 62
        + "': the digest after '@sha256:' must be lowercase, 64 hex digits; this one has 63 characters and uppercase "
        "letters (copy it again, e.g. with 'crane digest <ref>')",
    ),
    (
        "digest with a character that is not hex",
        mutate(
            DEV, f"{M}.versions.0.image", "111122223333.dkr.ecr.us-west-2.amazonaws.com/serving/vllm@sha256:" + "g" * 64
        ),
        "gpu-platform:models[0].versions[0].image: '111122223333.dkr.ecr.us-west-2.amazonaws.com/serving/vllm@sha256:"
        + "g" * 64
        + "': the digest after '@sha256:' must be lowercase, 64 hex digits; this one has characters that are not hex "
        "digits (copy it again, e.g. with 'crane digest <ref>')",
    ),
    (
        "infinite memory given as text",
        mutate(DEV, f"{M}.versions.0.memoryGib", "inf"),  # `memoryGib: 'inf'`; unquoted .inf stops at the reader
        "gpu-platform:models[0].versions[0].memoryGib: expected a finite number, got 'inf'; write a number such as 16",
    ),
]


ReleaseRule: TypeAlias = Callable[[ModelReleaseArgs], Iterator[Problem]]


def release_rule_groups() -> list[ReleaseRule]:
    """The groups of rules check_release runs: the functions of components/models/validation.py that take
    one release and yield its problems."""
    groups: list[ReleaseRule] = []
    for _, fn in inspect.getmembers(validation, inspect.isfunction):
        hints = typing.get_type_hints(fn)
        params = list(inspect.signature(fn).parameters)
        if (
            fn.__module__ == validation.__name__
            and len(params) == 1
            and hints.get(params[0]) is ModelReleaseArgs
            and typing.get_origin(hints.get("return")) is collections.abc.Iterator
        ):
            groups.append(fn)
    return groups


def reported_by_group(raw: dict[str, Any], groups: list[ReleaseRule]) -> dict[str, set[str]]:
    """The messages (as the stack spec renders them) each group yields while parse_spec checks `raw`."""
    found: dict[str, set[Problem]] = {fn.__name__: set() for fn in groups}

    def recording(fn: ReleaseRule) -> ReleaseRule:
        def run(a: ModelReleaseArgs) -> Iterator[Problem]:
            for problem in fn(a):
                found[fn.__name__].add(problem)
                yield problem

        return run

    with pytest.MonkeyPatch.context() as mp:
        for fn in groups:
            mp.setattr(validation, fn.__name__, recording(fn))
        problems(raw)
    # A group sees one release and not its index: render the problem at every models[i].
    indices = range(len(raw["models"]))
    return {
        g: {f"{key_path(('models', i, *loc))}: {msg}" for loc, msg in ps for i in indices} for g, ps in found.items()
    }


def test_every_group_of_release_rules_reports_the_message_of_a_case() -> None:
    groups = release_rule_groups()
    assert len(groups) > 1, "check_release is no longer split into groups of rules; nothing to check here"
    credited: dict[str, list[str]] = {fn.__name__: [] for fn in groups}
    for name, raw, message in CASES:
        for group, messages in reported_by_group(raw, groups).items():
            if message in messages:
                credited[group].append(name)
    missing = [g for g, names in credited.items() if not names]
    assert missing == [], f"no case here fails with a message from components.models.validation.{missing}"


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fails_with_exact_message(case: Case) -> None:
    assert_rejected(case, only=case[0] not in ALSO_OTHERS)


def test_capacity_check_names_step_numbers_and_fixes() -> None:
    # dev's L4 pool has 2 GPUs; with one surge pod the 10% step needs 3.
    assert problems(mutate(DEV, f"{M}.maxSurge", 1)) == [
        "gpu-platform:models[0]: model 'llama3-8b' does not fit at rollout step 10% (stable v1 x1, candidate v2 x1, "
        "surge v2 x1): needs 3 nvidia.com/gpu; eligible pools gpu-l4 (maxSize 2) hold 2 nvidia.com/gpu; fixes: raise "
        "nodePools[gpu-l4].maxSize from 2 to 3; set maxSurge: 0 (roll pods one at a time without a spare GPU)"
    ]


def test_capacity_check_offers_every_fix_that_the_planner_confirms() -> None:
    assert problems(mutate(PROD, "models.0.autoscaling.maxReplicas", 4)) == [
        "gpu-platform:models[0]: model 'llama3-8b' does not fit at rollout step 100% (stable v1 x4, candidate v2 x4, "
        "surge v2 x1): needs 9 nvidia.com/gpu; eligible pools gpu-a10g (maxSize 6) hold 6 nvidia.com/gpu; fixes: raise "
        "nodePools[gpu-a10g].maxSize from 6 to 9; set stableScaling: shrinkWithWeight (the stable releases pods as its "
        "traffic share falls); lower autoscaling.maxReplicas from 4 to 2"
    ]


def test_each_fix_really_fixes() -> None:
    base = mutate(PROD, "models.0.autoscaling.maxReplicas", 4)
    for fixed in (
        mutate(base, "nodePools.1.maxSize", 9),
        mutate(base, "models.0.stableScaling", "shrinkWithWeight"),
        mutate(base, "models.0.autoscaling.maxReplicas", 2),
    ):
        try:
            problems(fixed)
        except AssertionError as accepted:
            assert "accepted" in str(accepted)
        else:
            raise AssertionError("a suggested fix did not fix the capacity problem")


def test_capacity_counts_the_other_releases_on_the_same_pool() -> None:
    raw = second_model(DEV, hosts=["other.models.dev.example.com"])
    assert (
        "gpu-platform:models[1]: model 'other' does not fit at rollout step 10% (stable v1 x1, candidate v2 x1): "
        "needs 2 nvidia.com/gpu + 2 nvidia.com/gpu for the other releases' floors; eligible pools gpu-l4 "
        "(maxSize 2) hold 2 nvidia.com/gpu; fixes: raise nodePools[gpu-l4].maxSize from 2 to 4"
    ) in problems(raw)
