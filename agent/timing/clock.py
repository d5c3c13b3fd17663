"""The run's one clock: its budget, when it started, and the deadlines derived from them.

A run owns exactly one `Clock`. It is created with the run and started once, when the run's time begins
to count: at the start of the ``mlpilot`` process for the CLI (but never earlier than the Python
interpreter's own start, see `command_start`), at approval for a plan approved in the chat, at the
resume for a resumed run. Until it starts it is paused: the whole budget is left, and no wall applies
(a plan waiting for the person's approval costs the run nothing). Nothing else keeps a copy of the
budget or of the start; everything that needs time left asks this object.

The run aims to be done at ``budget`` seconds; the hard wall is ``budget x 1.1 + 10`` seconds, past
which the watchdog ends the run with whatever is already saved. Times are `time.monotonic()` values, so
that fits deep in `tools` can honour a deadline without knowing about budgets.
"""

from __future__ import annotations

import math
import os
import time

HARD_FACTOR = 1.1
HARD_GRACE = 10.0
# What a Python process may have spent before our first line ran (interpreter start-up, site imports,
# disk waits) beyond the CPU time it reports.
STARTUP_ALLOWANCE = 1.0


def process_start() -> float:
    """`time.monotonic()` at the moment this process was created (Linux), else now.

    This is the fork, not the exec: for ``bash -c 'a && mlpilot ...'`` it is the shell's start, because
    bash execs the last command in its own process.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        started_ticks = int(fields[19])
        with open("/proc/uptime", encoding="ascii") as handle:
            uptime = float(handle.read().split()[0])
        age = uptime - started_ticks / os.sysconf("SC_CLK_TCK")
        # CLOCK_MONOTONIC and /proc/uptime share their origin (boot) on Linux, up to suspend time.
        return time.monotonic() - max(0.0, age)
    except (OSError, ValueError, IndexError):
        return time.monotonic()


def interpreter_start() -> float:
    """An early bound on when this Python interpreter started: now, less the CPU time the process has
    used (a shell that exec'd us used next to none; its children's time is not ours) and a small
    allowance for waiting on the disk."""
    return time.monotonic() - time.process_time() - STARTUP_ALLOWANCE


def command_start() -> float:
    """When a command's clock starts: the process's start, but never before the interpreter's own start
    minus a small allowance, so that a parent shell's time (``sleep 20 && mlpilot run``, a pip install
    before it) is not charged to the run."""
    return max(process_start(), interpreter_start())


class ClockError(RuntimeError):
    """A clock used against its life cycle (started twice, or its budget changed once running)."""


class Clock:
    """The budget of a run and the time left in it.

    Args:
        budget: seconds for the whole run (may be set later with `set_budget`, before the start).
        started: `time.monotonic()` of the start, to create a running clock directly.
    """

    def __init__(self, budget: float | None = None, *, started: float | None = None) -> None:
        self._budget = float(budget) if budget is not None else None
        self._started: float | None = None
        if started is not None:
            self.start(at=started)

    # ---- life cycle ----------------------------------------------------------------------------------

    @property
    def budget(self) -> float:
        """Seconds for the whole run."""
        if self._budget is None:
            raise ClockError("the run's budget is not decided yet")
        return self._budget

    @property
    def has_budget(self) -> bool:
        return self._budget is not None

    def set_budget(self, seconds: float) -> None:
        """Decide (or change, before the start) the budget."""
        if self._started is not None:
            raise ClockError("the budget of a running clock cannot change")
        if not math.isfinite(seconds) or seconds <= 0:
            raise ClockError(f"a budget must be a positive number of seconds; got {seconds!r}")
        self._budget = float(seconds)

    def start(self, *, at: float | None = None, budget: float | None = None) -> None:
        """Start the clock (once), at ``at`` (`time.monotonic()`; default now)."""
        if self._started is not None:
            raise ClockError("the run's clock is already running")
        if budget is not None:
            self.set_budget(budget)
        if self._budget is None:
            raise ClockError("a clock cannot start before its budget is decided")
        self._started = time.monotonic() if at is None else float(at)

    @property
    def running(self) -> bool:
        return self._started is not None

    @property
    def started(self) -> float | None:
        """`time.monotonic()` of the start, None while paused."""
        return self._started

    # ---- reading it ----------------------------------------------------------------------------------

    @property
    def end(self) -> float:
        """When the run should be done (monotonic); infinite while paused."""
        return self._started + self.budget if self._started is not None else math.inf

    @property
    def hard_end(self) -> float:
        """The wall no run may pass (monotonic); infinite while paused."""
        return self._started + self.hard_limit if self._started is not None else math.inf

    @property
    def hard_limit(self) -> float:
        """Seconds from the start to the wall."""
        return self.budget * HARD_FACTOR + HARD_GRACE

    def elapsed(self) -> float:
        """Seconds since the start (0 while paused)."""
        return time.monotonic() - self._started if self._started is not None else 0.0

    def left(self) -> float:
        """Seconds until the soft end (negative when past it); the whole budget while paused."""
        return self.end - time.monotonic() if self._started is not None else self.budget

    def deadline_in(self, seconds: float) -> float:
        """A deadline ``seconds`` from now, never past the soft end."""
        return min(time.monotonic() + max(seconds, 0.0), self.end)

    def to_dict(self) -> dict:
        """For events: budget, seconds used and left, and the wall."""
        out: dict = {"budget": self._budget, "running": self.running}
        if self.running:
            out.update(elapsed=round(self.elapsed(), 2), left=round(self.left(), 2),
                       hard_wall=round(self.hard_limit, 1))
        return out
