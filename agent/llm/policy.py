"""The LLM policy: an OpenAI-compatible chat model decides the plan and reviews results through tools.

It answers the same questions as the rule policy, in four stages of one conversation: the goal
(target, task, metric and threshold rule), the columns (what to drop or keep, which candidates), the
review after selection (how to share tuning, or one more iteration) and the review after tuning (single
model or ensemble, or one more iteration). Each tool call is checked by the guard as it arrives, and an
invalid one goes back to the model with the valid options. Whatever the model does not decide validly
raises `Declined`, and the decider asks the rules instead (a logged fallback). Every decision it makes
carries the rule policy's answer to the same question as an alternative, so a reader sees where the two
differ. Mechanical questions (budget, validation, time plan, samples, refit) are left to the rules.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any, Callable, Literal, Protocol

import pandas as pd

from agent.decide.policy import Decision, GoalBrief, SampleBrief, TimeBrief
from agent.decide.rules import RulePolicy
from agent.llm.briefs import describe, profile_brief, quote, target_brief
from agent.llm.checks import Declined, guard
from agent.llm.client import LLMClient, LLMTimedOut, LLMUnavailable
from agent.llm.columns import ColumnStage
from agent.llm.loop import Conversation, Stage, StageFailed, ToolError
from agent.llm.prompts import load_prompt
from agent.llm.reviews import ReviewStages
from agent.record.events import EventLog
from agent.timing.timeplan import TimePlan
from tools.metrics import get_metric, metrics_for
from tools.target import infer_task
from tools.threshold import RULE_KINDS


class RunObjects(Protocol):
    """The run's heavy objects the policy reads (the table, its profile, the training part), by name."""

    def __getitem__(self, key: str) -> Any: ...

    def get(self, key: str, default: Any = None) -> Any: ...


