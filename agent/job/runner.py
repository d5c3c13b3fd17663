"""Running one job end to end: the run folder, the graph, Ctrl-C, the time wall, the report.

`run_job` (and the `Run` it drives) never lets an exception escape as a traceback: a problem the user must fix (`MlpilotError`)
ends the run as ``failed`` with its message; any other exception is a bug, whose traceback goes to the
event log while the user sees one line. Bad input found before any model work leaves no run folder
behind; later failures keep the folder, marked ``failed``, without a model passed off as a result.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command
from threadpoolctl import threadpool_limits

from agent.decide.decider import Decider
from agent.decide.policy import Policy
from agent.decide.rules import RulePolicy
from agent.job.approval import PlanCancelled
from agent.job.context import RunContext
from agent.job.graph import build_graph
from agent.job.llm import make_llm_policy, write_narrative
from agent.llm.policy import LLMPolicy
from agent.record.checkpoints import checkpoint_serializer
from agent.record.events import EventLog
from agent.record.fairness_report import fairness_warnings
from agent.record.reader import RunRecord
from agent.record.report import render_report
from agent.record.runfolder import EVENTS, MODEL, Manifest, new_run_dir, read_json
from agent.record.runlock import RunLock
from agent.settings import Settings
from agent.timing.clock import Clock
from agent.timing.timeplan import TimePlan
from tools.errors import MlpilotError, StorageFull, storage_full
from tools.sniff import check_path

EXIT_OK, EXIT_BUG, EXIT_USER, EXIT_WALL, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143
CHECKPOINTS = "checkpoints.sqlite"
EARLY_STEPS = ("quick_look", "intake", "profile", "plan")


@dataclass
class RunOutcome:
    """How a run ended, for the CLI and for notebooks."""

    run_id: str | None
    run_dir: Path | None
    status: str
    exit_code: int
    error: str | None = None
    metrics: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)


class Run:
    """One run: its folder, context and graph. ``run_job`` executes it in one go; the chat executes it in two
    halves around the plan approval (`start`, then `resume`) on a background thread it can `stop`."""

    def __init__(self, ctx: RunContext, policy: Policy, lock: RunLock | None = None) -> None:
        self.ctx = ctx
        self.policy = policy
        self.outcome: RunOutcome | None = None
        self.pending: dict | None = None
        self.resume_config: dict | None = None
        self._done = threading.Event()
        self._lock = lock or RunLock(ctx.run_dir).acquire()
        self._conn = sqlite3.connect(ctx.run_dir / CHECKPOINTS, check_same_thread=False)
        self.graph = build_graph(SqliteSaver(self._conn, serde=checkpoint_serializer()))
        self.config = {"configurable": {"thread_id": ctx.run_id}}
        on_wall = _stop_at_the_wall if ctx.settings.interactive else _exit_at_the_wall
        threading.Thread(target=watchdog, args=(ctx, self._done, on_wall), daemon=True,
                         name="mlpilot-watchdog").start()

    @classmethod
    def create(cls, settings: Settings, *, started: float, argv: list[str] | None = None,
               listen: Callable[[dict], None] | None = None, policy: Policy | None = None) -> "Run | RunOutcome":
        """A new run folder and its context, or a failed outcome when the data path is unusable.

        The budget is decided here; the clock starts at ``started`` unless the plan waits for the
        person's approval in the chat, where it starts at approval.
        """
        if settings.data is None:
            return RunOutcome(None, None, "failed", EXIT_USER, "No data file given. Pass a CSV or Parquet file.")
        try:
            check_path(settings.data)
            if settings.storage:  # a database that cannot be reached is bad input: say so before a folder is made
                from tools.storage import open_storage

                open_storage(settings.storage)
            if settings.dask:  # so is a scheduler that does not answer, or Dask missing
                from tools.bigdata import open_client

                open_client(settings.dask, workers=settings.dask_workers, memory=settings.dask_memory)
            run_id, run_dir = new_run_dir(settings.runs_dir, settings.data.name)
        except MlpilotError as exc:
            return RunOutcome(None, None, "failed", EXIT_USER, str(exc))
        manifest = Manifest.create(run_dir, run_id, settings.public(), argv or [])
        ctx = open_context(settings, run_id, run_dir, manifest, started=started, listen=listen)
        ctx.events.emit("run_started", run_id=run_id, goal=settings.goal, data=str(settings.data),
                        policy=policy.name if policy else "llm" if settings.llm_enabled else "rules",
                        model=settings.llm_model, seed=settings.seed, settings=settings.public())
        run = cls(ctx, activate_policy(ctx, policy))
        budget = ctx.decider.one(lambda p: p.choose_budget(settings.goal, settings.budget), {}, step="start")
        ctx.clock.set_budget(float(budget.choice))
        if not settings.interactive or settings.yes:
            ctx.clock.start(at=started)
        ctx.events.emit("budget", step="start", seconds=ctx.clock.budget, hard_wall=round(ctx.clock.hard_limit, 1),
                        elapsed=round(ctx.clock.elapsed(), 2), running=ctx.clock.running,
                        llm_cap=round(ctx.plan.llm_cap, 1))
        return run

    @property
    def run_dir(self) -> Path:
        return self.ctx.run_dir

    def start(self) -> dict | None:
        """Run from the beginning until the plan awaits approval (returns the plan) or to the end (None)."""
        return self._execute({"run_id": self.ctx.run_id, "run_dir": str(self.ctx.run_dir)}, self.config)

    def resume(self, answer: dict) -> dict | None:
        """Continue after the approval pause with the person's ``answer``."""
        self.pending = None
        return self._execute(Command(resume=answer), self.config)

    def continue_from(self, config: dict) -> dict | None:
        """Continue from an earlier checkpoint (resuming an interrupted run)."""
        return self._execute(None, config)

    def stop(self) -> None:
        """Ask for a graceful stop (the user's): the best model so far is finished and saved."""
        if self.ctx.request_stop("user"):
            self.ctx.events.emit("interrupt", message="stop requested: finishing with the best model so far")

    def abandon(self) -> None:
        """Let go of a run that will not be executed (a resume refused before it began): its checkpoints, its
        folder's lock and its watchdog; nothing is written."""
        self._conn.close()
        self._lock.release()
        self._done.set()

    def _execute(self, graph_input: Any, config: dict) -> dict | None:
        ctx = self.ctx
        status, code, error = "completed", EXIT_OK, None
        received: list[int] = []
        restore = _install_interrupt(ctx, received)
        try:
            with warnings.catch_warnings(), threadpool_limits(limits=ctx.settings.n_jobs):
                warnings.simplefilter("ignore")
                _quiet_libraries()
                result = self.graph.invoke(graph_input, config, context=ctx)
            if result.get("__interrupt__"):
                self.pending = result["__interrupt__"][0].value
                ctx.manifest.update(status="awaiting_approval")
                return self.pending
            if ctx.should_stop():
                status, code = ("timed_out", EXIT_WALL) if ctx.stop_cause == "wall" else ("interrupted",
                                                                                          _exit_code(received))
        except PlanCancelled as exc:
            status, code, error = "cancelled", EXIT_OK, str(exc)
        except StorageFull as exc:
            status, code, error = "died", EXIT_USER, str(exc)
        except MlpilotError as exc:
            status, code, error = "failed", EXIT_USER, str(exc)
            ctx.events.emit("error", origin="user", message=error)
        except KeyboardInterrupt:
            status, code = "interrupted", _exit_code(received)
            error = "stopped at once by a second " + ("SIGTERM" if code == EXIT_TERMINATED else "Ctrl-C")
            ctx.events.emit("error", origin="interrupt", message=error)
        except Exception as exc:
            full = storage_full(exc, ctx.run_dir)
            if full is not None:  # a library's own write (a study's journal, a checkpoint) found no room
                status, code, error = "died", EXIT_USER, str(full)
            else:  # a bug: full traceback in the log, one line for the user
                status, code = "failed", EXIT_BUG
                error = (f"internal error ({type(exc).__name__}: {exc}); the traceback is in "
                         f"{ctx.run_dir / EVENTS}. Please report it.")
                ctx.events.emit("error", origin="bug", message=str(exc), traceback=traceback.format_exc())
        finally:
            restore()
            if ctx.settings.dask:  # the run's cluster (a local one's processes) is not needed past its graph
                from tools.bigdata import close_clients

                close_clients()
        self._end(status, code, ctx.events.redact(error) if error else None)
        return None

    def _end(self, status: str, code: int, error: str | None) -> None:
        ctx, active = self.ctx, self.policy
        if status == "died":
            self._died((error or "no room to write").replace("RUN", ctx.run_id))
            return
        if status in ("completed", "interrupted") and isinstance(active, LLMPolicy):
            write_narrative(ctx, active)
        if isinstance(active, LLMPolicy):
            ctx.manifest.update(llm={**ctx.manifest.data.get("llm", {}), "usage": active.client.usage.to_dict(),
                                     "prompts": active.prompts})
        self._conn.close()
        discard = status == "cancelled" or (status == "failed" and code == EXIT_USER and _only_early_steps(ctx.run_dir))
        if discard:
            # Nothing was learned: bad input before any model work, or a plan cancelled before training.
            self._done.set()
            self._lock.release()
            shutil.rmtree(ctx.run_dir, ignore_errors=True)
            self.outcome = RunOutcome(None, None, status, code, error)
            return
        try:
            self.outcome = _finish(ctx, status, code, error)
        finally:
            self._lock.release()
        self._done.set()

    def _died(self, error: str) -> None:
        """No room to write: nothing more is written (the attempt would fail again). The manifest still says
        running, and once this process lets go of the folder's lock the run shows as ``died``, to be resumed
        when there is room; what was written before is whole."""
        ctx = self.ctx
        try:
            ctx.events.emit("error", origin="storage", message=error)
        except StorageFull:
            pass
        self._conn.close()
        self._lock.release()
        summary = {**summarize(ctx.run_dir), "status": "died", "error": error}
        self.outcome = RunOutcome(ctx.run_id, ctx.run_dir, "died", EXIT_USER, error, {}, summary)
        self._done.set()


