"""Model rollouts from the stack file: status, promote, rollback, and the progressive-delivery loop `run`.

The command line and exit codes are in tools/release/cli.py; the loop in tools/release/loop.py;
docs/progressive-delivery.md explains both.
"""

from tools.release.cli import evaluate_gate, main
from tools.release.stackfile import StackFile, next_weight, split

__all__ = ["StackFile", "evaluate_gate", "main", "next_weight", "split"]
