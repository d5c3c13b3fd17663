"""Wall-clock budget of a run, measured from the start of the process.

The run aims to be done at ``budget`` seconds; the hard wall is ``budget x 1.1 + 10`` seconds, past
which a watchdog ends the process with whatever is already saved. Deadlines are `time.monotonic()`
values so that fits deep in `tools` can honour them without knowing about budgets.
"""

from __future__ import annotations

import os
import time

HARD_FACTOR = 1.1
HARD_GRACE = 10.0


def process_start() -> float:
    """`time.monotonic()` at the moment this process started (Linux), else now."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        started_ticks = int(fields[19])
        with open("/proc/uptime", encoding="ascii") as handle:
            uptime = float(handle.read().split()[0])
        age = uptime - started_ticks / os.sysconf("SC_CLK_TCK")
        # CLOCK_MONOTONIC and /proc/uptime share their origin (boot) on Linux, up to suspend time.
        return time.monotonic() - max(0.0, min(age, 60.0))
    except (OSError, ValueError, IndexError):
        return time.monotonic()


class Clock:
    """Time left in the budget, and the deadlines derived from it."""

    def __init__(self, budget: float, *, started: float | None = None) -> None:
        self.budget = float(budget)
        self.started = process_start() if started is None else started

    @property
    def end(self) -> float:
        """When the run should be done (monotonic)."""
        return self.started + self.budget

    @property
    def hard_end(self) -> float:
        """The wall no run may pass (monotonic)."""
        return self.started + self.budget * HARD_FACTOR + HARD_GRACE

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        """Seconds until the soft end (negative when past it)."""
        return self.end - time.monotonic()

    def deadline_in(self, seconds: float) -> float:
        """A deadline ``seconds`` from now, never past the soft end."""
        return min(time.monotonic() + max(seconds, 0.0), self.end)