def open_context(settings: Settings, run_id: str, run_dir: Path, manifest: Manifest, *, started: float,
                 listen: Callable[[dict], None] | None = None) -> RunContext:
    """The context of a new or resumed run: its event log (appended to) and a rules decider for now."""
    events = EventLog(run_dir / EVENTS, started=started, secrets=(settings.api_key or "",))
    if listen:
        events.subscribe(listen)
    clock = Clock()
    plan = TimePlan(clock, llm_share=settings.llm_share if settings.llm_enabled else 0.0)
    return RunContext(settings=settings, run_id=run_id, run_dir=run_dir, events=events, manifest=manifest,
                      decider=Decider(RulePolicy(), events), started=started, clock=clock, plan=plan)


def activate_policy(ctx: RunContext, policy: Policy | None = None) -> Policy:
    """Put ``policy`` (else the LLM's when configured, else the rules) in charge, the rules behind it."""
    active = policy or (make_llm_policy(ctx) if ctx.settings.llm_enabled else ctx.decider.rules)
    ctx.decider.put_in_charge(active)
    return active


def run_job(settings: Settings, *, started: float, argv: list[str] | None = None,
            listen: Callable[[dict], None] | None = None, policy: Policy | None = None) -> RunOutcome:
    """Run the whole job for ``settings``; ``started`` is the process start (`time.monotonic()`)."""
    run = Run.create(settings, started=started, argv=argv, listen=listen, policy=policy)
    if isinstance(run, RunOutcome):
        return run
    run.start()
    assert run.outcome is not None, "a run outside the chat never waits for approval"
    return run.outcome


