"""The LLM policy against servers that behave like real local ones: slow (seconds per call, more for a long
prompt), replies that run to their token cap, single errors and repeated ones. The real CLI and the real
`openai` client against the scripted server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import decisions, events
from tests.llm_scripts import good_columns, good_goal, good_reviews
from tests.llm_server import ScriptedLLM, error, ramble
from tests.test_llm import run_with

pytestmark = pytest.mark.slow


def _calls(run_dir: Path) -> list[dict]:
    return [e for e in events(run_dir) if e["kind"] == "llm_call"]


def _failures(run_dir: Path) -> dict[str, str]:
    return {e["stage"]: e["problem"] for e in events(run_dir) if e["kind"] == "llm_stage_failed"}


def test_a_slow_model_gets_the_time_its_first_request_needs_within_its_share(tmp_path: Path) -> None:
    """0.5 s a call and 5 s per 1,000 new prompt tokens: the goal's first request (~1,100 new tokens) takes
    ~6 s, more than the 40% of the 12 s share a fixed split would give it. The probe measured the pace, so
    it is given the time, and its decisions are kept; the model's time stays within its share."""
    with ScriptedLLM(seconds_per_call=0.5, seconds_per_1k_prompt=5.0) as server:
        server.enqueue(good_goal(), good_columns(), *good_reviews())
        summary, run_dir = run_with(server, tmp_path, budget="60")
        assert len(server.probes) == 1 and server.probes[0]["messages"][0]["role"] == "system"
    d = decisions(run_dir)
    for question in ("target", "task", "metric", "threshold_rule"):
        assert d[question]["actor"] == "llm", f"{question}: {_failures(run_dir)}"
    calls = _calls(run_dir)
    goal = next(c for c in calls if c["purpose"] == "plan_goal")
    cap = 0.2 * 60
    assert goal["latency"] > 0.4 * cap, "the first request took longer than a fixed split's slice"
    assert "error" not in goal
    waited = sum(c["latency"] for c in calls if c["purpose"] != "probe")
    assert waited <= cap + 1.5, f"the model's share is {cap:.0f} s; it waited {waited:.1f} s"
    for stage, problem in _failures(run_dir).items():  # what it could not fit is said, and costs that step only
        assert any(said in problem for said in ("the rules decide this step", "too little for this step",
                                                "no time left in the LLM's share")), (stage, problem)
    assert summary["status"] == "completed" and summary["elapsed_seconds"] <= 60 * 1.1 + 10


def test_a_model_too_slow_for_its_share_is_not_waited_for(tmp_path: Path) -> None:
    """A one-word probe takes 6 s: the goal's request would take ~25 s, more than the 12 s share. The rules
    decide at once, and the report says why, instead of the run waiting for a timeout."""
    with ScriptedLLM(seconds_per_call=6.0) as server:
        server.enqueue(good_goal(), good_columns(), *good_reviews())
        summary, run_dir = run_with(server, tmp_path, budget="60")
        asked = list(server.requests)
    assert asked == [], "no planning request was sent"
    problems = _failures(run_dir)
    assert "a one-word probe took 6." in problems["plan_goal"] and "may take" in problems["plan_goal"]
    assert "--llm-share" in problems["plan_goal"]
    assert decisions(run_dir)["target"]["actor"] == "rules"
    report = (run_dir / "report.md").read_text()
    assert "a one-word probe took" in report
    assert summary["status"] == "completed"


def test_replies_that_run_to_their_cap_are_cut_there_and_the_model_is_told(tmp_path: Path) -> None:
    with ScriptedLLM() as server:
        server.enqueue(ramble("set_target"), good_goal(), ramble(), ramble(), *good_reviews())
        _, run_dir = run_with(server, tmp_path)
        requests = list(server.requests)
    assert all(r.get("max_tokens") for r in requests), "every request carries a token cap"
    goal_caps = {r["max_tokens"] for r in requests if any(t["function"]["name"] == "set_target"
                                                          for t in r.get("tools", []))}
    assert goal_caps == {600}, "the goal step's cap"
    second = requests[1]["messages"]
    assert second[-2]["role"] == "tool" and "not valid JSON" in second[-2]["content"], \
        "the cut-off tool call got its reply"
    assert "cut off at 600 tokens" in second[-1]["content"]
    d = decisions(run_dir)
    assert d["target"]["actor"] == "llm", "the model's next answer was kept"
    cuts = [e for e in events(run_dir) if e["kind"] == "llm_cut"]
    assert [c["stage"] for c in cuts] == ["plan_goal", "plan_columns", "plan_columns"]
    assert "ran past the step's limit of 800 tokens twice" in _failures(run_dir)["plan_columns"]
    assert d["candidates"]["actor"] == "rules" and d["tuning"]["actor"] == "llm", "one stage lost, not the run"


def test_one_error_costs_its_step_and_two_in_a_row_stop_the_asking(tmp_path: Path) -> None:
    with ScriptedLLM() as server:
        server.enqueue(error(400, "bad request"), good_columns(), error(400, "bad request"),
                       error(422, "unprocessable"), *good_reviews())
        _, run_dir = run_with(server, tmp_path)
        purposes = [r["tools"][0]["function"]["name"] if r.get("tools") else "narrative" for r in server.requests]
    assert len(purposes) == 4, "no retries of a refused request, and nothing asked after two errors in a row"
    d = decisions(run_dir)
    assert d["target"]["actor"] == "rules" and d["candidates"]["actor"] == "llm"
    problems = _failures(run_dir)
    assert "HTTP 400" in problems["plan_goal"] and "a second error in a row stops asking" in problems["plan_goal"]
    assert "the rules decide this step; a second" in problems["review_selection"]
    assert "HTTP 422" in problems["review_tuning"] and "not asked again" in problems["review_tuning"]
    report = (run_dir / "report.md").read_text()
    assert "not asked again in this run" in report
