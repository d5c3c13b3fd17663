"""Plan approval, in-process: the run pauses with its plan and a paused clock, the person's edits become
user decisions, the clock starts at approval with the edited budget, and a cancel leaves nothing behind."""

from __future__ import annotations

import time
from pathlib import Path

from agent.job.runner import Run
from agent.record.reader import RunRecord
from agent.settings import Settings
from tests.cli_helpers import DATASETS


def _paused_run(tmp_path: Path) -> tuple[Run, dict]:
    settings = Settings.from_flags({"data": str(DATASETS / "titanic.csv"), "goal": "predict who survived",
                                    "budget": 20, "max_trials": 2, "runs_dir": str(tmp_path / "runs"),
                                    "interactive": True, "quiet": True}, env={})
    run = Run.create(settings, started=time.monotonic())
    assert isinstance(run, Run)
    view = run.start()
    assert view is not None, "an interactive run pauses with its plan"
    return run, view


def test_the_plan_waits_with_a_paused_clock_and_edits_become_user_decisions(tmp_path: Path) -> None:
    run, view = _paused_run(tmp_path)
    assert view["target"] == "survived" and view["budget"] == 20
    assert not run.ctx.clock.running, "planning is not charged to the run"
    used = next(c for role in ("numeric", "categorical", "boolean") for c in view["features"][role] if c != "sex")
    edits = [{"kind": "drop", "column": used, "text": f"drop {used}"},
             {"kind": "metric", "metric": "roc_auc", "text": "/metric roc_auc"},
             {"kind": "budget", "seconds": 12, "text": "budget 12"},
             {"kind": "drop", "column": "no_such_column", "text": "drop no_such_column"}]
    before = time.monotonic()
    assert run.resume({"action": "approve", "edits": edits}) is None
    record = RunRecord(run.run_dir)
    assert record.decision(f"drop:{used}")["actor"] == "user"
    assert record.decision("metric")["choice"] == "roc_auc" and record.decision("metric")["actor"] == "user"
    assert record.decision("budget")["choice"] == 12
    assert any("no feature column 'no_such_column'" in w["message"] for w in record.all("warning"))
    approved = record.last("plan_approved")
    assert approved["budget"] == 12 and run.ctx.clock.budget == 12
    assert run.ctx.clock.started >= before - 0.5, "the clock starts at approval"
    assert used in record.manifest["plan"]["dropped"] and used not in record.manifest["plan"]["features"]
    assert record.manifest["status"] == "completed"


def test_a_cancelled_plan_leaves_nothing_behind(tmp_path: Path) -> None:
    run, _ = _paused_run(tmp_path)
    assert run.resume({"action": "cancel"}) is None
    assert run.outcome is not None and run.outcome.status == "cancelled" and run.outcome.exit_code == 0
    assert not run.run_dir.exists(), "nothing was learned: the folder is removed"
