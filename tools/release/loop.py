"""`python -m tools.release run MODEL --stack S`: the progressive-delivery loop (docs/progressive-delivery.md).

The stack file stays the source of truth: every decision is an edit of `traffic` in it followed by an
apply, and the loop always starts from what the file says. One step:

1. make the deployed state equal the file: unless the journal records that this very split was applied,
   apply it first ("resume" after a crash between edit and apply, "apply" after a hand edit or a merged PR);
2. weight 0 with a candidate the loop never rolled back: go to the first rollout step;
3. wait until the step has run `analysis.stepInterval` since it was applied;
4. analyse (tools/release/judge.py) and decide: pass -> next step (at 100%: the candidate becomes the
   stable); fail -> weight 0; inconclusive -> re-analyse one interval later, at most
   `analysis.maxInconclusive` times, then weight 0.

Each edit is journaled before the file is written (`pending`) and confirmed after the apply (`applied`),
so a crash anywhere resumes to the right state. A lock (flock on the state directory's `lock` file) keeps
two runs for the same stack and model apart; the kernel drops it when the process dies.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap

from stacks.spec.analysis import analysis_problems, seconds
from stacks.spec.errors import ConfigError, from_validation_error, key_path
from stacks.spec.models import ModelSpec
from tools.release.apply import Applier, InvalidConfig
from tools.release.errors import APPLY_FAILED, LOCKED, OK, REFUSED, ReleaseError
from tools.release.judge import RangeQuery, StepAnalysis, analyse
from tools.release.stackfile import KEY, StackFile, split, steps_of, weight_of, write_atomic

MAX_NODES = 100_000
"""A model mapping is a few hundred nodes; more means an alias bomb, refused before it is expanded."""


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class Hooks:
    """`after_edit(state)`: right after the stack file is written, before the apply (tests inject a crash
    there). `after_step(line)`: after each applied decision, with its log line (the workflow commits the
    stack file there: .github/workflows/release-run.yml)."""

    after_edit: Callable[[str], None] = lambda state: None
    after_step: Callable[[str], None] = lambda line: None


def shell_after_step(command: str, stack_file: Path, state_dir: Path) -> Callable[[str], None]:
    """`--after-step CMD`: run CMD with bash after each applied decision. Its environment names the
    decision (RELEASE_DECISION, the log line), the stack file and the decision log files."""

    def run(line: str) -> None:
        env = {
            **os.environ,
            "RELEASE_DECISION": line,
            "RELEASE_STACK_FILE": str(stack_file),
            "RELEASE_DECISIONS": str(state_dir / "decisions.json"),
            "RELEASE_SUMMARY": str(state_dir / "summary.md"),
        }
        try:
            res = subprocess.run(
                ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=600, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ReleaseError(f"error: --after-step did not finish: {err}", APPLY_FAILED) from None
        if res.returncode != 0:
            raise ReleaseError(
                f"error: the step was applied, but --after-step exited {res.returncode}: {res.stderr.strip()[-500:]}; "
                "fix it and run again (the loop resumes from the stack file)",
                APPLY_FAILED,
            )

    return run


def state_key(t: CommentedMap) -> str:
    """The split as one comparable string: `stable|candidate|weight`."""
    return f"{t.get('stable')}|{t.get('candidate') or ''}|{weight_of(t) if t.get('candidate') else 0}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Lock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def __enter__(self) -> Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise ReleaseError(
                f"error: another run holds {self.path} ({holder}); wait for it to finish, nothing was changed", LOCKED
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {_iso(time.time())}\n")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


@dataclass
class Journal:
    path: Path
    applied: dict[str, Any] | None = None
    pending: dict[str, Any] | None = None
    inconclusive: int = 0
    rolled_back: str | None = None

    @classmethod
    def load(cls, path: Path) -> Journal:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as err:
            raise ReleaseError(f"error: journal {path} is unreadable ({err}); remove it to start over") from None
        if not isinstance(data, dict):
            raise ReleaseError(f"error: journal {path} is not a JSON object; remove it to start over")
        applied, pending, rolled_back = data.get("applied"), data.get("pending"), data.get("rolled_back")
        inconclusive = data.get("inconclusive", 0)
        shapes_ok = (
            all(x is None or (isinstance(x, dict) and isinstance(x.get("state"), str)) for x in (applied, pending))
            and (rolled_back is None or isinstance(rolled_back, str))
            and isinstance(inconclusive, int)
        )
        if not shapes_ok:
            raise ReleaseError(f"error: journal {path} is not one this tool wrote; remove it to start over")
        return cls(path, applied, pending, inconclusive, rolled_back)

    def save(self) -> None:
        body = {
            "applied": self.applied,
            "pending": self.pending,
            "inconclusive": self.inconclusive,
            "rolled_back": self.rolled_back,
        }
        write_atomic(self.path, json.dumps(body, indent=2, sort_keys=True) + "\n")


@dataclass
class DecisionLog:
    """decisions.json (every decision with its numbers) and summary.md (the same for a reviewer)."""

    directory: Path
    stack: str
    model: str
    decisions: list[dict[str, Any]] = field(default_factory=list)
    out: Callable[[str], None] = print

    @classmethod
    def load(cls, directory: Path, stack: str, model: str, out: Callable[[str], None]) -> DecisionLog:
        log = cls(directory, stack, model, out=out)
        try:
            data = json.loads((directory / "decisions.json").read_text())
            log.decisions = list(data["decisions"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return log

    def add(self, at: float, decision: str, before: str, after: str, reason: str, **extra: Any) -> None:
        entry = {"at": _iso(at), "decision": decision, "from": before, "to": after, "reason": reason, **extra}
        self.decisions.append(entry)
        self.out(self.line(entry))
        analysis = extra.get("analysis")
        if isinstance(analysis, dict) and analysis.get("checks"):
            self.out(_indent(StepAnalysis(**_analysis_args(analysis)).table()))
        self.save()

    @staticmethod
    def line(e: dict[str, Any]) -> str:
        change = f"{e['from']} -> {e['to']}" if e["from"] != e["to"] else e["from"]
        applied = f" [applied {e['apply']['mode']}: {e['apply']['summary']}]" if e.get("apply") else ""
        return f"{e['at']} {e['decision']}: {change}; {e['reason']}{applied}"

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        body = {"stack": self.stack, "model": self.model, "decisions": self.decisions}
        write_atomic(self.directory / "decisions.json", json.dumps(body, indent=2) + "\n")
        lines = [f"# Release of {self.model} on {self.stack}", ""]
        for e in self.decisions:
            lines.append(f"- {self.line(e)}")
            a = e.get("analysis")
            if isinstance(a, dict) and a.get("checks"):
                lines += ["", _indent(StepAnalysis(**_analysis_args(a)).table()), ""]
        write_atomic(self.directory / "summary.md", "\n".join(lines) + "\n")


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.rstrip("\n").splitlines())


def _analysis_args(a: dict[str, Any]) -> dict[str, Any]:
    from tools.release.judge import CheckResult, Interval

    return {
        "verdict": a["verdict"],
        "reason": a["reason"],
        "checks": [CheckResult(**c) for c in a["checks"]],
        "intervals": [Interval(**i) for i in a["intervals"]],
    }


def _plain(node: Any, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise ReleaseError(f"error: the model has more than {MAX_NODES} YAML nodes (an alias bomb?); refused")
    if isinstance(node, dict):
        return {str(k): _plain(v, budget) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, budget) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return str(node)


def typed_model(sf: StackFile, m: CommentedMap) -> ModelSpec:
    """The model validated as far as `run` relies on it: field types and bounds, the analysis rule, and its
    stable and candidate being versions of it (the whole stack is validated by the apply)."""
    index = sf.models().index(m)
    try:
        model = ModelSpec.model_validate(_plain(m, [MAX_NODES]))
    except ValidationError as exc:
        raise ReleaseError(str(ConfigError(from_validation_error(exc, ModelSpec, ("models", index))))) from None
    time_sliced = [v.name for v in model.versions if v.gpu.time_sliced]
    found = analysis_problems(index, model.analysis, time_sliced) if model.analysis else []
    problems = [f"{key_path(loc)}: {msg}" for loc, msg in found]
    names = [v.name for v in model.versions]
    for key, version in (("stable", model.traffic.stable), ("candidate", model.traffic.candidate)):
        if version is not None and version not in names:
            problems.append(
                f"{key_path(('models', index, 'traffic', key))}: {version!r} is not a version of this model; "
                f"choose one of {names}"
            )
    if problems:
        raise ReleaseError(str(ConfigError(problems)))
    if model.analysis is None:
        raise ReleaseError(
            f"error: {sf.path.name}: model {model.name!r} has no `analysis:` block; add one to {KEY}[{index}] "
            "(docs/progressive-delivery.md) to let `run` judge its steps"
        )
    return model


@dataclass
class Run:
    project_dir: Path
    stack: str
    model: str
    state_dir: Path
    query: RangeQuery
    applier: Applier
    clock: Clock = field(default_factory=SystemClock)
    hooks: Hooks = field(default_factory=Hooks)
    out: Callable[[str], None] = print

    def run(self) -> int:
        with Lock(self.state_dir / "lock"):
            self.journal = Journal.load(self.state_dir / "journal.json")
            self.log = DecisionLog.load(self.state_dir, self.stack, self.model, self.out)
            return self._loop()

    # --- one edit + apply, journaled --------------------------------------------------------------

    def _load(self) -> tuple[StackFile, CommentedMap, CommentedMap]:
        sf = StackFile.load(self.project_dir, self.stack)
        m = sf.model(self.model)
        return sf, m, sf.editable_traffic(m)

    def _apply(self, decision: str, before: str, after: str, reason: str, **extra: Any) -> None:
        sf, _, t = self._load()
        result = self.applier.apply(self.project_dir, self.stack)
        self.journal.applied = {"state": state_key(t), "at": self.clock.now()}
        self.journal.pending = None
        self.journal.save()
        self.log.add(
            self.clock.now(),
            decision,
            before,
            after,
            reason,
            apply={"mode": result.mode, "summary": result.summary},
            **extra,
        )
        if result.detail and result.detail != result.summary:
            self.out(_indent(result.detail))
        del sf  # read only to take the split that was applied
        self.hooks.after_step(DecisionLog.line(self.log.decisions[-1]))

    def _edit(self, decision: str, edit: Callable[[CommentedMap], None], reason: str, **extra: Any) -> None:
        sf, _, t = self._load()
        before = split(t)
        original = sf.path.read_text(encoding="utf-8")
        edit(t)
        self.journal.pending = {"state": state_key(t), "at": self.clock.now()}
        self.journal.save()
        sf.save()
        self.hooks.after_edit(state_key(t))
        try:
            self._apply(decision, before, split(t), reason, **extra)
        except InvalidConfig as err:
            write_atomic(sf.path, original)  # the new split does not validate: the file goes back
            self.journal.pending = None
            self.journal.save()
            raise ReleaseError(
                f"{decision} refused, the new config is invalid; {sf.path.name} left unchanged\n{err.message}"
            ) from None

    # --- the loop --------------------------------------------------------------------------------

    def _loop(self) -> int:
        while True:
            sf, m, t = self._load()
            spec = typed_model(sf, m)
            a = spec.analysis
            assert a is not None  # typed_model refuses a model without one
            key = state_key(t)
            if (self.journal.applied or {}).get("state") != key:
                pending = (self.journal.pending or {}).get("state") == key
                reason = (
                    "the previous run stopped between editing the stack file and applying it; applying it now"
                    if pending
                    else "no record that this loop applied this split (first run, or the file was edited since); "
                    "applying it first"
                )
                self._apply("resume" if pending else "apply", split(t), split(t), reason)
                continue
            cand = t.get("candidate")
            if not cand:
                self.out(f"{self.model}: {split(t)}; no candidate, nothing to roll out")
                return OK
            w = weight_of(t)
            if w is None:
                raise ReleaseError(
                    f"error: {sf.path.name}: {self.model} traffic.candidateWeight {t.get('candidateWeight')!r} is not "
                    f"a whole number from 0 to 100; repair it with: python -m tools.release promote {self.model} "
                    f"--stack {self.stack} --to 0"
                )
            steps = [s for s in steps_of(m) if 0 < s <= 100] or [100]
            if w == 0:
                if self.journal.rolled_back == cand:
                    self.out(
                        f"{self.model}: candidate {cand} was rolled back by an earlier run; to try again, raise "
                        f"its weight in a pull request (or: python -m tools.release promote {self.model} --stack "
                        f"{self.stack} --next)"
                    )
                    return REFUSED
                first = steps[0]
                self._edit("start", _weight(first), f"first rollout step {first}%")
                continue
            self.journal.rolled_back = None
            applied_at = float((self.journal.applied or {}).get("at", self.clock.now()))
            due = applied_at + seconds(a.step_interval)
            if self.clock.now() < due:
                self.clock.sleep(due - self.clock.now())
                _, _, now_t = self._load()
                if state_key(now_t) != key:
                    self.out(
                        f"{self.model}: the stack file changed during the wait ({split(now_t)}); starting over from it"
                    )
                    continue  # the file is the truth: apply what it says now, then wait and judge that
            result = analyse(spec, str(cand), w, self.clock.now(), self.query)
            extra = {"weight": w, "verdict": result.verdict, "analysis": result.to_json()}
            if result.verdict == "pass":
                self.journal.inconclusive = 0
                nxt = next((s for s in steps if s > w), None)
                if nxt is None:
                    self._edit("finish", _finish, f"analysis at {w}%: pass; {cand} becomes the stable version", **extra)
                    return OK
                self._edit(
                    "promote",
                    _weight(nxt),
                    f"analysis at {w}%: pass; next step {nxt}%",
                    **extra,
                )
                continue
            if result.verdict == "inconclusive":
                self.journal.inconclusive += 1
                if self.journal.inconclusive <= a.max_inconclusive:
                    self.journal.save()
                    self.log.add(
                        self.clock.now(),
                        "retry",
                        split(t),
                        split(t),
                        f"analysis at {w}%: inconclusive ({result.reason}); retry {self.journal.inconclusive} of "
                        f"{a.max_inconclusive} in {a.interval}",
                        **extra,
                    )
                    self.clock.sleep(seconds(a.interval))
                    continue
                why = f"inconclusive {self.journal.inconclusive} times ({result.reason}); inconclusive is never a pass"
            else:
                why = f"analysis at {w}%: fail ({result.reason})"
            self.journal.inconclusive = 0
            self.journal.rolled_back = str(cand)
            self._edit("rollback", _weight(0), why, **extra)
            return REFUSED


def _weight(w: int) -> Callable[[CommentedMap], None]:
    def edit(t: CommentedMap) -> None:
        t["candidateWeight"] = w

    return edit


def _finish(t: CommentedMap) -> None:
    t["stable"] = t["candidate"]
    del t["candidate"]
    if "candidateWeight" in t:
        del t["candidateWeight"]
