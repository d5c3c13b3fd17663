"""The LLM policy's column stage: what to drop or keep, and which candidates to compare.

The model starts from the rule policy's column plan and changes it with tool calls; the result keeps
the rules' decisions it did not change and adds the model's own, each with the rules' view beside it.
"""

from __future__ import annotations

from agent.decide.planedit import copy_plan, drop_column, keep_column
from agent.decide.policy import ColumnBrief, Decision
from agent.llm.briefs import describe, leakage_brief, quote, scores_brief
from agent.llm.checks import Declined, guard
from agent.llm.loop import Stage, ToolError
from tools.candidates import CANDIDATES


class ColumnStage:
    """Mixin of `LLMPolicy`: the columns and candidates."""

    def choose_columns(self, brief: ColumnBrief) -> list[Decision]:
        proposal = self.rules.choose_columns(brief)
        if self.columns is None:
            self.columns = self._run(self._columns_stage(brief, proposal), self._columns_prompt(brief, proposal))
        if self.columns.name in self.failures:
            raise Declined("column_plan", self.failures[self.columns.name])
        return self._apply_column_changes(brief, proposal)

    def choose_candidates(self, task: str, n_rows: int, n_features: int, seconds_left: float) -> Decision:
        decision = self._decided(self.columns, "candidates")
        return self._with_rules(decision, self.rules.choose_candidates(task, n_rows, n_features, seconds_left))

    def _columns_prompt(self, brief: ColumnBrief, proposal: list[Decision]) -> str:
        drops = {d.question[5:]: d for d in proposal if d.question.startswith("drop:")}
        lines = []
        for col in brief.profile["columns"]:
            if col["name"] == brief.target:
                continue
            d = drops.get(col["name"])
            verdict = f"proposal: {d.choice} ({d.reason[:160]})" if d else "proposal: keep"
            lines.append(f"- {quote(col['name'])} ({col['kind']}): {verdict}")
        train_rows = len(self.workspace["X_train"]) if self.workspace.get("X_train") is not None else "?"
        return self._prompt("plan_columns", target=quote(brief.target), task=brief.task, train_rows=train_rows,
                            leakage=leakage_brief(brief.leakage), columns="\n".join(lines),
                            candidates=", ".join(CANDIDATES))

    def _columns_stage(self, brief: ColumnBrief, proposal: list[Decision]) -> Stage:
        stage = Stage("plan_columns", {}, ("columns", "candidates"), by_tool={"set_candidates": "candidates"})
        stage.decided["drops"], stage.decided["keeps"] = {}, {}
        columns = [c["name"] for c in brief.profile["columns"]]
        plan = next(d.choice for d in proposal if d.question == "column_plan")
        constant = {c["name"] for c in brief.profile["columns"] if c["constant"]}
        facts = {"columns": columns, "target": brief.target, "task": brief.task}

        def features_left() -> set[str]:
            roles = ("numeric", "boolean", "categorical", "high_cardinality", "datetime")
            kept = {c for r in roles for c in plan[r]} | set(stage.decided["keeps"])
            return kept - set(stage.decided["drops"])

        def describe_column(column: str) -> str:
            """Show one column's summary: kind, gaps, distinct values, range, flags.

            Args:
                column: the column's exact name.
            """
            return describe(brief.profile, column)

        def column_scores() -> str:
            """How well each column alone predicts the target in cross-validation (from the leakage check)."""
            return scores_brief(brief.leakage)

        def drop_column(column: str, reason: str) -> str:
            """Drop a column the proposal keeps.

            Args:
                column: the column's exact name.
                reason: why the models should not use it.
            """
            guard(Decision(f"drop:{column}", "drop", reason), facts, "columns")
            if features_left() <= {column}:
                raise ToolError("dropping it would leave no feature to learn from", "columns")
            stage.decided["drops"][column] = reason
            stage.decided["keeps"].pop(column, None)
            return f"ok: {quote(column)} will be dropped"

        def keep_column(column: str, reason: str) -> str:
            """Keep a column the proposal drops (for example a suspected leak known at prediction time).

            Args:
                column: the column's exact name.
                reason: why it is safe and useful to keep.
            """
            guard(Decision(f"drop:{column}", "keep", reason), facts, "columns")
            if column in constant:
                raise ToolError(f"{quote(column)} has a single value (or none): it cannot help", "columns")
            if column not in plan["dropped"]:
                return f"ok: {quote(column)} is kept already"
            stage.decided["keeps"][column] = reason
            stage.decided["drops"].pop(column, None)
            return f"ok: {quote(column)} will be kept"

        def set_candidates(candidates: list[str], reason: str) -> str:
            """Choose the model families to compare.

            Args:
                candidates: names from the registry.
                reason: why these.
            """
            guard(Decision("candidates", candidates, reason), facts, "candidates")
            stage.decided["candidates"] = Decision("candidates", list(candidates), reason, actor="llm")
            return "ok: candidates set. Call finish_columns when the columns are settled."

        def finish_columns() -> str:
            """Confirm the columns as proposed plus your changes, and end this step."""
            stage.decided["columns"] = True
            stage.finished = "candidates" in stage.decided or stage.given_up("candidates")
            return "ok" if stage.finished else "set_candidates first"

        stage.tools.update(describe_column=describe_column, column_scores=column_scores, drop_column=drop_column,
                           keep_column=keep_column, set_candidates=set_candidates, finish_columns=finish_columns)
        return stage

    def _apply_column_changes(self, brief: ColumnBrief, proposal: list[Decision]) -> list[Decision]:
        drops, keeps = self.columns.decided.get("drops", {}), self.columns.decided.get("keeps", {})
        plan = copy_plan(next(d.choice for d in proposal if d.question == "column_plan"))
        kinds = {c["name"]: c for c in brief.profile["columns"]}
        out: list[Decision] = []
        for d in proposal:
            column = d.question[5:] if d.question.startswith("drop:") else None
            if column in drops or column in keeps or d.question == "column_plan":
                continue
            out.append(d)
        for column, reason in drops.items():
            drop_column(plan, column, f"the model: {reason}")
            rules = next((p for p in proposal if p.question == f"drop:{column}"), None)
            out.append(self._with_rules(Decision(f"drop:{column}", "drop", reason, actor="llm"),
                                        rules or Decision(f"drop:{column}", "keep", "kept by the rules")))
        for column, reason in keeps.items():
            rules = next((p for p in proposal if p.question == f"drop:{column}"), None)
            keep_column(plan, column, kinds[column])
            out.append(self._with_rules(Decision(f"drop:{column}", "keep", reason, actor="llm"), rules))
        changed = f" with the model's changes (dropped {', '.join(drops) or 'none'}; kept {', '.join(keeps) or 'none'})"
        out.append(Decision("column_plan", plan, "the rule policy's column plan" + changed,
                            {"columns": len(kinds)}, actor="llm"))
        return out

