"""The LLM policy: an OpenAI-compatible chat model decides the plan and reviews results through tools.

It answers the same questions as the rule policy, in four stages of one conversation: the goal
(target, task, metric and threshold rule), the columns (what to drop or keep, which candidates), the
review after selection (how to share tuning, or one more iteration) and the review after tuning (single
model or ensemble, or one more iteration). Each tool call is checked by the guard as it arrives, and an
invalid one goes back to the model with the valid options. Whatever the model does not decide validly
raises `Declined`, and the decider asks the rules instead (a logged fallback). Every decision it makes
carries the rule policy's answer to the same question as an alternative, so a reader sees where the two
differ. Mechanical questions (budget, validation, time plan, samples, refit) are left to the rules.

The stages' tools are plain functions with explicit dependencies, in `agent.llm.tools_goal`,
`tools_columns` and `tools_reviews`; this class builds each stage from its brief, runs it in the
conversation and turns what the stage decided into decisions.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any, Callable

from agent.decide.policy import (
    ColumnBrief,
    Decision,
    FinalBrief,
    GoalBrief,
    QuickLookBrief,
    SampleBrief,
    SelectionBrief,
    TimeBrief,
)
from agent.decide.rules import RulePolicy
from agent.llm.checks import Declined, with_rules
from agent.llm.client import LLMClient, LLMTimedOut, LLMUnavailable
from agent.llm.context import estimate
from agent.llm.loop import Conversation, Stage, StageFailed
from agent.llm.pace import PaceProbe
from agent.llm.prompts import load_prompt
from agent.llm.tools_columns import apply_column_changes, columns_prompt_values, columns_stage
from agent.llm.tools_goal import ColumnValues, goal_prompt_values, goal_stage
from agent.llm.tools_reviews import final_prompt_values, final_stage, selection_prompt_values, selection_stage
from agent.record.events import EventLog
from agent.timing.timeplan import MIN_LLM_REQUEST, TimePlan
from tools.metrics import get_metric

# Seconds a summary needs at the least; with less left the report goes without it.
MIN_NARRATIVE_SECONDS = 3.0
# The least a probe of the endpoint is given (a chat's paused clock gives the model 20 s to plan).
MIN_PROBE_SECONDS = 5.0


class LLMPolicy:
    """Decisions by a chat model with tool calling, checked by the guard, the rules as fallback.

    It sees the run's data only through its briefs and ``values``, which reads one column of the table
    by name (the goal stage infers the task from the chosen target's values; the model sees counts
    only). ``timing`` gives the LLM's deadlines and share of the run's time; ``can_iterate`` says whether
    a review may still ask for one more iteration.
    """

    name = "llm"

    def __init__(self, client: LLMClient, events: EventLog, values: ColumnValues, *,
                 timing: TimePlan | None = None, can_iterate: Callable[[], bool] = lambda: False,
                 probe: bool = True) -> None:
        self.client = client
        self.events = events
        self.values = values
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
        self.errors_in_a_row = 0
        self._probe_waited = False
        # Timed while the data is read, so each stage's deadline fits this endpoint (see agent.llm.pace). The
        # budget is not decided yet: the probe's request has the client's timeout, and the wait for it is
        # bounded by the model's share when the first stage needs it.
        self.probe = PaceProbe(client, system) if probe and timing is not None else None

    # ---- plumbing ---------------------------------------------------------------------------------

    def _prompt(self, name: str, **values: Any) -> str:
        prompt = load_prompt(name)
        if name not in self.prompts:
            self.prompts[name] = prompt.sha256
            self.events.emit("prompt", name=name, sha256=prompt.sha256)
        return prompt.format(**values) if values else prompt.text

    def _run(self, stage: Stage, prompt: str) -> Stage:
        if self.probe is not None:
            self._await_probe()
        if self.down:
            # An endpoint that refused or kept failing is not asked again in this run.
            return self._skip(stage, f"the LLM is unavailable since an earlier step ({self.down})")
        # Each stage's first request is read whole by a local server: its tools, which come first in the
        # prompt, differ from the last stage's.
        need, slow = self._need(self.chat.request_tokens(stage, prompt), "this step's first request")
        slow = f"; {slow}" if slow else ""
        deadline = self.timing.llm_deadline(stage.name, need) if self.timing else None
        if self.timing and deadline is None:
            silent = self.timing.llm_silent_for
            return self._skip(stage, f"the LLM's share of the run's time ({self.timing.llm_cap:.0f} s, "
                                     f"{self.timing.llm_left():.0f} s left) is too little for this step" + (
                                         f" (it gave no answer in {silent:.1f} s before)" if silent else "") + slow
                                     + "; a longer budget or --llm-share gives it more")
        start = time.monotonic()
        try:
            with self.timing.spending("llm") if self.timing else nullcontext():
                self.chat.run(stage, prompt, deadline=deadline)
            self.errors_in_a_row = 0
        except (LLMUnavailable, StageFailed) as exc:
            self.failures[stage.name] = f"{type(exc).__name__}: {exc}" + self._consequence(exc)
            self.events.emit("llm_stage_failed", stage=stage.name, problem=self.failures[stage.name],
                             seconds=round(time.monotonic() - start, 2))
        finally:
            if self.timing:
                self.timing.llm_stage_done(stage.name, time.monotonic() - start)
        return stage

    def _need(self, tokens: int, what: str) -> tuple[float | None, str]:
        """Seconds a request of ``tokens`` may take at the endpoint's measured pace, and the reason in words;
        (None, "") when the pace is not known."""
        pace = self.probe.pace if self.probe is not None else None
        if pace is None or self.timing is None:
            return None, ""
        need = pace.first_request(tokens)
        return need, (f"a one-word probe took {pace.seconds:.1f} s, so {what} of about {tokens:,} tokens may "
                      f"take {need:.0f} s")

    def _consequence(self, exc: Exception) -> str:
        """What a stage's failure means for the rest of the run, said where it is logged: one failure, one
        consequence. A timeout costs its stage; an error costs its stage unless the previous stage ended in
        an error too; an unreachable or refusing endpoint, or a spent budget, ends the model's part."""
        if isinstance(exc, LLMTimedOut):
            if self.timing:
                self.timing.llm_timed_out(exc.waited)
                if self.timing.llm_left() < MIN_LLM_REQUEST:
                    return " - the rules decide this step; the model's share of the run's time is used up"
            return " - the rules decide this step; later steps are still asked"
        if isinstance(exc, LLMUnavailable):
            self.errors_in_a_row += 1
            if exc.down or self.errors_in_a_row >= 2:
                self.down = str(exc) if exc.down else f"two steps in a row ended in an error ({exc})"
                if self.timing:
                    self.timing.llm_off()
                return " - the model is not asked again in this run"
            return " - the rules decide this step; a second error in a row stops asking the model"
        return " - the rules decide this step"

    def _await_probe(self) -> None:
        """Wait for the endpoint's probe (its time is the model's); an endpoint that failed it, or gave no
        answer within the model's share, is down for this run."""
        probe = self.probe
        if probe is None or self.down or self._probe_waited:
            return
        self._probe_waited = True
        with self.timing.spending("llm") if self.timing else nullcontext():
            # Not bounded by the request's timeout from when it was sent: importing the HTTP client on a
            # busy machine can take longer than a short --llm-timeout, and that is not the endpoint's delay.
            answered = probe.wait(max(self.timing.llm_left() if self.timing else 0.0, MIN_PROBE_SECONDS))
        if not answered:
            self.down = f"the endpoint did not answer a one-word probe in {probe.waited:.0f} s"
        elif probe.failure is not None and probe.failure.down:
            self.down = f"the endpoint failed a one-word probe: {probe.failure}"
        if self.down:
            self.events.emit("llm_stage_failed", stage="probe", problem=self.down + " - the model is not asked "
                             "in this run")
            if self.timing:
                self.timing.llm_off()

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

    # ---- mechanical questions: the rules -----------------------------------------------------------

    def choose_budget(self, goal: str, given: float | None) -> Decision:
        return self.rules.choose_budget(goal, given)

    def choose_validation(self, n_rows: int, task: str, budget: float, forced_folds: int | None) -> Decision:
        return self.rules.choose_validation(n_rows, task, budget, forced_folds)

    def choose_refit(self, refit_seconds: float, seconds_left: float, interrupted: bool) -> Decision:
        return self.rules.choose_refit(refit_seconds, seconds_left, interrupted)

    def choose_bagging(self, n_train: int, n_rows: int, smallest_class: int, folds: int, seconds: float,
                       seconds_left: float) -> Decision:
        return self.rules.choose_bagging(n_train, n_rows, smallest_class, folds, seconds, seconds_left)

    def choose_time_plan(self, brief: TimeBrief) -> Decision:
        return self.rules.choose_time_plan(brief)

    def choose_sample(self, brief: SampleBrief) -> Decision:
        return self.rules.choose_sample(brief)

    def choose_screen(self, n_features: int, n_rows: int, budget: float) -> Decision:
        return self.rules.choose_screen(n_features, n_rows, budget)

    def choose_quick_look(self, brief: QuickLookBrief) -> Decision:
        return self.rules.choose_quick_look(brief)

    # ---- stage 1: the goal -------------------------------------------------------------------------

    def choose_target(self, brief: GoalBrief) -> Decision:
        if self.goal is None:
            self.goal = self._run(goal_stage(brief, self.values),
                                  self._prompt("plan_goal", **goal_prompt_values(brief)))
        decision = self._decided(self.goal, "target")
        try:
            rules = self.rules.choose_target(brief)
        except Exception:  # the rules may find no target where the model did
            rules = None
        return with_rules(decision, rules)

    def choose_task(self, brief: GoalBrief, target: str, inferred: str, evidence: dict) -> Decision:
        decision = self._decided(self.goal, "task")
        if self.goal.decided.get("target") is None or self.goal.decided["target"].choice != target:
            raise Declined("task", "the model's task was for another target")
        return with_rules(decision, self.rules.choose_task(brief, target, inferred, evidence))

    def choose_metric(self, brief: GoalBrief, task: str, target_info: dict) -> list[Decision]:
        metric = self._decided(self.goal, "metric")
        rule = self.goal.decided["threshold_rule"]
        if task not in get_metric(metric.choice).tasks:
            raise Declined("metric", f"the model's metric {metric.choice} does not fit the {task} task the data gave")
        if task != "binary":
            rule = Decision("threshold_rule", None, "several classes or values: no threshold", actor="llm")
        rules = self.rules.choose_metric(brief, task, target_info)
        return [with_rules(metric, rules[0]), with_rules(rule, rules[1])]

    # ---- stage 2: the columns and candidates --------------------------------------------------------

    def choose_columns(self, brief: ColumnBrief) -> list[Decision]:
        proposal = self.rules.choose_columns(brief)
        if self.columns is None:
            self.columns = self._run(columns_stage(brief, proposal),
                                     self._prompt("plan_columns", **columns_prompt_values(brief, proposal)))
        if self.columns.name in self.failures:
            raise Declined("column_plan", self.failures[self.columns.name])
        return apply_column_changes(brief, proposal, self.columns)

    def choose_candidates(self, task: str, n_rows: int, n_features: int, seconds_left: float) -> Decision:
        decision = self._decided(self.columns, "candidates")
        return with_rules(decision, self.rules.choose_candidates(task, n_rows, n_features, seconds_left))

    # ---- stages 3 and 4: the reviews after selection and after tuning --------------------------------

    def choose_tuning(self, brief: SelectionBrief) -> Decision:
        rules = self.rules.choose_tuning(brief)
        stage = self._run(selection_stage(brief, self.can_iterate),
                          self._prompt("review_selection", **selection_prompt_values(brief, self._budget())))
        return with_rules(self._decided(stage, "tuning"), rules)

    def choose_final(self, brief: FinalBrief) -> Decision:
        rules = self.rules.choose_final(brief)
        stage = self._run(final_stage(brief, self.can_iterate),
                          self._prompt("review_tuning", **final_prompt_values(brief)))
        return with_rules(self._decided(stage, "final_model"), rules)

    def _budget(self) -> float:
        return self.timing.clock.budget if self.timing else 60.0

    # ---- the narrative -------------------------------------------------------------------------------

    def write_narrative(self, facts: str, latest: float | None = None) -> str | None:
        """The model's short summary of the run, or None if it cannot give one (in its share, by ``latest``)."""
        if self.down:
            return None
        prompt = self._prompt("narrative", facts=facts)
        messages = [{"role": "system", "content": self._prompt("system")}, {"role": "user", "content": prompt}]
        need, slow = self._need(estimate(messages, chars_per_token=self.chat.chars_per_token), "the summary")
        slow = f" ({slow})" if slow else ""
        deadline = self.timing.llm_deadline("narrative", need) if self.timing else None
        if deadline is not None and latest is not None:
            deadline = min(deadline, latest)
        if self.timing and (deadline is None or deadline - time.monotonic() < MIN_NARRATIVE_SECONDS):
            self.timing.llm_stage_done("narrative", 0.0)
            self.events.emit("llm_stage_failed", stage="narrative",
                             problem=f"no time left in the LLM's share for the summary{slow}")
            return None
        start = time.monotonic()
        try:
            with self.timing.spending("llm") if self.timing else nullcontext():
                reply = self.client.complete(messages, purpose="narrative", deadline=deadline, stream=True,
                                             max_tokens=self.chat.reply_tokens("narrative"))
        except LLMUnavailable as exc:
            self.events.emit("llm_stage_failed", stage="narrative", problem=str(exc))
            return None
        finally:
            if self.timing:
                self.timing.llm_stage_done("narrative", time.monotonic() - start)
        content = ((reply.get("choices") or [{}])[0].get("message") or {}).get("content")
        return content.strip() if content else None


__all__ = ["Declined", "LLMPolicy"]
