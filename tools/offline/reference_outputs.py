"""What a `pulumi:pulumi:StackReference` read returns offline: the referenced stack's outputs from the
fixture files in tools/offline/stack_outputs/, and the placeholders those files share with the plan.

Imported by recording.py (PlanMocks answers the reads) and by stack_outputs.py (the command that writes
the fixtures from a plan); it imports neither, so tools/offline stays free of import cycles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURE_DIR = Path(__file__).resolve().parent / "stack_outputs"
# The plan's placeholders for values a preview cannot know, and how fixture files spell a secret.
COMPUTED = "<computed>"
SECRET = "<secret>"
SECRET_KEY = "<secret>"
SECRET_FAKE = "offline-secret:"


def fixture_path(stack_name: str) -> Path:
    return FIXTURE_DIR / f"{stack_name.replace('/', '+')}.json"


def load(stack_name: str) -> dict[str, Any]:
    path = fixture_path(stack_name)
    if not path.exists():
        raise KeyError(
            f"the offline runner has no outputs for stack reference {stack_name!r}; write "
            f"{path.relative_to(FIXTURE_DIR.parent.parent.parent)} with "
            "`python -m tools.offline.stack_outputs STACK-FILE ORG/PROJECT/STACK`"
        )
    return json.loads(path.read_text())
