"""A run on a background thread, so the chat stays responsive: questions can be asked while it trains,
and ``/stop`` or Ctrl-C stops it gracefully."""

from __future__ import annotations

import threading
from typing import Callable

from agent.job.runner import Run, RunOutcome


class RunWorker:
    """Drives one `Run` to its end on a thread and reports when it is done."""

    def __init__(self, run: Run, step: Callable[[], object], on_done: Callable[[RunOutcome], None]) -> None:
        self.run = run
        self._step = step
        self._on_done = on_done
        self.thread = threading.Thread(target=self._work, daemon=True, name="mlpilot-run")
        self.stopping = False

    def start(self) -> None:
        self.thread.start()

    @property
    def active(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        self.stopping = True
        self.run.stop()

    def wait(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    def _work(self) -> None:
        self._step()
        if self.run.outcome is not None:
            self._on_done(self.run.outcome)
