"""The chat as a real process on a pseudo-terminal (pexpect), offline and with the scripted LLM server."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pexpect
import pytest

from tests.cli_helpers import DATASETS, ROOT
from tests.llm_scripts import good_columns, good_goal, good_reviews
from tests.llm_server import ScriptedLLM, tool_calls

pytestmark = pytest.mark.slow
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
PROMPT = "mlpilot>"


def spawn(tmp_path: Path, *args: str, env: dict | None = None) -> pexpect.spawn:
    full = {**os.environ, "MLPILOT_HOME": str(tmp_path / "home"), "MLPILOT_RUNS_DIR": str(tmp_path / "runs"),
            "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "NO_COLOR": "1", **(env or {})}
    child = pexpect.spawn(sys.executable, ["-m", "agent.cli", "chat", *args], cwd=str(ROOT), env=full,
                          encoding="utf-8", timeout=90, dimensions=(50, 200))
    child.expect(PROMPT)
    return child


def say(child: pexpect.spawn, text: str, wait_for: str, timeout: float = 90) -> str:
    """Send a turn and return what was printed up to ``wait_for`` (a phrase of the answer, not of the
    echoed input: answers may print above or below the redrawn prompt), without escape codes."""
    child.sendline(text)
    child.expect(wait_for, timeout=timeout)
    return ANSI.sub("", child.before + (child.after if isinstance(child.after, str) else ""))


def leave(child: pexpect.spawn, text: str = "/quit") -> None:
    """End the session and wait for the process to exit."""
    child.sendline(text)
    child.expect(pexpect.EOF)


def events_of(runs: Path) -> tuple[Path, list[dict]]:
    run_dir = sorted(p for p in runs.iterdir() if p.is_dir())[-1]
    return run_dir, [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_a_whole_session_offline(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    out = say(child, f"load {DATASETS / 'titanic.csv'}", "Tell me what to predict")
    assert "891 rows x 11 columns" in out
    out = say(child, "predict who survived; missing a survivor is worse than a false alarm; 20 seconds", "Say 'go'")
    assert "target as 'survived'" in out and "Budget 20 s" in out
    out = say(child, "go", "or 'cancel'")
    assert "plan for run" in out and "recall >= 0.80" in out and "name" in out
    assert "fairness audit" in out and "sex (sex)" in out, "the plan says whose groups the audit compares"
    out = say(child, "drop ticket", "Your edits")
    assert "you asked to drop it" in out
    out = say(child, "yes", r"Run \S+ completed", timeout=120)
    assert "Approved" in out and "models tried" in out, "the leaderboard comes with the result"
    run_dir, log = events_of(tmp_path / "runs")
    board = next(e for e in log if e["kind"] == "leaderboard" and e["stage"] == "selection")
    out = say(child, "which models did you try?", "after tuning")
    child.expect(PROMPT)
    out = ANSI.sub("", out + child.before)
    for row in board["rows"]:
        assert row["label"] in out and f"{row['mean']:.4f} +- {row['sd']:.4f}" in out, "the logged scores"
    drops = {e["question"]: e for e in log if e["kind"] == "decision" and e["question"].startswith("drop:")}
    assert drops["drop:ticket"]["choice"] == "drop" and drops["drop:ticket"]["actor"] == "user", \
        "the edit is a user decision"
    budget = next(e for e in log if e["kind"] == "decision" and e["question"] == "budget")
    assert budget["choice"] == 20 and "the goal says '20 seconds'" in budget["reason"], "where the budget came from"
    name = drops["drop:name"]
    out = say(child, "why was name dropped?", r"name was dropped \(event \d+[^\n]*\n")
    cited = int(re.search(r"name was dropped \(event (\d+)", out).group(1))
    assert cited == name["seq"] and " ".join(name["reason"].split()) in " ".join(out.split()), \
        "the answer is the logged decision and its reason"
    say(child, "what did you decide about ticket?", r"you asked to drop it")
    out = say(child, "how good is it compared to guessing?", "baseline ignores the features")
    assert re.search(r"against 0\.3855 for the baseline", out)
    audit = next(e for e in log if e["kind"] == "fairness_audit" and e["step"] != "first_model")
    out = say(child, "is the model fair to women?", r"measures\s+on\s+the\s+held-out\s+rows")
    assert "female" in out and f"(event {audit['seq']})" in " ".join(out.split()), "answered from the audit"
    out = say(child, "serve it", r"Ctrl-C\s+stops\s+it")
    assert "mlpilot serve" in out and "/predict" in out, "the command to run, not a run of it"
    out = say(child, "show the report", r"Report: \S+report\.md")
    assert str(run_dir / "report.md") in out.replace("\n", "")
    out = say(child, "banana split please", "Commands: /load")
    assert "I did not understand that" in out and "Traceback" not in out
    leave(child)
    child.close()
    assert child.exitstatus == 0
    assert (run_dir / "model.joblib").exists()


def test_ctrl_c_during_tuning_returns_to_the_prompt_with_a_saved_model(tmp_path: Path) -> None:
    child = spawn(tmp_path, str(DATASETS / "titanic.csv"), "--yes")
    say(child, "predict who survived", "Say 'go'")
    say(child, "budget 60", "Budget: 60 s")
    child.sendline("go")
    child.expect("tuning: trial", timeout=90)
    child.sendintr()
    child.expect(r"Run \S+ interrupted", timeout=60)
    out = say(child, "/runs", r"interrupted")
    assert "runs in" in out
    run_dir, log = events_of(tmp_path / "runs")
    assert (run_dir / "model.joblib").exists()
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
    child.sendeof()
    child.expect(pexpect.EOF)
    # a later session picks the interrupted run up from its checkpoint, with a new (short) budget
    child = spawn(tmp_path, "--resume", env={})
    told = f"The last run ({run_dir.name}) is interrupted; /resume continues it"
    if told not in ANSI.sub("", child.before):
        child.expect(re.escape(told), timeout=10)
    say(child, "budget 10 seconds", "Budget: 10 s")
    say(child, "/resume", r"Run \S+ completed", timeout=120)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["resumed"]
    _, log = events_of(tmp_path / "runs")
    assert [e for e in log if e["kind"] == "run_resumed"]
    leave(child)


def test_resume_restores_the_session(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    say(child, f"/load {DATASETS / 'titanic.csv'}", "Tell me what to predict")
    say(child, "predict who survived; 10 seconds", "Say 'go'")
    say(child, "go", "or 'cancel'")
    say(child, "drop ticket", "Your edits")
    leave(child)
    assert "predict who survived" in (tmp_path / "home" / "history").read_text(), "history is kept"
    child = spawn(tmp_path, "--resume", env={})
    out = ANSI.sub("", child.before)
    if "Approve with 'yes'" not in out:
        child.expect("Approve with 'yes'", timeout=60)
        out += ANSI.sub("", child.before)
    assert "Resumed the session" in out and "titanic.csv" in out and "predict who survived" in out
    assert "still waiting for approval" in out and "Your edits: drop ticket" in out, "the plan and its edits"
    say(child, "/profile", "891 rows x 11 columns")
    say(child, "yes", r"Run \S+ completed", timeout=120)
    assert len([p for p in (tmp_path / "runs").iterdir() if p.is_dir()]) == 1, "the same run, not a new one"
    _, log = events_of(tmp_path / "runs")
    drop = next(e for e in log if e["kind"] == "decision" and e["question"] == "drop:ticket")
    assert drop["actor"] == "user" and drop["choice"] == "drop"
    leave(child)


def chat_requests(server: ScriptedLLM) -> list[dict]:
    """The chat's requests to the model (those offering its reply tool), not the run's."""
    return [r for r in server.requests if any(t["function"]["name"] == "reply" for t in r.get("tools", []))]


def test_the_same_session_with_the_scripted_llm(tmp_path: Path) -> None:
    with ScriptedLLM() as server:
        env = {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "sk-test"}
        child = spawn(tmp_path, env=env)
        # The chat and the run it starts both ask the model, the run in the background: routed replies.
        server.enqueue(good_goal(), good_columns(), *good_reviews(), route="run")
        server.enqueue(tool_calls(("load", {"path": str(DATASETS / "titanic.csv")})),
                       tool_calls(("reply", {"text": "Loaded the passenger list."})), route="chat")
        out = say(child, "please open the titanic passenger file", "Loaded the passenger list")
        assert "891 rows" in out
        server.enqueue(tool_calls(("set_goal", {"goal": "predict who survived; 20 seconds"}),
                                  ("act", {"action": "plan"})),
                       tool_calls(("reply", {"text": "Here is the plan; shall I go ahead?"})), route="chat")
        out = say(child, "I want to know who survived, take 20 seconds", "shall I go ahead", timeout=120)
        assert "plan for run" in out and "recall >= 0.85" in out, "the model's plan"
        asked = len(chat_requests(server))
        say(child, "yes, go ahead", r"Run \S+ completed", timeout=120)
        assert len(chat_requests(server)) == asked, "a plain yes is carried out here, not sent to the model"
        run_dir, log = events_of(tmp_path / "runs")
        chosen = {e["question"]: e["actor"] for e in log if e["kind"] == "decision"}
        assert chosen["target"] == chosen["drop:ticket"] == chosen["final_model"] == "llm"
        seq = next(e["seq"] for e in log if e["kind"] == "decision" and e["question"] == "drop:name")
        server.enqueue(tool_calls(("explain", {"topic": "column", "subject": "name"})),
                       tool_calls(("reply", {"text": "name identifies passengers.", "event_ids": [99999]})),
                       tool_calls(("reply", {"text": "name was dropped as an identifier.", "event_ids": [seq]})),
                       route="chat")
        out = say(child, "why did you drop the name column?", rf"\(events {seq}\)")
        assert "name was dropped as an identifier" in out
        errors = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "tool"]
        assert any("not in the run's log" in m for m in errors), "an invented event id goes back as an error"
        explained = json.loads([m["content"] for m in server.requests[-2]["messages"] if m["role"] == "tool"][-1])
        assert seq in explained["event_ids"]
        leave(child)


def test_the_models_wrong_calls_go_back_to_it_not_to_the_screen(tmp_path: Path) -> None:
    """A small model garbles paths and column names; what is wrong goes back to it as a tool error, and the
    person sees only the outcome."""
    with ScriptedLLM() as server:
        child = spawn(tmp_path, env={"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "sk-test"})
        server.enqueue(tool_calls(("load", {"path": "titanic.csv&#34;"})),
                       tool_calls(("load", {"path": str(DATASETS / "titanic.csv")})),
                       tool_calls(("reply", {"text": "Loaded the passenger list."})), route="chat")
        out = say(child, "please open the titanic passenger file", "Loaded the passenger list")
        assert "891 rows" in out and "No file" not in out and "no file" not in out
        back = [m["content"] for m in chat_requests(server)[1]["messages"] if m["role"] == "tool"]
        assert back and "no file at" in back[-1]
        server.enqueue(tool_calls(("columns", {"action": "drop", "names": ["10.5,24,36,78&amp;#34;"]})),
                       tool_calls(("columns", {"action": "drop", "names": ["ticket"]})),
                       tool_calls(("reply", {"text": "The ticket number will be left out."})), route="chat")
        out = say(child, "leave the ticket number out of it", "will be left out")
        assert "Will drop ticket" in out and "No column" not in out and "10.5" not in out
        leave(child)


def test_the_status_line_shows_data_target_metric_budget_and_llm(tmp_path: Path) -> None:
    """The bottom toolbar needs a terminal that reports the cursor position (as real ones do); this one
    answers every position request, so prompt_toolkit draws the status line."""
    child = spawn(tmp_path, env={"PROMPT_TOOLKIT_NO_CPR": "0"})

    def turn(text: str, status: str) -> str:
        child.sendline(text)
        seen = ""
        while child.expect([re.escape("\x1b[6n"), re.escape(status)], timeout=30) == 0:
            seen += child.before
            child.send("\x1b[10;1R")
        return ANSI.sub("", seen + child.before)

    turn(f"load {DATASETS / 'titanic.csv'}", " titanic.csv | target: not set | metric: default | budget: default | ")
    turn("predict who survived; recall matters; 20 seconds",
         " titanic.csv | target: survived (from the goal) | metric: pr_auc (from the goal) | "
         "budget: 20 s (from the goal) | LLM: offline | no run ")
    turn("use F1 instead", " | metric: f1 | ")
    turn("budget 30 seconds", " | budget: 30 s | ")
    turn("go", " | target: survived | metric: f1 | budget: 30 s | LLM: offline | plan waiting for approval ")
    turn("budget 12 seconds", " | budget: 12 s | "), "the waiting plan's budget, as edited, not the session's"
    turn("drop ticket", "Your edits")
    out = turn("target sex", "plan waiting for approval")  # the plan is made again: the edits carry over
    assert "your edits (budget 12; drop ticket) carry over" in out
    turn("cancel", "Plan cancelled")
    out = turn("go", " | target: sex | metric: f1 | budget: 12 s | ")
    assert re.search(r"ticket\s+│ you asked to drop it", out), "a new plan keeps them"
    turn("yes", "| running ")
    turn("/stop", "| stopping ")
    # The run ends on another thread; the status line follows without a key pressed.
    while child.expect([re.escape("\x1b[6n"), r"\| (\d{8}-\d{6}-titanic-\w+) "], timeout=90) == 0:
        child.send("\x1b[10;1R")
    leave(child)


def test_the_chat_obeys_llm_off_and_the_llm_budget(tmp_path: Path) -> None:
    with ScriptedLLM() as server:
        env = {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "sk-test"}
        # A scripted call costs 1,100 tokens: the first call is allowed, the next would pass the budget.
        child = spawn(tmp_path, "--llm-budget", "1000 tokens", env=env)
        say(child, "turn the llm off", "LLM off")  # control turns are carried out here, not sent to the model
        say(child, f"load {DATASETS / 'titanic.csv'}", "Tell me what to predict")
        assert server.requests == [], "with the LLM off, the chat's words stay on this machine"
        say(child, "/llm gpt-4o-mini", "LLM: gpt-4o-mini")
        say(child, f"load {DATASETS / 'titanic.csv'}", "Tell me what to predict")
        assert server.requests == [], "'load PATH' is carried out here even with a model on"
        server.enqueue(tool_calls(("reply", {"text": "Passengers of the Titanic, one row each."})), route="chat")
        say(child, "what's in it?", "Passengers of the Titanic")
        assert [r["model"] for r in server.requests] == ["gpt-4o-mini"]
        out = say(child, "/llm", r"s waiting, \$0\.\d+")
        assert "This session: 1 call(s), 1,100 tokens (1,000 in, 100 out)" in out
        out = say(child, "what's in it?", "891 rows x 11 columns")
        assert "budget is spent" in out and len(server.requests) == 1, "past the budget the offline parser answers"
        leave(child, "bye")


def test_a_plan_refused_before_training_leaves_no_current_run(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    say(child, f"load {DATASETS / 'titanic.csv'}", "Tell me what to predict")
    say(child, "predict the weather", "Say 'go'")
    out = say(child, "go", "with one of: survived")
    assert "The run did not start" in out and "Say 'target COLUMN'" in out, "the chat's words, not --target"
    say(child, "why was name dropped?", "No run yet to explain")
    say(child, "yes", "no plan waiting for approval")
    leave(child)
