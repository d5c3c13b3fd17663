"""Plan approval: in the chat, the run pauses after planning (LangGraph ``interrupt``) so the person can
approve the plan, edit it, or cancel.

The pause hands the chat a view of the plan; the answer comes back as
``{"action": "approve", "edits": [...]}`` or ``{"action": "cancel"}``. Edits are
``{"kind": "keep" | "drop", "column": name}``, ``{"kind": "metric", "metric": name}`` and
``{"kind": "budget", "seconds": s}``; each becomes a decision by the user in the event log. The run's
clock starts when the plan is approved (it was paused until then): time spent planning and reading the
plan is not taken from the run. Outside the chat (or with ``--yes``) this step passes straight through.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agent.decide.planedit import copy_plan, drop_column, features, keep_column
from agent.decide.policy import Decision
from agent.decide.rules import default_threshold_rule
from agent.job.context import RunContext, RunState
from tools.errors import MlpilotError
from tools.metrics import get_metric
from tools.preprocess import ROLES
from tools.threshold import describe_rule


class PlanCancelled(MlpilotError):
    """The person cancelled the plan before training."""


def plan_view(state: RunState, ctx: RunContext) -> dict[str, Any]:
    """What the person is asked to approve (JSON-able)."""
    plan = state["column_plan"]
    metric = get_metric(state["metric"])
    return {"run_id": ctx.run_id, "target": state["target"], "task": state["task"],
            "positive_class": state["classes"][1] if state["task"] == "binary" else None,
            "metric": metric.name, "metric_label": metric.label,
            "threshold_rule": describe_rule(state.get("threshold_rule")) if state["task"] == "binary" else None,
            "validation": state["validation"], "dropped": plan.get("dropped", {}),
            "features": {role: plan.get(role, []) for role in ROLES},
            "candidates": state["candidates"], "budget": ctx.clock.budget, "sensitive": state.get("sensitive") or {}}


def approve(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Pause for the person's approval (chat only), then apply their edits as user decisions."""
    ctx = runtime.context
    if ctx.clock.running:
        return {"step": "approve"}
    answer = interrupt(plan_view(state, ctx))
    if not isinstance(answer, dict) or answer.get("action") != "approve":
        raise PlanCancelled("The plan was cancelled before training.")
    update: RunState = {"step": "approve"}
    budget = ctx.clock.budget
    plan = copy_plan(state["column_plan"])
    profile = {c["name"]: c for c in ctx.workspace["profile"].to_dict()["columns"]}
    for edit in answer.get("edits", []):
        budget = _apply(ctx, state, plan, profile, edit, update, budget)
    if plan != state["column_plan"]:
        update["column_plan"] = plan
        ctx.decider.record(Decision("column_plan", plan, "the plan with your edits", {"features": len(features(plan))},
                                    actor="user"), step="approve")
    ctx.clock.start(budget=budget)
    ctx.events.emit("plan_approved", step="approve", edits=answer.get("edits", []), budget=budget,
                    hard_wall=round(ctx.clock.hard_limit, 1))
    final = {**state, **update}
    ctx.manifest.update(plan={**ctx.manifest.data.get("plan", {}), "metric": final["metric"],
                              "threshold_rule": final.get("threshold_rule"),
                              "dropped": final["column_plan"].get("dropped", {}),
                              "features": features(final["column_plan"])})
    return update


def _apply(ctx: RunContext, state: RunState, plan: dict, profile: dict, edit: dict, update: RunState,
           budget: float) -> float:
    kind, said = edit.get("kind"), edit.get("text") or "you asked in the chat"
    column = edit.get("column")
    if kind in ("keep", "drop") and (column not in profile or column == state["target"]):
        ctx.events.emit("warning", step="approve", message=f"edit ignored: no feature column '{column}'")
        return budget
    if kind == "drop":
        drop_column(plan, column, f"you asked to drop it ({said})")
        ctx.decider.record(Decision(f"drop:{column}", "drop", f"you asked to drop it ({said})", actor="user"),
                           step="approve")
    elif kind == "keep":
        role = keep_column(plan, column, profile[column])
        ctx.decider.record(Decision(f"drop:{column}", "keep", f"you asked to keep it ({said}); used as {role}",
                                    actor="user"), step="approve")
    elif kind == "metric":
        metric = get_metric(edit["metric"], state["task"]).name
        rule = default_threshold_rule(metric, state["task"])
        update.update(metric=metric, threshold_rule=rule)
        ctx.decider.record(Decision("metric", metric, f"you asked for it ({said})", actor="user"), step="approve")
        ctx.decider.record(Decision("threshold_rule", rule, f"{describe_rule(rule)}, to match the metric you chose",
                                    actor="user"), step="approve")
    elif kind == "budget":
        budget = max(5.0, float(edit["seconds"]))
        ctx.decider.record(Decision("budget", budget, f"you asked for {budget:g} seconds ({said})", actor="user"),
                           step="approve")
    return budget
