"""The column stage's tools: what to drop or keep, and which candidates to compare.

The model starts from the rule policy's column plan and changes it with tool calls; `apply_column_changes`
then keeps the rules' decisions it did not change and adds the model's own, each with the rules' view
beside it. Each tool is a plain typed function taking `ColumnDeps` first; `columns_stage` binds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from agent.decide import planedit
from agent.decide.policy import ColumnBrief, Decision
from agent.llm.briefs import leakage_brief, quote, scores_brief
from agent.llm.checks import guard, with_rules
from agent.llm.loop import Stage, ToolError, bind
from agent.llm.tools_goal import describe_column
from tools.candidates import CANDIDATES


@dataclass
class ColumnDeps:
    """What the column stage's tools need.

    Attributes:
        stage: the stage the tools fill (``decided["drops"]`` and ``["keeps"]``: column -> reason;
            ``["candidates"]``; ``["columns"]`` once finished).
        brief: the column brief (target, task, profile, leakage report).
        plan: the rule policy's proposed column plan, which the model changes.
        facts: the guard's facts (columns, target, task).
    """

    stage: Stage
    brief: ColumnBrief
    plan: dict
    facts: dict[str, Any]

    def __post_init__(self) -> None:
        # The model's changes so far, which the tools read as they go.
        self.stage.decided.setdefault("drops", {})
        self.stage.decided.setdefault("keeps", {})

    @property
    def profile(self) -> dict:
        return self.brief.profile

    def features_left(self) -> set[str]:
        """The features once the model's drops and keeps so far are applied."""
        kept = {c for r in planedit.ROLES for c in self.plan[r]} | set(self.stage.decided["keeps"])
        return kept - set(self.stage.decided["drops"])


def column_scores(deps: ColumnDeps) -> str:
    """How well each column alone predicts the target in cross-validation (from the leakage check)."""
    return scores_brief(deps.brief.leakage)


def drop_column(deps: ColumnDeps, column: str, reason: str) -> str:
    """Drop a column the proposal keeps.

    Args:
        column: the column's exact name.
        reason: why the models should not use it.
    """
    guard(Decision(f"drop:{column}", "drop", reason), deps.facts, "columns")
    if deps.features_left() <= {column}:
        raise ToolError("dropping it would leave no feature to learn from", "columns")
    deps.stage.decided["drops"][column] = reason
    deps.stage.decided["keeps"].pop(column, None)
    return f"ok: {quote(column)} will be dropped"


def keep_column(deps: ColumnDeps, column: str, reason: str) -> str:
    """Keep a column the proposal drops (for example a suspected leak known at prediction time).

    Args:
        column: the column's exact name.
        reason: why it is safe and useful to keep.
    """
    guard(Decision(f"drop:{column}", "keep", reason), deps.facts, "columns")
    if any(c["name"] == column and c["constant"] for c in deps.profile["columns"]):
        raise ToolError(f"{quote(column)} has a single value (or none): it cannot help", "columns")
    if column not in deps.plan["dropped"]:
        return f"ok: {quote(column)} is kept already"
    deps.stage.decided["keeps"][column] = reason
    deps.stage.decided["drops"].pop(column, None)
    return f"ok: {quote(column)} will be kept"


def set_candidates(deps: ColumnDeps, candidates: list[str], reason: str) -> str:
    """Choose the model families to compare.

    Args:
        candidates: names from the registry.
        reason: why these.
    """
    guard(Decision("candidates", candidates, reason), deps.facts, "candidates")
    deps.stage.decided["candidates"] = Decision("candidates", list(candidates), reason, actor="llm")
    return "ok: candidates set. Call finish_columns when the columns are settled."


def finish_columns(deps: ColumnDeps) -> str:
    """Confirm the columns as proposed plus your changes, and end this step."""
    stage = deps.stage
    stage.decided["columns"] = True
    stage.finished = "candidates" in stage.decided or stage.given_up("candidates")
    return "ok" if stage.finished else "set_candidates first"


COLUMN_TOOLS: list[Callable[..., str]] = [describe_column, column_scores, drop_column, keep_column,
                                          set_candidates, finish_columns]


def proposed_plan(proposal: list[Decision]) -> dict:
    """The column plan among the rule policy's column decisions."""
    return next(d.choice for d in proposal if d.question == "column_plan")


def columns_stage(brief: ColumnBrief, proposal: list[Decision]) -> Stage:
    """The column stage over the rules' ``proposal``, its tools bound to fresh `ColumnDeps`."""
    stage = Stage("plan_columns", {}, ("columns", "candidates"), by_tool={"set_candidates": "candidates"})
    facts = {"columns": [c["name"] for c in brief.profile["columns"]], "target": brief.target, "task": brief.task}
    stage.tools.update(bind(ColumnDeps(stage, brief, proposed_plan(proposal), facts), COLUMN_TOOLS))
    return stage


def columns_prompt_values(brief: ColumnBrief, proposal: list[Decision]) -> dict[str, Any]:
    """The values the ``plan_columns`` prompt is filled with: each column with the rules' verdict."""
    drops = {d.question[5:]: d for d in proposal if d.question.startswith("drop:")}
    lines = []
    for col in brief.profile["columns"]:
        if col["name"] == brief.target:
            continue
        d = drops.get(col["name"])
        verdict = f"proposal: {d.choice} ({d.reason[:160]})" if d else "proposal: keep"
        lines.append(f"- {quote(col['name'])} ({col['kind']}): {verdict}")
    return {"target": quote(brief.target), "task": brief.task,
            "train_rows": brief.train_rows if brief.train_rows is not None else "?",
            "leakage": leakage_brief(brief.leakage), "columns": "\n".join(lines), "candidates": ", ".join(CANDIDATES)}


def apply_column_changes(brief: ColumnBrief, proposal: list[Decision], stage: Stage) -> list[Decision]:
    """The rules' column decisions with the model's drops and keeps (from ``stage``) applied."""
    drops, keeps = stage.decided.get("drops", {}), stage.decided.get("keeps", {})
    plan = planedit.copy_plan(proposed_plan(proposal))
    kinds = {c["name"]: c for c in brief.profile["columns"]}
    out: list[Decision] = []
    for d in proposal:
        column = d.question[5:] if d.question.startswith("drop:") else None
        if column in drops or column in keeps or d.question == "column_plan":
            continue
        out.append(d)
    for column, reason in drops.items():
        planedit.drop_column(plan, column, f"the model: {reason}")
        rules = next((p for p in proposal if p.question == f"drop:{column}"), None)
        out.append(with_rules(Decision(f"drop:{column}", "drop", reason, actor="llm"),
                              rules or Decision(f"drop:{column}", "keep", "kept by the rules")))
    for column, reason in keeps.items():
        rules = next((p for p in proposal if p.question == f"drop:{column}"), None)
        planedit.keep_column(plan, column, kinds[column])
        out.append(with_rules(Decision(f"drop:{column}", "keep", reason, actor="llm"), rules))
    changed = f" with the model's changes (dropped {', '.join(drops) or 'none'}; kept {', '.join(keeps) or 'none'})"
    out.append(Decision("column_plan", plan, "the rule policy's column plan" + changed,
                        {"columns": len(kinds)}, actor="llm"))
    return out