def _quiet_libraries() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _only_early_steps(run_dir: Path) -> bool:
    return RunRecord(run_dir).steps_started() <= set(EARLY_STEPS)


def _finish(ctx: RunContext, status: str, code: int, error: str | None) -> RunOutcome:
    run_dir = ctx.run_dir
    has_model = (run_dir / MODEL).exists()
    if status != "completed" and not has_model:
        ctx.events.emit("warning", message="no model was saved: the run ended before one was fitted")
    clock = ctx.clock
    elapsed = round(clock.elapsed(), 2) if clock.running else None
    spent = ctx.plan.summary()
    ctx.events.emit("time_spent", **spent)
    ctx.events.emit("run_finished", status=status, elapsed=elapsed, error=error, model_saved=has_model,
                    wall=round(time.monotonic() - ctx.started, 2))
    ctx.manifest.update(status=status, error=error, elapsed_seconds=elapsed, model_saved=has_model,
                        finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        budget=clock.budget if clock.has_budget else None, timings=ctx.timings, time_plan=spent)
    try:
        render_report(run_dir)
    except Exception as exc:  # the report must never turn a finished run into a crash
        ctx.events.emit("error", origin="bug", message=f"report: {exc}", traceback=traceback.format_exc())
    metrics = read_json(run_dir / "metrics.json") if (run_dir / "metrics.json").exists() else {}
    summary = summarize(run_dir)
    return RunOutcome(ctx.run_id, run_dir, status, code, error, metrics, summary)


