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


def reference_key(stack_name: str, project: str | None = None) -> str:
    """The fixture a StackReference name reads: `<project>+<stack>`.

    Backends accept `<stack>`, `<org>/<stack>` and `<org>/<project>/<stack>` (the short forms take the
    current project). The organization part is the backend's business: your organization on Pulumi Cloud
    (`acme/gpu-platform/dev`), the literal `organization` on a self-managed backend -- S3, OSS, a local
    file (`organization/gpu-platform/dev`; pulumi/pulumi pkg/backend/diy/store.go ParseReference). Offline
    there is one set of fixtures, so the organization selects none: both names read the same file."""
    parts = stack_name.split("/")
    if len(parts) > 3 or not all(parts):
        raise KeyError(f"{stack_name!r} is not a stack name: write <organization>/<project>/<stack>")
    if len(parts) == 3:
        return f"{parts[1]}+{parts[2]}"
    if project is None:
        raise KeyError(f"{stack_name!r} names no project: write <organization>/<project>/<stack>")
    return f"{project}+{parts[-1]}"


class UnknownStackError(LookupError):
    """A StackReference names a stack the offline runner has no outputs for. The engine's words for a stack
    that does not exist are `unknown stack "<name>"` (pulumi pkg/backend/backend.go GetStackOutputs), and the
    preview fails on the StackReference read; offline the same read fails with this error."""


def fixture_path(stack_name: str, project: str | None = None) -> Path:
    return FIXTURE_DIR / f"{reference_key(stack_name, project)}.json"


def load(stack_name: str, project: str | None = None) -> dict[str, Any]:
    path = fixture_path(stack_name, project)
    if not path.exists():
        raise UnknownStackError(
            f"unknown stack {json.dumps(stack_name)}: the offline runner has no outputs for this stack reference "
            f"(the engine fails the same way when the stack does not exist); fix gpu-platform:clusterStack, or write "
            f"{path.relative_to(FIXTURE_DIR.parent.parent.parent)} with "
            "`python -m tools.offline.stack_outputs STACK-FILE ORGANIZATION/PROJECT/STACK`"
        )
    return json.loads(path.read_text())
