"""Run the real __main__.py of a stack under the recording monitor, in preview mode, and return the plan.

The plan is what the program asks the engine for — resources with inputs and options, stack outputs,
diagnostics — keyed by the URNs the engine would use. It is not an engine: no provider runs, nothing
is applied, and outputs a provider would compute stay `<computed>`, as in a real `pulumi preview`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks, settings
from pulumi.runtime.stack import run_pulumi_func

from tools.offline import limits
from tools.offline.config import PROJECT_DIR, StackConfig, load_stack_config
from tools.offline.recording import (
    COMPUTED,
    SECRET,
    DiagnosticsHandler,
    PlanMocks,
    RecordingMonitor,
    Registration,
    normalize,
)

STACK_TYPE = "pulumi:pulumi:Stack"


def _fresh_runtime(cfg: StackConfig, monitor: RecordingMonitor, logger: logging.Logger) -> None:
    # Each run gets its own loop, root stack and config: the SDK keeps these in process globals.
    asyncio.set_event_loop(asyncio.new_event_loop())
    settings.reset_options()
    pulumi.runtime.set_all_config(cfg.values, cfg.secret_keys)
    mocks.set_mocks(monitor.mocks, project=cfg.project, stack=cfg.stack, preview=True, monitor=monitor, logger=logger)


# Above any count a run reaches: the oldest generation is never collected while the program runs.
_NO_FULL_COLLECTION = 1 << 30


@contextlib.contextmanager
def _young_gc_only() -> Iterator[None]:
    """Run the program with full (oldest-generation) garbage collections off, then restore the thresholds.

    A run keeps several objects per registered resource (Outputs with their tasks and futures, serialized
    inputs, the recording) alive until it ends, so each full collection walks a heap that grows with the
    stack and frees almost nothing: that was the superlinear part of plan time (docs/performance.md).
    Young collections still run and free the short-lived cycles (asyncio tasks and futures): peak memory
    stays that of a run with the collector fully on, which switching it off entirely would not (+15%)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], _NO_FULL_COLLECTION)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _resolve(value: Any, loop: asyncio.AbstractEventLoop) -> Any:
    if isinstance(value, pulumi.Output):
        out: pulumi.Output[Any] = value
        if loop.run_until_complete(out.is_secret()):  # a preview shows an unknown secret as secret too
            return SECRET
        if not loop.run_until_complete(out.is_known()):
            return COMPUTED
        return _resolve(loop.run_until_complete(out.future()), loop)
    if isinstance(value, dict):
        return {str(k): _resolve(v, loop) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_resolve(v, loop) for v in value]
    return normalize(value)


def _engine_urns(regs: list[Registration], cfg: StackConfig) -> dict[str, tuple[str, str]]:
    """mock URN -> (engine URN, qualified type). The mock keeps only the parent's type and prefixes
    top-level resources with the Stack type; the engine uses the full type chain (pulumi#… generateURN)."""
    out: dict[str, tuple[str, str]] = {}
    for r in regs:
        parent = out.get(r.parent)
        qualified = f"{parent[1]}${r.type}" if parent else r.type
        out[r.mock_urn] = (f"urn:pulumi:{cfg.stack}::{cfg.project}::{qualified}::{r.name}", qualified)
    return out


def run_stack(
    stack: str,
    project_dir: Path = PROJECT_DIR,
    *,
    config: StackConfig | None = None,
    monitor: RecordingMonitor | None = None,
) -> dict[str, Any]:
    """Plan one stack. `config` replaces the stack file (generated configs: benchmarks, fuzzing);
    `monitor` lets a caller inspect what was registered even when the program fails."""
    cfg = config or load_stack_config(project_dir, stack)
    with _young_gc_only():  # docs/performance.md#garbage-collection
        return _plan(stack, project_dir, cfg, monitor or RecordingMonitor(PlanMocks()))


def _plan(stack: str, project_dir: Path, cfg: StackConfig, monitor: RecordingMonitor) -> dict[str, Any]:
    handler = DiagnosticsHandler()
    logger = logging.getLogger(f"gpu-platform.offline.{stack}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    _fresh_runtime(cfg, monitor, logger)
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    loop = asyncio.get_event_loop()
    main = str(project_dir / "__main__.py")

    def program() -> None:
        runpy.run_path(main, run_name="__main__")

    loop.run_until_complete(run_pulumi_func(program))
    root = pulumi.runtime.get_root_resource()
    outputs = _resolve(dict(getattr(root, "outputs", {}) or {}), loop)
    urns = _engine_urns(monitor.registered, cfg)

    def engine(ref: str) -> str:
        return urns.get(ref, (ref, ""))[0] if ref else ""

    resources: list[dict[str, Any]] = []
    for r in monitor.registered:
        provider_urn = r.provider.rsplit("::", 1)[0] if r.provider else ""
        entry: dict[str, Any] = {
            "urn": urns[r.mock_urn][0],
            "type": r.type,
            "name": r.name,
            "parent": "" if r.parent.endswith(f"::{STACK_TYPE}::{cfg.project}-{cfg.stack}") else engine(r.parent),
            "custom": r.custom,
            "provider": engine(provider_urn),
            "inputs": r.inputs,
            "options": {
                "protect": r.protect,
                "retainOnDelete": r.retain_on_delete,
                "deleteBeforeReplace": r.delete_before_replace,
                "ignoreChanges": r.ignore_changes,
                "replaceOnChanges": r.replace_on_changes,
                "aliases": r.aliases,
                "dependsOn": sorted(engine(d) for d in r.depends_on),
            },
        }
        if r.read:
            entry["read"] = True
        resources.append(entry)
    resources.sort(key=lambda e: e["urn"])
    loop.close()
    violations = limits.check(resources)  # what the providers' Check and the cloud APIs would refuse
    if violations:
        raise limits.NameLimitError(violations)
    return {
        "project": cfg.project,
        "stack": cfg.stack,
        "resources": resources,
        "outputs": outputs,
        "diagnostics": [{"severity": "warning", "message": w} for w in cfg.warnings] + handler.records,
    }
