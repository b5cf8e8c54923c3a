"""README stays true: the config reference equals what the spec models generate."""

from __future__ import annotations

from tools.config_reference import END, README, START, render


def test_config_reference_matches_spec_models() -> None:
    text = README.read_text()
    section = text[text.index(START): text.index(END) + len(END)]
    assert section == render(), "README config reference is stale: run python -m tools.config_reference --write"
