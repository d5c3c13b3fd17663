"""What the graph's nodes share besides the state: settings, the run folder, the event log, the run's
clock and time plan, the decider, the stop flag, and the workspace of heavy objects (frames, results,
fitted models).

The graph state holds only JSON-able values (a DataFrame in state breaks checkpointing); everything
heavy lives in `Workspace`, keyed by name, and on disk in the run folder.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, TypedDict

from agent.decide.decider import Decider
from agent.record.events import EventLog
from agent.record.runfolder import Manifest
from agent.settings import Settings
from agent.timing.clock import Clock
from agent.timing.timeplan import TimePlan

# The share of the time plan each graph node spends from.
NODE_STEP = {"quick_look": "prepare", "intake": "prepare", "profile": "prepare", "plan": "prepare", "clean": "select",
             "first_model": "first_model", "select": "select", "tune": "tune", "finalize": "final",
             "evaluate": "evaluate", "refit": "final", "scale_out": "scale"}


class RunState(TypedDict, total=False):
    """The graph state: small, JSON-able facts of the run so far."""

    run_id: str
    run_dir: str
    step: str
    status: str
    stop_reason: str | None
    target: str
    task: str
    classes: list
    metric: str
    threshold_rule: dict | None
    validation: dict
    column_plan: dict
    candidates: list[str]
    sensitive: dict   # column -> category: what the fairness audit compares groups by
    quick_look: dict
    first_model: dict
    sample: dict
    leaderboard: list[dict]
    failed_candidates: dict[str, str]
    tuning: dict
    final: dict
    evaluation: dict
    refit: bool
    scaled: bool
    iterating: bool
    warnings: list[str]


@dataclass
class Workspace:
    """Heavy objects of one run, by name (``table``, ``train``, ``results``, ``model`` ...)."""

    items: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.items[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.items[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        return self.items.get(key, default)


class StopRequest:
    """A stop asked of the run from outside the graph (Ctrl-C, /stop, the time wall), with its cause;
    the first request wins."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.cause: str | None = None

    def ask(self, cause: str) -> bool:
        with self._lock:
            if self._event.is_set():
                return False
            self.cause = cause
            self._event.set()
            return True

    def asked(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class RunContext:
    """Runtime context of the graph (LangGraph ``context_schema``): read-only for the nodes.

    Nodes change the run through their state updates; the heavy objects the state names (frames, fitted
    models) go into ``workspace``, and the record into ``events`` and ``manifest``. ``clock`` and
    ``plan`` belong to the run: created with it, started once (see `agent.timing.clock`), never replaced.
    ``decider`` is made with the rules in charge and handed the run's policy before the graph starts.
    ``started`` is when the run object was made (the origin of the events' ``t``), which in the chat is
    before the clock starts at approval.
    """

    settings: Settings
    run_id: str
    run_dir: Path
    events: EventLog
    manifest: Manifest
    decider: Decider
    started: float
    clock: Clock
    plan: TimePlan
    stop: StopRequest = field(default_factory=StopRequest)
    workspace: Workspace = field(default_factory=Workspace)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def stop_cause(self) -> str | None:
        """``user`` or ``wall`` once a stop was asked for, else None."""
        return self.stop.cause

    def should_stop(self) -> bool:
        """True once a stop was asked for: by the user (Ctrl-C, /stop) or by the time wall."""
        return self.stop.asked()

    def request_stop(self, cause: str) -> bool:
        """Ask the run to finish with what it has; ``cause`` is ``user`` or ``wall``. False if it was
        already asked."""
        return self.stop.ask(cause)

    def seconds_left(self) -> float:
        return self.clock.left()

    @contextmanager
    def step(self, name: str, **details: Any) -> Iterator[None]:
        """Log the start and end of a step, with its duration in the manifest's timings; its time is
        charged to its share of the time plan."""
        share = NODE_STEP.get(name, name)
        with self.plan.spending(share) as allotted:
            timing = {"left": round(self.clock.left(), 1), "allotted": round(allotted, 1),
                      "share": share} if self.clock.running else {"share": share}
            self.events.emit("step_started", step=name, **timing, **details)
            start = time.monotonic()
            try:
                yield
            finally:
                seconds = round(time.monotonic() - start, 3)
                self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 3)
                self.events.emit("step_finished", step=name, seconds=seconds)
                self.manifest.update(timings=self.timings)