class LLMPolicy(ColumnStage, ReviewStages):
    """Decisions by a chat model with tool calling, checked by the guard, the rules as fallback."""

    name = "llm"

    def __init__(self, client: LLMClient, events: EventLog, workspace: RunObjects, *,
                 timing: TimePlan | None = None, can_iterate: Callable[[], bool] = lambda: False) -> None:
        self.client = client
        self.events = events
        self.workspace = workspace
        self.timing = timing
        self.rules = RulePolicy()
        self.can_iterate = can_iterate
        self.prompts: dict[str, str] = {}
        system = self._prompt("system")
        self.chat = Conversation(client, system, log=lambda kind, **kw: events.emit(kind, **kw))
        self.goal: Stage | None = None
        self.columns: Stage | None = None
        self.failures: dict[str, str] = {}
        self.down: str | None = None

    # ---- plumbing ---------------------------------------------------------------------------------

    def _prompt(self, name: str, **values: Any) -> str:
        prompt = load_prompt(name)
        if name not in self.prompts:
            self.prompts[name] = prompt.sha256
            self.events.emit("prompt", name=name, sha256=prompt.sha256)
        return prompt.format(**values) if values else prompt.text

    def _run(self, stage: Stage, prompt: str) -> Stage:
        if self.down:
            # An endpoint that refused or kept failing is not asked again in this run.
            return self._skip(stage, f"the LLM is unavailable since an earlier step ({self.down})")
        deadline = self.timing.llm_deadline(stage.name) if self.timing else None
        if self.timing and deadline is None:
            silent = self.timing.llm_silent_for
            return self._skip(stage, f"the LLM's share of the run's time ({self.timing.llm_cap:.0f} s) has "
                                     "too little left for this step" + (
                                         f" (it gave no answer in {silent:.1f} s before)" if silent else ""))
        start = time.monotonic()
        try:
            with self.timing.spending("llm") if self.timing else nullcontext():
                self.chat.run(stage, prompt, deadline=deadline)
        except (LLMUnavailable, StageFailed) as exc:
            self.failures[stage.name] = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, LLMUnavailable) and exc.down:
                self.down = str(exc)
                if self.timing:
                    self.timing.llm_off()
            elif isinstance(exc, LLMTimedOut) and self.timing:
                self.timing.llm_timed_out(exc.waited)
            self.events.emit("llm_stage_failed", stage=stage.name, problem=self.failures[stage.name],
                             seconds=round(time.monotonic() - start, 2))
        finally:
            if self.timing:
                self.timing.llm_stage_done(stage.name, time.monotonic() - start)
        return stage

    def _skip(self, stage: Stage, why: str) -> Stage:
        self.failures[stage.name] = why
        self.events.emit("llm_stage_failed", stage=stage.name, problem=why)
        if self.timing:
            self.timing.llm_stage_done(stage.name, 0.0)
        return stage

    def _decided(self, stage: Stage | None, question: str) -> Decision:
        if stage is not None and question in stage.decided:
            return stage.decided[question]
        why = self.failures.get(stage.name) if stage is not None and stage.name in self.failures else None
        raise Declined(question, why or (stage.why_not(question) if stage else "the model was not asked"))

    @staticmethod
    def _with_rules(decision: Decision, rules: Decision | None) -> Decision:
        """Add the rule policy's answer as an alternative, saying whether it agrees."""
        if rules is None:
            alt = {"choice": None, "why_not": "the rule policy could not decide this", "by": "rules"}
        elif rules.choice == decision.choice:
            alt = {"choice": rules.choice, "why_not": f"the rule policy agrees ({rules.reason})", "by": "rules"}
        else:
            alt = {"choice": rules.choice, "why_not": f"the rule policy's choice, not taken ({rules.reason})",
                   "by": "rules"}
        decision.alternatives = [alt] + decision.alternatives
        return decision

    # ---- mechanical questions: the rules -----------------------------------------------------------

    def choose_budget(self, goal: str, given: float | None) -> Decision:
        return self.rules.choose_budget(goal, given)

    def choose_validation(self, n_rows: int, task: str, budget: float, forced_folds: int | None) -> Decision:
        return self.rules.choose_validation(n_rows, task, budget, forced_folds)

    def choose_refit(self, refit_seconds: float, seconds_left: float, interrupted: bool) -> Decision:
        return self.rules.choose_refit(refit_seconds, seconds_left, interrupted)

    def choose_time_plan(self, brief: TimeBrief) -> Decision:
        return self.rules.choose_time_plan(brief)

    def choose_sample(self, brief: SampleBrief) -> Decision:
        return self.rules.choose_sample(brief)

    def choose_screen(self, n_features: int, n_rows: int, budget: float) -> Decision:
        return self.rules.choose_screen(n_features, n_rows, budget)

    # ---- stage 1: the goal -------------------------------------------------------------------------

    def choose_target(self, brief: GoalBrief) -> Decision:
        if self.goal is None:
            self.goal = self._run(self._goal_stage(brief), self._goal_prompt(brief))
        decision = self._decided(self.goal, "target")
        try:
            rules = self.rules.choose_target(brief)
        except Exception:  # the rules may find no target where the model did
            rules = None
        return self._with_rules(decision, rules)

    def choose_task(self, brief: GoalBrief, target: str, inferred: str, evidence: dict) -> Decision:
        decision = self._decided(self.goal, "task")
        if self.goal.decided.get("target") is None or self.goal.decided["target"].choice != target:
            raise Declined("task", "the model's task was for another target")
        return self._with_rules(decision, self.rules.choose_task(brief, target, inferred, evidence))

    def choose_metric(self, brief: GoalBrief, task: str, target_info: dict) -> list[Decision]:
        metric = self._decided(self.goal, "metric")
        rule = self.goal.decided["threshold_rule"]
        if task not in get_metric(metric.choice).tasks:
            raise Declined("metric", f"the model's metric {metric.choice} does not fit the {task} task the data gave")
        if task != "binary":
            rule = Decision("threshold_rule", None, "several classes or values: no threshold", actor="llm")
        rules = self.rules.choose_metric(brief, task, target_info)
        return [self._with_rules(metric, rules[0]), self._with_rules(rule, rules[1])]

    def _goal_prompt(self, brief: GoalBrief) -> str:
        profile = self.workspace["profile"].to_dict()
        hint = (f"The person named it: {quote(brief.forced_target)}." if brief.forced_target else
                "Pick the column the goal asks to predict; if the goal names none, a column named like a "
                "target (class, label, target, y) is the usual choice.")
        return self._prompt("plan_goal", goal=brief.goal or "(no goal given)", n_rows=profile["n_rows"],
                            n_columns=profile["n_columns"], profile=profile_brief(profile), target_hint=hint,
                            binary_metrics=", ".join(metrics_for("binary")),
                            multiclass_metrics=", ".join(metrics_for("multiclass")),
                            regression_metrics=", ".join(metrics_for("regression")),
                            rule_kinds=", ".join(RULE_KINDS))

    def _goal_stage(self, brief: GoalBrief) -> Stage:
        stage = Stage("plan_goal", {}, ("target", "task", "metric"),
                      by_tool={"set_target": "target", "set_task": "task", "set_metric": "metric"})
        frame: pd.DataFrame = self.workspace["table"].frame
        profile = self.workspace["profile"].to_dict()
        facts: dict[str, Any] = {"columns": brief.columns}

        def describe_column(column: str) -> str:
            """Show one column's summary: kind, gaps, distinct values, range, flags.

            Args:
                column: the column's exact name.
            """
            return describe(profile, column)

        def set_target(column: str, reason: str) -> str:
            """Choose the column to predict.

            Args:
                column: the exact name of the target column.
                reason: why this column is what the goal asks to predict.
            """
            if brief.forced_target and column != brief.forced_target:
                raise ToolError(f"the person chose the target {quote(brief.forced_target)} with --target")
            guard(Decision("target", column, reason), facts, "target")
            task, evidence = infer_task(frame[column])
            counts = frame[column].value_counts().to_dict() if task != "regression" else None
            facts.update(target=column, target_numeric=pd.api.types.is_numeric_dtype(frame[column])
                         and not pd.api.types.is_bool_dtype(frame[column]))
            stage.decided["target"] = Decision("target", column, reason, {"goal": brief.goal}, actor="llm")
            return f"ok: the target is {quote(column)}: " + target_brief({**evidence, "suggested": task}, counts)

        def set_task(task: Literal["binary", "multiclass", "regression"], reason: str) -> str:
            """Choose the kind of prediction.

            Args:
                task: binary (two classes), multiclass (a few classes) or regression (a number).
                reason: why, from the target's values.
            """
            if "target" not in stage.decided:
                raise ToolError("call set_target first", "task")
            if brief.forced_task and task != brief.forced_task:
                raise ToolError(f"the person chose the task {brief.forced_task} with --task", "task")
            guard(Decision("task", task, reason), facts, "task")
            facts["task"] = task
            stage.decided["task"] = Decision("task", task, reason, actor="llm")
            return f"ok: task {task}; metrics for it: {', '.join(metrics_for(task))}"

        def set_metric(metric: str, reason: str, threshold_rule: dict | None = None) -> str:
            """Choose the metric models are compared by and, for a binary task, the threshold rule.

            Args:
                metric: one of the metrics valid for the task.
                reason: what in the goal makes this the right measure.
                threshold_rule: binary tasks only, e.g. {"kind": "min_recall", "value": 0.8}; null otherwise.
            """
            if "task" not in stage.decided:
                raise ToolError("call set_task first", "metric")
            if brief.forced_metric and metric != brief.forced_metric:
                raise ToolError(f"the person chose the metric {brief.forced_metric} with --metric", "metric")
            guard(Decision("metric", metric, reason), facts, "metric")
            task = facts["task"]
            rule = threshold_rule if task == "binary" else None
            if task == "binary" and rule is None:
                rule = self.rules.choose_metric(GoalBrief("", [], "", {}, 0, forced_metric=metric), task, {})[1].choice
            guard(Decision("threshold_rule", rule, reason), facts, "metric")
            stage.decided["metric"] = Decision("metric", metric, reason, {"goal": brief.goal}, actor="llm")
            stage.decided["threshold_rule"] = Decision("threshold_rule", rule, reason, actor="llm")
            return "ok: metric set. The goal step is complete."

        stage.tools.update(describe_column=describe_column, set_target=set_target, set_task=set_task,
                           set_metric=set_metric)
        return stage

    def _budget(self) -> float:
        return self.timing.clock.budget if self.timing else 60.0

    # ---- the narrative -------------------------------------------------------------------------------

    def write_narrative(self, facts: str, deadline: float | None) -> str | None:
        """The model's short summary of the run, or None if it cannot give one."""
        if self.down:
            return None
        prompt = self._prompt("narrative", facts=facts)
        messages = [{"role": "system", "content": self._prompt("system")}, {"role": "user", "content": prompt}]
        start = time.monotonic()
        try:
            with self.timing.spending("llm") if self.timing else nullcontext():
                reply = self.client.complete(messages, purpose="narrative", deadline=deadline, stream=True)
        except LLMUnavailable as exc:
            self.events.emit("llm_stage_failed", stage="narrative", problem=str(exc))
            return None
        finally:
            if self.timing:
                self.timing.llm_stage_done("narrative", time.monotonic() - start)
        content = ((reply.get("choices") or [{}])[0].get("message") or {}).get("content")
        return content.strip() if content else None


__all__ = ["Declined", "LLMPolicy"]
