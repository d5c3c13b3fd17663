"""The run's clock, its time plan, the watchdog and the graph's routing, in process (no subprocess but one
shell that sleeps before starting Python)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agent.job.graph import (
    has_candidates_to_tune,
    has_model_to_evaluate,
    needs_first_model,
    wants_another_round,
)
from agent.job.runner import EXIT_WALL, Run, _stop_at_the_wall, watchdog
from agent.settings import Settings
from agent.timing.clock import Clock, ClockError, command_start, process_start
from agent.timing.timeplan import LLM_STAGES, ORDER, TimePlan
from tests.cli_helpers import DATASETS, ROOT

# ---- the clock ------------------------------------------------------------------------------------------

def test_a_paused_clock_keeps_the_whole_budget_and_no_wall() -> None:
    clock = Clock(30)
    time.sleep(0.05)
    assert not clock.running and clock.elapsed() == 0.0 and clock.left() == 30.0
    assert clock.end == float("inf") and clock.hard_end == float("inf")
    clock.set_budget(45)  # an edit at approval, before the start
    clock.start()
    assert clock.running and 44.5 < clock.left() <= 45.0
    assert clock.hard_limit == pytest.approx(45 * 1.1 + 10)


def test_a_clock_starts_once_and_its_budget_is_fixed_once_running() -> None:
    clock = Clock()
    with pytest.raises(ClockError, match="before its budget"):
        clock.start()
    clock.start(budget=10, at=time.monotonic() - 4)
    assert clock.elapsed() == pytest.approx(4, abs=0.1) and clock.left() == pytest.approx(6, abs=0.1)
    with pytest.raises(ClockError, match="already running"):
        clock.start()
    with pytest.raises(ClockError, match="cannot change"):
        clock.set_budget(20)
    assert clock.deadline_in(100) == clock.end, "no deadline past the soft end"


def test_a_shell_that_waited_before_python_is_not_charged() -> None:
    probe = ("from agent.timing.clock import command_start, process_start; import time; "
             "print(time.monotonic() - process_start(), time.monotonic() - command_start())")
    out = subprocess.run(["bash", "-c", f"sleep 2 && {sys.executable} -c '{probe}'"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    process_age, command_age = map(float, out)
    assert process_age >= 1.9, "bash execs python in its own process: the process is as old as the shell"
    assert command_age < 1.8, f"the command's clock starts with the interpreter, not the shell ({command_age:.2f} s)"
    assert command_start() >= process_start()


# ---- the time plan ----------------------------------------------------------------------------------------

def test_shares_follow_the_weights_and_use_what_is_left() -> None:
    clock = Clock(100, started=time.monotonic())
    plan = TimePlan(clock)
    shares = plan.shares("prepare")
    assert set(shares) == set(ORDER) and sum(shares.values()) == pytest.approx(100, abs=0.2)
    assert shares["tune"] > shares["select"] > shares["first_model"]
    with plan.spending("prepare"):
        time.sleep(0.3)
    later = plan.shares("first_model")
    assert sum(later.values()) == pytest.approx(100 - 0.3, abs=0.2), "what a step spent is gone from the pool"
    assert plan.spent["prepare"] == pytest.approx(0.3, abs=0.1)


def test_a_measured_need_pins_a_step_and_frees_the_rest() -> None:
    plan = TimePlan(Clock(100, started=time.monotonic()))
    before = plan.shares("select")
    plan.need("final", 1.0)
    after = plan.shares("select")
    assert after["final"] == pytest.approx(1.25, abs=0.01), "the need, with its margin"
    assert after["tune"] > before["tune"], "the final fit's unneeded time goes to the others"
    plan.need("final", 1000.0)
    weights = plan.weights
    proportional = plan.pool() * weights["final"] / sum(weights[s] for s in ORDER[ORDER.index("select"):])
    assert plan.shares("select")["final"] == pytest.approx(2 * proportional, rel=0.01), "at most twice its share"


def test_a_running_step_takes_what_the_later_steps_turn_out_not_to_need() -> None:
    plan = TimePlan(Clock(100, started=time.monotonic()))
    with plan.spending("tune"):
        reserve = {k: v for k, v in plan.shares("tune").items() if k != "tune"}
        first = plan.ends(reserve) - time.monotonic()
        assert first == pytest.approx(plan.pool() - sum(min(reserve[k], plan.needs.get(k, reserve[k]))
                                                         for k in reserve), abs=0.1)
        plan.need("final", 0.2)
        assert plan.ends(reserve) - time.monotonic() > first + reserve["final"] - 0.5, "the final fit's spare time"
        plan.need("final", 1000.0)
        assert plan.ends(reserve) - time.monotonic() == pytest.approx(first, abs=0.1), \
            "a later step never takes more than it was reserved when the running step opened"


def test_nested_spending_charges_the_inner_step_and_nothing_is_charged_while_paused() -> None:
    clock = Clock(60)
    plan = TimePlan(clock)
    with plan.spending("prepare"):
        time.sleep(0.1)
    assert plan.unclocked["prepare"] >= 0.1 and not plan.spent, "planning before approval is free"
    clock.start()
    with plan.spending("evaluate"):
        with plan.spending("final"):
            time.sleep(0.2)
        time.sleep(0.05)
    assert plan.spent["final"] == pytest.approx(0.2, abs=0.05)
    assert plan.spent["evaluate"] == pytest.approx(0.05, abs=0.04)
    assert plan.summary()["allotted"]["evaluate"] > 0


def test_a_second_iteration_gets_fresh_shares() -> None:
    plan = TimePlan(Clock(20, started=time.monotonic()))
    with plan.spending("select") as given:
        time.sleep(0.2)
    assert plan.remaining("select") == pytest.approx(given - 0.2, abs=0.05)
    plan.reopen(["select"])
    with plan.spending("select") as again:
        assert plan.remaining("select") == pytest.approx(again, abs=0.05), "what the first round spent is gone"


def test_the_language_model_has_a_capped_pool() -> None:
    clock = Clock(100, started=time.monotonic())
    assert TimePlan(clock).llm_deadline("plan_goal") is None, "no model, no pool"
    plan = TimePlan(clock, llm_share=0.2)
    assert plan.llm_cap == pytest.approx(20)
    first = plan.llm_deadline("plan_goal") - time.monotonic()
    assert first == pytest.approx(20 * LLM_STAGES["plan_goal"], abs=0.2), "later stages keep their part"
    assert plan.pool() == pytest.approx(100 - 20, abs=0.2), "the steps share what the model may not take"
    with plan.spending("llm"):
        time.sleep(0.2)
    plan.llm_stage_done("plan_goal", 0.2)
    # A quick model: the later stages hold back half again its pace, so this one may use the rest.
    second = plan.llm_deadline("plan_columns") - time.monotonic()
    assert second > 15
    plan.llm_timed_out(30.0)
    assert plan.llm_deadline("review_selection") is None, "no answer in 30 s: not asked with less"
    plan.llm_off()
    assert plan.llm_reserve() == 0.0 and plan.pool() == pytest.approx(clock.left(), abs=0.1)


# ---- the watchdog -------------------------------------------------------------------------------------------

def _context(tmp_path: Path, *, interactive: bool, budget: float = 5.0) -> Run:
    settings = Settings.from_flags({"data": str(DATASETS / "titanic.csv"), "goal": "predict who survived",
                                    "budget": budget, "runs_dir": str(tmp_path), "interactive": interactive,
                                    "yes": True}, env={})
    run = Run.create(settings, started=time.monotonic())
    assert isinstance(run, Run)
    return run


def test_the_watchdog_stops_a_chat_run_as_timed_out_never_as_the_user(tmp_path: Path) -> None:
    run = _context(tmp_path, interactive=True)
    ctx = run.ctx
    done = threading.Event()
    paused = Run.create(Settings.from_flags({"data": str(DATASETS / "titanic.csv"), "goal": "predict who survived",
                                             "budget": 5, "runs_dir": str(tmp_path), "interactive": True}, env={}),
                        started=time.monotonic())
    assert not paused.ctx.clock.running, "a plan waiting for approval"
    idle = threading.Thread(target=watchdog, args=(paused.ctx, done, _stop_at_the_wall), kwargs={"margin": 1.0})
    idle.start()
    # A clock started 14.9 s ago on a 5 s budget reaches its wall (15.5 s) within a second.
    ctx.clock._started = time.monotonic() - 14.9
    watchdog(ctx, done, _stop_at_the_wall, margin=0.1)
    assert ctx.should_stop() and ctx.stop_cause == "wall"
    done.set()
    idle.join(5)
    assert not paused.ctx.should_stop(), "a paused clock has no wall"
    kinds = [e for e in (run.run_dir / "events.jsonl").read_text().splitlines() if '"watchdog"' in e]
    assert kinds and "hard time wall" in kinds[0]


def test_a_run_stopped_by_the_wall_ends_timed_out_with_its_first_model(tmp_path: Path) -> None:
    run = _context(tmp_path, interactive=True, budget=30)
    run.ctx.request_stop("wall")
    run.start()
    outcome = run.outcome
    assert outcome.status == "timed_out" and outcome.exit_code == EXIT_WALL
    assert outcome.summary["model_file"], "the first model was saved before the stop"
    report = (outcome.run_dir / "report.md").read_text()
    assert "timed out (the hard time wall was reached); the best model so far was kept" in report
    assert "stopped by the user" not in report
    assert "Cut by the time wall: these steps did not run: tuning" in report
    listed = subprocess.run([sys.executable, "-m", "agent.cli", "runs", "--runs-dir", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert "timed out, model kept" in listed.stdout, "mlpilot runs says the same"


def test_the_command_line_watchdog_ends_the_process_with_what_is_saved(tmp_path: Path) -> None:
    script = ("import time, sys; from agent.job.runner import Run, _exit_at_the_wall; "
              "from agent.settings import Settings; "
              f"s = Settings.from_flags({{'data': {str(DATASETS / 'titanic.csv')!r}, 'goal': 'predict who survived', "
              f"'budget': 30, 'runs_dir': {str(tmp_path)!r}, 'json': True}}, env={{}}); "
              "run = Run.create(s, started=time.monotonic()); _exit_at_the_wall(run.ctx)")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == EXIT_WALL, proc.stderr
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    summary = json.loads(proc.stdout)  # --json still prints the summary: a script learns the status
    assert summary["status"] == "timed_out" and summary["run_dir"] == str(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "timed_out" and manifest["model_saved"] is False
    report = (run_dir / "report.md").read_text()
    assert "timed out (the hard time wall was reached); no model was saved" in report


# ---- routing ------------------------------------------------------------------------------------------------

def test_routing_functions() -> None:
    assert needs_first_model({}) == "first_model"
    assert needs_first_model({"first_model": {"rows": 10}}) == "select"
    assert needs_first_model({"stop_reason": "interrupted"}) == "select"
    board = [{"complete": True}]
    assert has_candidates_to_tune({"leaderboard": board}) == "tune"
    assert has_candidates_to_tune({"leaderboard": board, "stop_reason": "interrupted"}) == "finalize"
    assert has_candidates_to_tune({"leaderboard": [{"complete": False}]}) == "finalize"
    assert wants_another_round({"iterating": True}) == "clean" and wants_another_round({}) == "finalize"
    assert has_model_to_evaluate({"final": {"members": []}}) == "evaluate"
    assert has_model_to_evaluate({"final": {}}) == "__end__"
    assert has_model_to_evaluate({"iterating": True}) == "clean"


def test_time_an_earlier_step_left_is_available_to_the_final_fit() -> None:
    """A tuning ended by its trial cap leaves most of the budget: the final fit may take it (to bag its
    members, or fit every row), while the evaluation and report keep their shares."""
    plan = TimePlan(Clock(60.0, started=time.monotonic()))
    plan.need("final", 1.0)
    assert plan.allotment("final") == pytest.approx(1.25, abs=0.01)  # its need, padded
    assert plan.available("final") > 0.5 * plan.pool()
    plan.need("final", 100.0)  # a final fit that needs more than is left is given only what is left
    assert plan.available("final") < plan.pool()