def summarize(run_dir: Path) -> dict[str, Any]:
    """The machine-readable summary of a run (what ``--json`` prints)."""
    manifest = read_json(run_dir / "manifest.json")
    metrics = read_json(run_dir / "metrics.json") if (run_dir / "metrics.json").exists() else {}
    return {"run_id": manifest["run_id"], "run_dir": str(run_dir), "status": manifest["status"],
            "error": manifest.get("error"), "elapsed_seconds": manifest.get("elapsed_seconds"),
            "budget": manifest.get("budget"), "model": metrics.get("model"),
            "primary_metric": metrics.get("primary"), "metrics": metrics.get("metrics", {}),
            "baseline": metrics.get("baseline", {}), "threshold": metrics.get("threshold"),
            "report": str(run_dir / "report.md"),
            "model_file": str(run_dir / MODEL) if (run_dir / MODEL).exists() else None,
            "fairness_warnings": fairness_warnings(RunRecord(run_dir))}


def _install_interrupt(ctx: RunContext, received: list[int]) -> Callable[[], None]:
    """First Ctrl-C or SIGTERM (``kill``, a job scheduler or a container stopping): stop gracefully with the
    best model so far. A second one: stop at once. The signals received are appended to ``received``."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        if not ctx.request_stop("user"):
            for sig in previous:
                signal.signal(sig, signal.default_int_handler)
            raise KeyboardInterrupt
        what, again = ("Ctrl-C", "press Ctrl-C") if signum == signal.SIGINT else ("SIGTERM", "send it")
        ctx.events.emit("interrupt", message=f"{what}: finishing with the best model so far "
                                             f"({again} again to stop at once)")

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def _exit_code(received: list[int]) -> int:
    """The shell's convention (128 + the signal): 143 after SIGTERM, 130 after Ctrl-C."""
    return EXIT_TERMINATED if signal.SIGTERM in received else EXIT_INTERRUPTED


def watchdog(ctx: RunContext, done: threading.Event, on_wall: Callable[[RunContext], None], *,
             margin: float = 1.5) -> None:
    """Last line of defence for the time wall: ``margin`` seconds before the run's clock reaches it,
    call ``on_wall``. Idle while the clock is paused (a plan waiting for approval)."""
    while not done.is_set():
        left = ctx.clock.hard_end - margin - time.monotonic()
        if left <= 0:
            break
        done.wait(min(left, 0.5))
    if not done.is_set():
        on_wall(ctx)


def _stop_at_the_wall(ctx: RunContext) -> None:
    """In the chat the process is the person's session: the run is asked to stop, as timed out."""
    if ctx.request_stop("wall"):
        ctx.events.emit("watchdog", message="the hard time wall was reached; the run stops with the best model "
                                            "so far")


def _exit_at_the_wall(ctx: RunContext) -> None:
    """From the command line: end the process at once, keeping what is saved, with exit code 3."""
    ctx.request_stop("wall")
    ctx.events.emit("watchdog", message="the hard time wall was reached; the run ends with what is saved")
    try:
        outcome = _finish(ctx, "timed_out", EXIT_WALL, "the run reached its hard time wall (budget x 1.1 + 10 s)")
        if ctx.settings.json:  # a script reading --json learns the status from stdout, as from any other end
            from agent.console import Terminal

            Terminal(json_mode=True).json(outcome.summary)
    finally:
        os._exit(EXIT_WALL)
