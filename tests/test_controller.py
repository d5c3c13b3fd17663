"""The chat's run controller in this process: real runs on the Titanic data with small budgets, driven
through their phases (idle, ready, awaiting approval, running) and the session's record of runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.chat.controller import RunController
from agent.chat.session import Session, SessionStore
from agent.job.runner import RunOutcome
from agent.settings import Settings


class Chat:
    """A controller with its session, and what it reported: finished outcomes and run events."""

    def __init__(self, home: Path, runs: Path, *, session_id: str | None = None) -> None:
        self.store = SessionStore(home)
        self.session = Session(self.store, session_id or self.store.new_session())
        self.finished: list[RunOutcome] = []
        self.events: list[dict] = []
        self.controller = RunController(self.session, runs_dir=runs, listen=self.events.append,
                                        on_finished=self.finished.append)


@pytest.fixture
def chat(tmp_path: Path) -> Chat:
    return Chat(tmp_path / "home", tmp_path / "runs")


def settings(tmp_path: Path, datasets_dir: Path, *, goal: str = "predict who survived", **changes: object) -> Settings:
    return Settings(data=datasets_dir / "titanic.csv", goal=goal, budget=30.0, runs_dir=tmp_path / "runs",
                    home=tmp_path / "home", interactive=True).with_(**changes)


def test_plan_edit_approve_stop_and_resume(chat: Chat, tmp_path: Path, datasets_dir: Path) -> None:
    c, state = chat.controller, chat.session.state
    assert c.phase == "idle" and c.plan is None and not c.running
    assert c.open(settings(tmp_path, datasets_dir)) is None
    assert c.phase == "ready" and c.run_dir() == tmp_path / "runs" / state["run_id"], "the new run is current"
    assert c.run_until_plan()
    assert c.phase == "awaiting_approval" and c.plan["target"] == "survived" and c.edits == []
    c.edit({"kind": "drop", "column": "ticket", "text": "drop it"})
    c.edit({"kind": "drop", "column": "ticket", "text": "drop ticket"})
    c.edit({"kind": "budget", "seconds": 20, "text": "budget 20"})
    assert [e["text"] for e in c.edits] == ["drop ticket", "budget 20"], "a later edit of a column replaces it"
    assert chat.store.load(chat.session.id)["plan_edits"] == c.edits, "edits are saved as they are made"

    c.approve()
    assert c.phase == "running" and c.edits == []
    assert c.stop(), "stopping a run in training"
    c.wait(60)
    assert c.phase == "idle" and not c.stop()
    [outcome] = chat.finished
    assert outcome.status == "interrupted" and outcome.run_dir == c.run_dir()
    assert state["runs"] == [outcome.run_id]
    drop = next(e for e in chat.events if e["kind"] == "decision" and e["question"] == "drop:ticket")
    assert drop["actor"] == "user", "the edit reached the run at approval"

    assert c.resume(outcome.run_dir, budget=5.0) == outcome.run_id
    assert c.phase == "ready"
    c.start()
    c.wait(120)
    assert c.phase == "idle" and [o.status for o in chat.finished] == ["interrupted", "completed"]
    assert state["runs"] == [outcome.run_id], "a resumed run is the same run"
    assert (outcome.run_dir / "model.joblib").exists()


def test_unattended_start_and_stop(chat: Chat, tmp_path: Path, datasets_dir: Path) -> None:
    c, state = chat.controller, chat.session.state
    assert c.open(settings(tmp_path, datasets_dir, yes=True)) is None
    c.start()
    assert c.phase == "running" and c.plan is None, "with --yes the plan does not wait"
    c.stop()
    c.wait(60)
    assert c.phase == "idle" and [o.status for o in chat.finished] == ["interrupted"]
    assert state["runs"] == [state["run_id"]] == [chat.finished[0].run_id]


def test_cancel_goes_back_to_the_last_run_that_finished(chat: Chat, tmp_path: Path, datasets_dir: Path) -> None:
    c, state = chat.controller, chat.session.state
    earlier = tmp_path / "runs" / "earlier-run"
    earlier.mkdir(parents=True)
    chat.session.remember(runs=["earlier-run"])
    c.open(settings(tmp_path, datasets_dir))
    c.run_until_plan()
    planned = c.run_dir()
    c.edit({"kind": "drop", "column": "ticket", "text": "drop ticket"})
    c.cancel()
    assert c.phase == "idle" and c.edits == [] and chat.finished == []
    assert not planned.exists(), "a cancelled plan leaves no run folder"
    assert state["run_id"] == "earlier-run" and c.run_dir() == earlier


def test_a_plan_refused_before_approval_ends_the_run(chat: Chat, tmp_path: Path, datasets_dir: Path) -> None:
    c, state = chat.controller, chat.session.state
    c.open(settings(tmp_path, datasets_dir, goal="predict the weather"))
    assert not c.run_until_plan()
    assert c.phase == "idle" and c.plan is None
    [outcome] = chat.finished
    assert outcome.status == "failed" and outcome.run_dir is None and "survived" in outcome.error
    assert state["run_id"] is None and state["run_dir"] is None and state["runs"] == []


def test_a_run_that_cannot_be_created_changes_nothing(chat: Chat, tmp_path: Path, datasets_dir: Path) -> None:
    c, state = chat.controller, chat.session.state
    failed = c.open(settings(tmp_path, datasets_dir, data=tmp_path / "missing.csv"))
    assert failed is not None and failed.status == "failed" and "missing.csv" in failed.error
    assert c.phase == "idle" and "run_id" not in state and chat.finished == []


def test_each_step_needs_its_phase(chat: Chat, tmp_path: Path, datasets_dir: Path) -> None:
    c = chat.controller
    for step in (c.approve, c.cancel, c.start, c.run_until_plan):
        with pytest.raises(RuntimeError, match="is idle; this needs it"):
            step()
    with pytest.raises(RuntimeError, match="needs it awaiting_approval"):
        c.edit({"kind": "drop", "column": "ticket"})
    c.open(settings(tmp_path, datasets_dir))
    with pytest.raises(RuntimeError, match="is ready; this needs it idle"):
        c.open(settings(tmp_path, datasets_dir))
    c.run_until_plan()
    with pytest.raises(RuntimeError, match="is awaiting_approval; this needs it ready"):
        c.start()
    c.cancel()


def test_a_later_session_reopens_the_waiting_plan_with_its_edits(tmp_path: Path, datasets_dir: Path) -> None:
    first = Chat(tmp_path / "home", tmp_path / "runs")
    first.controller.open(settings(tmp_path, datasets_dir))
    first.controller.run_until_plan()
    first.controller.edit({"kind": "drop", "column": "ticket", "text": "drop ticket"})
    run_dir = first.controller.run_dir()
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "awaiting_approval"
    first.controller.leave()  # the first session ends (/quit) with the plan still waiting

    later = Chat(tmp_path / "home", tmp_path / "runs", session_id=first.session.id)
    c = later.controller
    assert c.phase == "idle" and c.run_dir() == run_dir
    assert c.reopen(run_dir, budget=None)
    assert c.phase == "awaiting_approval" and c.plan["target"] == "survived"
    assert c.edits == [{"kind": "drop", "column": "ticket", "text": "drop ticket"}]
    assert later.events == [], "the early steps run again quietly"
    c.cancel()
    assert not run_dir.exists()
