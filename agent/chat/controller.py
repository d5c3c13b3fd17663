"""The chat's run controller: the one run the chat has in hand, from its creation to its end.

A run moves through four phases (`RunController.phase`); each method says which phase it needs and
raises `RuntimeError` in any other, since calling it there is a bug in the caller:

    idle --open()/resume()--> ready --run_until_plan()--> awaiting_approval --approve()--> running
                              ready --start()--> running                    --cancel()--> idle
    idle --reopen()--> awaiting_approval (a plan an earlier session left waiting)
    running --stop(), or the run's end--> idle

"ready" exists so the caller can tell the person a run is starting before its first progress line:
the run is created, then started. Planning runs in the caller's thread (the person waits for the
plan); training runs on a `RunWorker` thread, so the chat stays responsive and ``/stop`` reaches it.

The controller keeps the session's record of runs: ``run_id`` and ``run_dir`` (the current run),
``runs`` (those that finished with a folder) and ``plan_edits`` (the person's edits to the waiting
plan, kept so a later session can approve it). When a run ends it updates that record, then hands the
outcome to ``on_finished``: what to tell the person is the caller's business.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Literal

from agent.chat.session import Session
from agent.chat.worker import RunWorker
from agent.job.runner import Run, RunOutcome
from agent.record.runfolder import resolve_run
from agent.settings import Settings
from tools.errors import MlpilotError

Phase = Literal["idle", "ready", "awaiting_approval", "running"]
Listener = Callable[[dict], None]


class RunController:
    """Starts, pauses for approval, resumes and stops the chat's runs, and tracks the current one.

    Args:
        session: the chat session whose run record this keeps.
        runs_dir: where run folders live (to find runs by id and fall back to the last one).
        listen: gets every event of the run in hand (the terminal's progress display), or None.
        on_finished: gets the outcome of each run that ends, after the record is updated; called on
            the worker's thread for a run that trained.
    """

    def __init__(self, session: Session, *, runs_dir: Path, listen: Listener | None,
                 on_finished: Callable[[RunOutcome], None]) -> None:
        self.session = session
        self.runs_dir = Path(runs_dir)
        self.listen = listen
        self.on_finished = on_finished
        self.pending: Run | None = None   # paused at its plan, waiting for approval
        self.worker: RunWorker | None = None
        self._ready: Run | None = None    # created or rehydrated, not started yet

    # ---- what is going on ----------------------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        if self.running:
            return "running"
        if self.pending is not None:
            return "awaiting_approval"
        return "ready" if self._ready is not None else "idle"

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.active

    @property
    def stopping(self) -> bool:
        """A stop was asked for and the run is finishing with its best model so far."""
        return self.running and self.worker.stopping

    @property
    def plan(self) -> dict | None:
        """The plan waiting for approval, as the paused run shows it."""
        return self.pending.pending if self.pending is not None else None

    @property
    def edits(self) -> list[dict]:
        """The person's edits to the waiting plan; kept in the session, so a later session can approve it."""
        return list(self.session.state.get("plan_edits") or [])

    @edits.setter
    def edits(self, value: list[dict]) -> None:
        self.session.remember(plan_edits=list(value))

    def run_dir(self, which: str = "") -> Path | None:
        """The run asked about: an id or folder, else the current one."""
        if which:
            return resolve_run(which, self.runs_dir)
        current = self.session.state.get("run_dir")
        return Path(current) if current else None

    # ---- idle -> ready -------------------------------------------------------------------------------

    def open(self, settings: Settings) -> RunOutcome | None:
        """Create a new run for ``settings`` and make it the current one (idle -> ready).

        Returns the failed outcome when no run could be created (an unusable data path); nothing else
        changes then.
        """
        self._expect("idle")
        run = Run.create(settings, started=time.monotonic(), listen=self.listen)
        if isinstance(run, RunOutcome):
            return run
        self.session.remember(run_id=run.ctx.run_id, run_dir=str(run.run_dir))
        self._ready = run
        return None

    def resume(self, run_dir: Path, *, budget: float | None) -> str:
        """Rehydrate the interrupted run in ``run_dir`` from its checkpoint with ``budget`` (None: its
        own) and make it the current one (idle -> ready); returns its id.

        Raises:
            ConfigError: the run cannot be resumed (finished, no checkpoints, its data changed).
        """
        from agent.job.resume import resume_run

        self._expect("idle")
        run = resume_run(run_dir, budget=budget, started=time.monotonic(), runs_dir=self.runs_dir,
                         listen=self.listen, interactive=True)
        self.session.remember(run_id=run.ctx.run_id, run_dir=str(run_dir))
        self._ready = run
        return run.ctx.run_id

    # ---- ready -> awaiting_approval or running ---------------------------------------------------------

    def run_until_plan(self) -> bool:
        """Run the ready run in this thread until its plan waits for approval (ready -> awaiting_approval,
        with no edits yet): True. A run that ends before its plan (refused, say) goes to idle and
        ``on_finished``: False."""
        self._expect("ready")
        run, self._ready = self._ready, None
        if _first_step(run) is None:
            self._ended(run)
            return False
        self.pending, self.edits = run, []
        return True

    def start(self) -> None:
        """Train the ready run to its end on the worker thread, with no approval (ready -> running)."""
        self._expect("ready")
        run, self._ready = self._ready, None
        self._work(run, lambda: _first_step(run))

    # ---- awaiting_approval ---------------------------------------------------------------------------

    def reopen(self, run_dir: Path, *, budget: float | None) -> bool:
        """Pause the run an earlier session left waiting for approval at its plan again, with the edits
        made then (idle -> awaiting_approval): True. A run that ends instead goes to ``on_finished``
        and its edits are dropped: False.

        Raises:
            ConfigError: the run cannot be brought back (its edits are dropped too).
        """
        from agent.job.resume import resume_run

        self._expect("idle")
        try:
            # No listener while its early steps run again: the person saw them in the earlier session.
            run = resume_run(run_dir, budget=budget, started=time.monotonic(), runs_dir=self.runs_dir,
                             listen=None, interactive=True, approve=True)
        except MlpilotError:
            self.edits = []
            raise
        if run.continue_from(run.resume_config) is None:
            self.edits = []
            self._ended(run)
            return False
        if self.listen is not None:
            run.ctx.events.subscribe(self.listen)
        self.pending = run
        return True

    def edit(self, change: dict) -> None:
        """Record an edit to the waiting plan; it replaces an earlier edit of the same kind and column."""
        self._expect("awaiting_approval")
        self.edits = [e for e in self.edits
                      if not (e["kind"] == change["kind"] and e.get("column") == change.get("column"))] + [change]

    def approve(self) -> None:
        """Train the waiting run with the edits on the worker thread (awaiting_approval -> running)."""
        self._expect("awaiting_approval")
        run, edits = self.pending, self.edits
        self.pending, self.edits = None, []
        self._work(run, lambda: run.resume({"action": "approve", "edits": edits}))

    def cancel(self) -> None:
        """Drop the waiting plan; the run and its folder go, nothing was trained (awaiting_approval -> idle)."""
        self._expect("awaiting_approval")
        self.pending.resume({"action": "cancel"})
        self.pending, self.edits = None, []
        self._back_to_last_run()

    def leave(self) -> None:
        """The person leaves the chat: a plan waiting for approval stays waiting on disk, for a later session
        to reopen (`reopen`) with its edits, which stay saved; this session lets go of its checkpoints and its
        folder's lock."""
        if self.phase == "awaiting_approval":
            self.pending.abandon()
            self.pending = None

    # ---- running -------------------------------------------------------------------------------------

    def stop(self) -> bool:
        """Ask the training run to stop gracefully (it finishes with the best model so far and then goes
        to idle); False when no run is training."""
        if not self.running:
            return False
        self.worker.stop()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds for the training run to end."""
        if self.worker is not None:
            self.worker.wait(timeout)

    # ---- internals -----------------------------------------------------------------------------------

    def _expect(self, phase: Phase) -> None:
        if self.phase != phase:
            raise RuntimeError(f"the run controller is {self.phase}; this needs it {phase}")

    def _work(self, run: Run, step: Callable[[], object]) -> None:
        self.worker = RunWorker(run, step, lambda outcome: self._ended(run))
        self.worker.start()

    def _ended(self, run: Run) -> None:
        outcome = run.outcome
        if outcome is None:  # a run only stops short of an outcome while it waits for approval
            return
        if outcome.run_dir is None:
            self._back_to_last_run()
        else:
            runs = self.session.state.get("runs") or []
            self.session.remember(runs=list(dict.fromkeys(runs + [outcome.run_id])))
        self.on_finished(outcome)

    def _back_to_last_run(self) -> None:
        """After a plan that left no run folder (cancelled, or refused before training), questions and
        reports are about the last run that did finish again."""
        last = next((r for r in reversed(self.session.state.get("runs") or []) if (self.runs_dir / r).is_dir()),
                    None)
        self.session.remember(run_id=last, run_dir=str(self.runs_dir / last) if last else None)


def _first_step(run: Run) -> dict | None:
    """Run a new run from its start, a rehydrated one from its checkpoint; the plan when it waits."""
    if run.resume_config is not None:
        return run.continue_from(run.resume_config)
    return run.start()
