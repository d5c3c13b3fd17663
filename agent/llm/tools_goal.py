"""The goal stage's tools: the target, the task and the metric (with the threshold rule).

Each tool is a plain typed function taking its dependencies (`GoalDeps`) first; its docstring is the
schema the model sees (`tools.schema.tool_schema` leaves ``deps`` out). `goal_stage` binds one
`GoalDeps` to every tool in `GOAL_TOOLS`. The tools check each answer with the guard as it arrives and
write valid ones into the stage; what is wrong goes back to the model as a `ToolError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import pandas as pd

from agent.decide.policy import Decision, GoalBrief
from agent.decide.rules import default_threshold_rule
from agent.llm.briefs import describe, profile_brief, quote, target_brief
from agent.llm.checks import guard
from agent.llm.loop import Stage, ToolError, bind
from tools.metrics import get_metric, metrics_for
from tools.target import infer_task
from tools.tasks import Task
from tools.threshold import RULE_KINDS

# One column of the run's table by name. The only raw data the policy reads: set_target infers the
# task from the chosen column's values and shows the model counts, never the values themselves.
ColumnValues = Callable[[str], pd.Series]


class Profiled(Protocol):
    """A stage's dependencies that hold the profile (as a dict), for describe_column."""

    @property
    def profile(self) -> dict: ...


@dataclass
class GoalDeps:
    """What the goal stage's tools need.

    Attributes:
        stage: the stage the tools fill (``stage.decided`` gets target, task, metric, threshold_rule).
        brief: the goal brief (the goal, the columns, the profile, the person's --target/--task/--metric).
        values: reads one column of the table (for the task the chosen target suggests).
        facts: the guard's facts; they grow as the target and task are set.
    """

    stage: Stage
    brief: GoalBrief
    values: ColumnValues
    facts: dict[str, Any]

    @property
    def profile(self) -> dict:
        return self.brief.profile


def describe_column(deps: Profiled, column: str) -> str:
    """Show one column's summary: kind, gaps, distinct values, range, flags.

    Args:
        column: the column's exact name.
    """
    return describe(deps.profile, column)


def set_target(deps: GoalDeps, column: str, reason: str) -> str:
    """Choose the column to predict.

    Args:
        column: the exact name of the target column.
        reason: why this column is what the goal asks to predict.
    """
    brief = deps.brief
    if brief.forced_target and column != brief.forced_target:
        raise ToolError(f"the person chose the target {quote(brief.forced_target)} with --target")
    guard(Decision("target", column, reason), deps.facts, "target")
    values = deps.values(column)
    task, evidence = infer_task(values)
    counts = values.value_counts().to_dict() if task != "regression" else None
    deps.facts.update(target=column, target_numeric=pd.api.types.is_numeric_dtype(values)
                      and not pd.api.types.is_bool_dtype(values))
    deps.stage.decided["target"] = Decision("target", column, reason, {"goal": brief.goal}, actor="llm")
    return f"ok: the target is {quote(column)}: " + target_brief({**evidence, "suggested": task}, counts)


def set_task(deps: GoalDeps, task: Task, reason: str) -> str:
    """Choose the kind of prediction.

    Args:
        task: binary (two classes), multiclass (a few classes) or regression (a number).
        reason: why, from the target's values.
    """
    if "target" not in deps.stage.decided:
        raise ToolError("call set_target first", "task")
    if deps.brief.forced_task and task != deps.brief.forced_task:
        raise ToolError(f"the person chose the task {deps.brief.forced_task} with --task", "task")
    guard(Decision("task", task, reason), deps.facts, "task")
    deps.facts["task"] = task
    deps.stage.decided["task"] = Decision("task", task, reason, actor="llm")
    return f"ok: task {task}; metrics for it: {', '.join(metrics_for(task))}"


def set_metric(deps: GoalDeps, metric: str, reason: str, threshold_rule: dict | None = None) -> str:
    """Choose the metric models are compared by and, for a binary task, the threshold rule.

    Args:
        metric: one of the metrics valid for the task.
        reason: what in the goal makes this the right measure.
        threshold_rule: binary tasks only, e.g. {"kind": "min_recall", "value": 0.8}; null otherwise.
    """
    if "task" not in deps.stage.decided:
        raise ToolError("call set_task first", "metric")
    if deps.brief.forced_metric and metric != deps.brief.forced_metric:
        raise ToolError(f"the person chose the metric {deps.brief.forced_metric} with --metric", "metric")
    guard(Decision("metric", metric, reason), deps.facts, "metric")
    task = deps.facts["task"]
    rule = threshold_rule if task == "binary" else None
    if task == "binary" and rule is None:
        # No rule given: the one the rules pair with this metric (the guard has accepted the metric).
        rule = default_threshold_rule(get_metric(metric, task).name, task)
    guard(Decision("threshold_rule", rule, reason), deps.facts, "metric")
    deps.stage.decided["metric"] = Decision("metric", metric, reason, {"goal": deps.brief.goal}, actor="llm")
    deps.stage.decided["threshold_rule"] = Decision("threshold_rule", rule, reason, actor="llm")
    return "ok: metric set. The goal step is complete."


GOAL_TOOLS: list[Callable[..., str]] = [describe_column, set_target, set_task, set_metric]


def goal_stage(brief: GoalBrief, values: ColumnValues) -> Stage:
    """The goal stage, its tools bound to fresh `GoalDeps`."""
    stage = Stage("plan_goal", {}, ("target", "task", "metric"),
                  by_tool={"set_target": "target", "set_task": "task", "set_metric": "metric"})
    stage.tools.update(bind(GoalDeps(stage, brief, values, {"columns": brief.columns}), GOAL_TOOLS))
    return stage


def goal_prompt_values(brief: GoalBrief) -> dict[str, Any]:
    """The values the ``plan_goal`` prompt is filled with."""
    profile = brief.profile
    hint = (f"The person named it: {quote(brief.forced_target)}." if brief.forced_target else
            "Pick the column the goal asks to predict; if the goal names none, a column named like a "
            "target (class, label, target, y) is the usual choice.")
    return {"goal": brief.goal or "(no goal given)", "n_rows": profile["n_rows"], "n_columns": profile["n_columns"],
            "profile": profile_brief(profile), "target_hint": hint,
            "binary_metrics": ", ".join(metrics_for("binary")),
            "multiclass_metrics": ", ".join(metrics_for("multiclass")),
            "regression_metrics": ", ".join(metrics_for("regression")), "rule_kinds": ", ".join(RULE_KINDS)}
