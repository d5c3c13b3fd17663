"""The LLM policy's tools called directly, as plain functions with a dependencies object, on real data:
a valid call fills the stage, a wrong name comes back as a `ToolError` naming the valid options, and
the guard rejects values that do not fit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from agent.decide.policy import ColumnBrief, Decision, GoalBrief
from agent.decide.rules import RulePolicy
from agent.llm.loop import Stage, ToolError
from agent.llm.tools_columns import (
    ColumnDeps,
    apply_column_changes,
    columns_stage,
    drop_column,
    finish_columns,
    keep_column,
    proposed_plan,
    set_candidates,
)
from agent.llm.tools_goal import GoalDeps, describe_column, set_metric, set_target, set_task
from agent.llm.tools_reviews import ReviewDeps, request_iteration, set_final, set_tuning
from tools.profile import profile_frame

BOARD = [{"candidate": "lightgbm", "mean": 0.86, "sd": 0.01, "folds": 5, "fit_seconds": 1.0, "complete": True},
         {"candidate": "linear", "mean": 0.84, "sd": 0.02, "folds": 5, "fit_seconds": 0.2, "complete": True}]


@pytest.fixture
def titanic(datasets_dir: Path) -> pd.DataFrame:
    return pd.read_csv(datasets_dir / "titanic.csv")


def goal_deps(frame: pd.DataFrame, **forced: str) -> GoalDeps:
    brief = GoalBrief("predict who survived", list(frame.columns), "", {}, len(frame),
                      profile=profile_frame(frame).to_dict(), **forced)
    return GoalDeps(Stage("plan_goal", {}, ("target", "task", "metric")), brief, frame.__getitem__,
                    {"columns": brief.columns})


def test_goal_tools_fill_the_stage_in_order(titanic: pd.DataFrame) -> None:
    deps = goal_deps(titanic)
    assert describe_column(deps, "age").startswith('"age": numeric')
    with pytest.raises(ToolError, match="call set_target first"):
        set_task(deps, "binary", "0 or 1")
    answer = set_target(deps, "survived", "the goal asks who survived")
    assert answer.startswith('ok: the target is "survived": 2 distinct values in 891 rows')
    assert "class sizes 549, 342" in answer and "the data suggest: binary" in answer
    assert deps.facts["target"] == "survived" and deps.facts["target_numeric"] is True
    assert set_task(deps, "binary", "0 or 1").startswith("ok: task binary; metrics for it: ")
    answer = set_metric(deps, "recall", "missing a survivor is the costly error")
    assert answer == "ok: metric set. The goal step is complete."
    decided = deps.stage.decided
    assert [decided[q].choice for q in ("target", "task", "metric")] == ["survived", "binary", "recall"]
    # No rule given: the one the rules pair with the metric.
    assert decided["threshold_rule"].choice == {"kind": "min_recall", "value": 0.8}
    assert all(d.actor == "llm" for d in decided.values())


def test_an_unknown_target_names_the_valid_columns(titanic: pd.DataFrame) -> None:
    deps = goal_deps(titanic)
    with pytest.raises(ToolError, match="no column 'survive'; columns are: survived, pclass, name") as err:
        set_target(deps, "survive", "typo")
    assert err.value.question == "target" and "target" not in deps.stage.decided
    forced = goal_deps(titanic, forced_target="survived")
    with pytest.raises(ToolError, match='the person chose the target "survived" with --target'):
        set_target(forced, "sex", "the model disagrees")


def test_the_guard_rejects_values_that_do_not_fit(titanic: pd.DataFrame) -> None:
    deps = goal_deps(titanic)
    set_target(deps, "sex", "a text column")
    with pytest.raises(ToolError, match="the target holds text, so the task must be binary or multiclass"):
        set_task(deps, "regression", "wrong")
    set_task(deps, "binary", "two values")
    with pytest.raises(ToolError, match="does not fit a binary task") as err:
        set_metric(deps, "rmse", "wrong metric for the task")
    assert err.value.question == "metric"
    with pytest.raises(ToolError, match="valid kinds"):
        set_metric(deps, "roc_auc", "ranking", threshold_rule={"kind": "magic"})
    assert "metric" not in deps.stage.decided


def test_column_tools_change_the_rules_proposal(titanic: pd.DataFrame) -> None:
    profile = profile_frame(titanic).to_dict()
    brief = ColumnBrief("survived", "binary", profile, {"suspects": []}, {}, {}, train_rows=712)
    proposal = RulePolicy().choose_columns(brief)
    assert "ticket" not in proposed_plan(proposal)["dropped"], "the rules keep ticket"
    stage = Stage("plan_columns", {}, ("columns", "candidates"))
    deps = ColumnDeps(stage, brief, proposed_plan(proposal), {"columns": list(titanic.columns), "target": "survived",
                                                              "task": "binary"})
    assert drop_column(deps, "ticket", "ticket codes identify bookings") == 'ok: "ticket" will be dropped'
    with pytest.raises(ToolError, match="'survived' is the target and cannot be dropped"):
        drop_column(deps, "survived", "leaks")
    with pytest.raises(ToolError, match="no column 'tickets'"):
        drop_column(deps, "tickets", "typo")
    assert keep_column(deps, "age", "useful") == 'ok: "age" is kept already'
    assert finish_columns(deps) == "set_candidates first" and not stage.finished
    with pytest.raises(ToolError, match="candidates must be a non-empty subset of lightgbm"):
        set_candidates(deps, ["svm"], "fast")
    set_candidates(deps, ["lightgbm", "linear"], "a booster and a baseline")
    assert finish_columns(deps) == "ok" and stage.done()
    decisions = {d.question: d for d in apply_column_changes(brief, proposal, stage)}
    assert decisions["drop:ticket"].actor == "llm" and decisions["drop:ticket"].alternatives[0]["by"] == "rules"
    assert "ticket" in decisions["column_plan"].choice["dropped"] and decisions["column_plan"].actor == "llm"
    bound = columns_stage(brief, proposal).tools["drop_column"]   # as the conversation calls it
    assert bound(column="ticket", reason="ids") == 'ok: "ticket" will be dropped'


def review_deps(question: str, *, can_iterate: bool = True, ensemble: dict | None = None) -> ReviewDeps:
    stage = Stage(f"review_{question}", {}, (question,))
    columns = ["survived", "pclass", "name", "sex", "age", "cabin"]
    return ReviewDeps(stage, question, BOARD, "survived", columns, lambda: can_iterate, ensemble=ensemble)


def test_review_tools_share_tuning_choose_the_final_model_and_iterate() -> None:
    deps = review_deps("tuning")
    with pytest.raises(ToolError, match=r"only candidates that were evaluated can be tuned \(lightgbm, linear\)"):
        set_tuning(deps, {"random_forest": 1}, "not evaluated")
    assert set_tuning(deps, {"lightgbm": 3, "linear": 1}, "tune the leader most") == "ok"
    assert deps.stage.decided["tuning"].choice == {"shares": {"lightgbm": 0.75, "linear": 0.25}}

    final = review_deps("final_model")
    with pytest.raises(ToolError, match="no blend beats the best single model here"):
        set_final(final, "ensemble", "blend")
    with pytest.raises(ToolError, match=r"evaluated candidates \(lightgbm, linear\); got \['svm'\]"):
        set_final(final, "single", "best", candidate="svm")
    set_final(final, "single", "simplest strong model", candidate="lightgbm")
    assert final.stage.decided["final_model"].choice == {"kind": "single", "candidate": "lightgbm"}

    with pytest.raises(ToolError, match="unknown columns \\['cabn'\\] or candidates \\[\\]; candidates are lightgbm"):
        request_iteration(deps, "noisy", drop_columns=["cabn"])
    with pytest.raises(ToolError, match='"survived" is the target and cannot be dropped'):
        request_iteration(deps, "leak", drop_columns=["survived"])
    with pytest.raises(ToolError, match="no iteration is possible now"):
        request_iteration(review_deps("tuning", can_iterate=False), "again")
    request_iteration(deps, "cabin is mostly missing", drop_columns=["cabin"], add_candidates=["extra_trees"])
    assert deps.stage.decided["tuning"] == Decision(
        "tuning", {"iterate": {"drop": ["cabin"], "add": ["extra_trees"]}, "shares": {}}, "cabin is mostly missing",
        actor="llm")
