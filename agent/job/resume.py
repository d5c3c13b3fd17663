"""Resuming an interrupted run from its checkpoints: ``mlpilot resume RUN`` and the chat's ``/resume``.

Every run keeps LangGraph checkpoints of its (small, JSON-able) state in ``checkpoints.sqlite`` and its
cross-validation results in ``results.joblib``. Resuming rebuilds the heavy objects the state points to
(the data, read again and checked against its sha256; the same seeded split and folds; the saved results)
and continues the graph from the right checkpoint with a fresh budget:
- a run stopped with Ctrl-C goes back to tuning (the Optuna studies continue from their journal), then
  finishes again, replacing its model only with one at least as well chosen;
- a run whose process died (``kill -9``, a crash, a full disk: recorded as running, but no process holds
  its lock) continues from its last finished step.
The event log is appended to, never rewritten; ``run_resumed`` marks where.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from agent.job import steps_data, steps_model
from agent.job.context import RunContext
from agent.job.runner import Run, RunOutcome, activate_policy, open_context
from agent.record.reader import RunRecord
from agent.record.runfolder import Manifest, read_manifest
from agent.record.runlock import RunLock, effective_status
from agent.settings import DEFAULT_BUDGET, Settings
from tools.errors import ConfigError

RESUMABLE = ("interrupted", "died", "timed_out", "awaiting_approval")


def resume_run(run_dir: Path, *, budget: float | None, started: float, runs_dir: Path,
               listen: Callable[[dict], None] | None = None, interactive: bool = False,
               approve: bool = False, trust: bool = False) -> Run:
    """The interrupted run in ``run_dir``, rehydrated and ready to `Run.continue_from` its checkpoint.

    Returns the `Run`; call ``run.continue_from(run.resume_config)``. Its clock starts at ``started``
    with ``budget`` (else the run's own), except for a plan that waited for approval and is to ask again
    (``approve``, the chat): its clock starts at approval. ``interactive`` says the run lives in the
    chat, where the time wall stops it instead of ending the process. ``trust``: the user vouches for the
    folder, so its saved results load even if this user's key did not sign them.

    Raises:
        ConfigError: the run finished (nothing to resume), has no checkpoints, its data changed, or its saved
            results are not signed by this user and ``trust`` is not given.
    """
    manifest = read_manifest(run_dir)
    status = effective_status(run_dir, manifest.get("status"))
    if status == "running":
        raise ConfigError(f"The run '{run_dir.name}' is still running in another mlpilot process; wait for it to "
                          "finish (or stop it) before resuming.")
    if status not in RESUMABLE:
        raise ConfigError(f"The run '{run_dir.name}' is {status}; only an interrupted run can be resumed. "
                          "Use `mlpilot rerun` to run it again.")
    # Before anything is written (the event log cuts a torn line when opened): one writer at a time.
    lock = RunLock(run_dir).acquire()
    try:
        settings = resume_settings(run_dir, manifest, budget=budget, runs_dir=runs_dir, interactive=interactive,
                                   ask=approve and status == "awaiting_approval")
        ctx = open_context(settings, manifest["run_id"], run_dir, Manifest(run_dir, manifest), started=started,
                           listen=listen)
        run = Run(ctx, activate_policy(ctx), lock)
    except BaseException:
        lock.release()
        raise
    try:
        snapshot = _resume_point(run, status)
        _rehydrate(ctx, snapshot.values, manifest, trust=trust)
    except BaseException:
        run.abandon()
        raise
    ctx.clock.set_budget(settings.budget or DEFAULT_BUDGET)
    if not (settings.interactive and not settings.yes):
        ctx.clock.start(at=started)
    ctx.manifest.update(status="running", resumed=manifest.get("resumed", []) + [time.strftime("%Y-%m-%dT%H:%M:%S")])
    ctx.events.emit("run_resumed", from_step=snapshot.next[0], budget=ctx.clock.budget, previous_status=status,
                    running=ctx.clock.running)
    run.resume_config = snapshot.config
    return run


def decided_budget(run_dir: Path) -> float | None:
    """The budget the run decided (from the goal, an option or an edit at approval), from its log."""
    budget = RunRecord(run_dir).decision("budget")
    return float(budget["choice"]) if budget else None


def resume_settings(run_dir: Path, manifest: dict, *, budget: float | None, runs_dir: Path, interactive: bool,
                    ask: bool) -> Settings:
    """The run's own settings, every one as recorded (its LLM model, budget, share and price table
    included), with a fresh time budget (``budget``, else the one the run decided), the runs folder of
    this command, and whether it lives in the chat (``interactive``) and asks for approval again (``ask``)."""
    recorded = manifest["settings"]
    budget = budget or manifest.get("budget") or decided_budget(run_dir) or recorded.get("budget")
    settings = Settings.from_manifest(recorded, overrides={"budget": budget, "runs_dir": runs_dir,
                                                           "interactive": interactive, "yes": not ask})
    if recorded.get("storage") and not settings.storage:
        # The URL's password is not in the manifest; tuning on without it would start new studies in a journal.
        raise ConfigError(f"The run '{manifest['run_id']}' keeps its studies in the database {recorded['storage']}: "
                          "set MLPILOT_STORAGE to that URL (with its password) to resume it.")
    return settings


def _resume_point(run: Run, status: str) -> object:
    history = list(run.graph.get_state_history(run.config))
    if not history:
        raise ConfigError(f"The run '{run.ctx.run_id}' has no checkpoints to resume from.")
    if status == "interrupted":
        # Stopped by the person: the graph ended normally; go back to tuning (or selection, if it never got
        # that far) so the unspent work is done.
        for wanted in ("tune", "select"):
            for snap in history:
                if snap.next == (wanted,):
                    return snap
    for snap in history:
        if snap.next:
            return snap
    raise ConfigError(f"The run '{run.ctx.run_id}' has no unfinished step to resume.")


def _rehydrate(ctx: RunContext, state: dict, manifest: dict, *, trust: bool) -> None:
    """Rebuild the heavy objects the saved state refers to: each step module restores what it made."""
    steps_data.rebuild(ctx, state, sha256=manifest["data"]["sha256"])
    steps_model.rebuild(ctx, state, trust=trust)


def resume_job(run_dir: Path, *, budget: float | None, started: float, runs_dir: Path,
               listen: Callable[[dict], None] | None = None, trust: bool = False) -> RunOutcome:
    """Resume and run to the end (the CLI's ``mlpilot resume``)."""
    run = resume_run(run_dir, budget=budget, started=started, runs_dir=runs_dir, listen=listen, trust=trust)
    run.continue_from(run.resume_config)
    assert run.outcome is not None
    return run.outcome
