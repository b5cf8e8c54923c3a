"""Exit codes of `python -m tools.release` and the error that carries one (docs/progressive-delivery.md#exit-codes).

Every refusal is a ReleaseError: main() prints its message (no traceback) and exits with its code.
"""

from __future__ import annotations

OK = 0
"""Done: promoted, rolled back on request, or the rollout finished."""
REFUSED = 1
"""The analysis refused: `promote` gate failed or was inconclusive; `run` rolled the candidate back."""
INVALID = 2
"""Invalid request or input: unknown stack or model, unreadable stack file, bad weight, a result that
does not validate, a traffic block shared through a YAML anchor. Nothing was changed."""
LOCKED = 3
"""Another `run` holds the lock of this stack and model; nothing was changed."""
APPLY_FAILED = 4
"""The stack file was edited but applying it failed; the journal keeps the step pending and the next
`run` applies it first (idempotent resume)."""


INTERNAL = 5
"""An unexpected error inside the tool (a bug): one line, no traceback; the journal keeps the state."""


class ReleaseError(Exception):
    """A refusal with a message for the user and the exit code it ends with."""

    def __init__(self, message: str, code: int = INVALID) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
