"""The offline StackReference fixture carries every output a models-only stack reads from its cluster
stack (stacks/cluster/reference.py: clusterFacts and modelReleases), so the offline plan of a models-only
stack refuses what the real preview refuses: a model the cluster stack deploys itself."""

from __future__ import annotations

import pytest

from stacks.cluster.reference import MODELS_OUTPUT, OUTPUT
from stacks.spec.errors import ConfigError
from tests.spec_helpers import raw_stack
from tools.offline import stack_outputs
from tools.offline.config import config_from_raw
from tools.offline.runner import run_stack


def test_the_fixture_exports_what_the_models_only_stack_reads() -> None:
    assert set(stack_outputs.EXPORTED) == {OUTPUT, MODELS_OUTPUT}
    fixture = stack_outputs.load(raw_stack("models-dev")["clusterStack"])
    assert set(fixture) == {OUTPUT, MODELS_OUTPUT}
    assert "llama3-8b" in fixture[MODELS_OUTPUT]


def test_offline_a_models_only_stack_deploying_the_cluster_stacks_model_is_refused() -> None:
    raw = raw_stack("models-dev")
    raw["models"][0] = {**raw["models"][0], "name": "llama3-8b", "hosts": ["llama3-8b.models.dev.example.com"]}
    with pytest.raises(ConfigError) as err:  # the fixture answers the read, as tools.plan does
        run_stack("layered", config=config_from_raw(raw, "layered"))
    assert any("model 'llama3-8b' is already deployed by cluster stack" in p for p in err.value.problems)
