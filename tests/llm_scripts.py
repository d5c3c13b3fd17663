"""Scripted LLM answers for a good titanic run: the goal, the columns and the reviews after selection."""

from __future__ import annotations

from tests.llm_server import prose, tool_calls


def good_goal() -> dict:
    return tool_calls(("set_target", {"column": "survived", "reason": "the goal asks who survived"}),
                      ("set_task", {"task": "binary", "reason": "survived is 0 or 1"}),
                      ("set_metric", {"metric": "pr_auc", "reason": "missing a survivor is the costly error",
                                      "threshold_rule": {"kind": "min_recall", "value": 0.85}}))


def good_columns() -> dict:
    return tool_calls(("drop_column", {"column": "ticket", "reason": "ticket codes identify bookings"}),
                      ("set_candidates", {"candidates": ["lightgbm", "linear", "random_forest"],
                                          "reason": "a booster, a forest and a linear baseline suit 900 rows"}),
                      ("finish_columns", {}))


def good_reviews() -> list[dict]:
    return [tool_calls(("set_tuning", {"shares": {"lightgbm": 2, "random_forest": 1}, "reason": "tune the leader most"})),
            tool_calls(("set_final", {"kind": "single", "candidate": "lightgbm", "reason": "simplest strong model"})),
            prose("LightGBM predicts survival; sex and class matter most. Check the recall on new data.")]
