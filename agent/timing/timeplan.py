"""The time plan: how a run spends its budget, step by step, re-planned as steps finish.

The budget is split into shares by weight over the run's steps, in order:

    prepare (intake, profile, plan) -> first_model -> select -> tune -> final -> evaluate -> scale -> report

and, when a language model plans, a capped pool for its calls (``llm``), spent across its stages
(goal, columns, the two reviews, the narrative). A step's allotment is worked out when it starts, from
the time then left on the run's clock: what is left, less what the model's remaining stages may still
need, is shared among this step and the ones after it by their weights. So a step that finishes early
leaves its time to the later ones, and one that overran takes it from them: the plan is re-made at
every step. A later step whose need has been measured (the final fit, once cross-validation has timed
the chosen models) is pinned to that need, at most twice its weighted share, and the rest goes to the
others.

The weights are a decision of the policy (``time_plan``); time is charged to a step through
`TimePlan.spending`, which nests (time in an inner span is not charged to the outer one), and only
while the run's clock is running: planning before a plan is approved in the chat is not charged.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from typing import Iterator

from agent.timing.clock import Clock

ORDER = ("prepare", "first_model", "select", "tune", "final", "evaluate", "scale", "report")
# ``scale`` (the final LightGBM on every row of a big table, with Dask) has a share only in runs with --dask.
DEFAULT_WEIGHTS = {"prepare": 0.10, "first_model": 0.08, "select": 0.25, "tune": 0.37, "final": 0.12,
                   "evaluate": 0.05, "scale": 0.0, "report": 0.03}
LABELS = {"prepare": "read, profile and plan", "llm": "the language model", "first_model": "first model",
          "select": "model selection", "tune": "tuning", "final": "final fit", "evaluate": "holdout evaluation",
          "scale": "the fit on every row with Dask", "report": "report"}
# The model's stages and the part of its pool each may use (of what is left when it starts).
LLM_STAGES = {"plan_goal": 0.40, "plan_columns": 0.30, "review_selection": 0.10, "review_tuning": 0.10,
              "narrative": 0.10}
DEFAULT_LLM_SHARE = 0.2
MIN_LLM_REQUEST = 1.0
# While a plan is made in the chat the run's clock is paused and nothing is charged to it; the model then
# gets at least this much for its planning stages (the person is waiting for the plan either way).
PAUSED_LLM_SECONDS = 20.0
STRETCH = 2.0
# Rendering the reports from the run folder: measured 1.4 s for titanic's report.md and report.html
# (a third of it loading matplotlib), more with many columns.
REPORT_SECONDS = 1.5
# A measured need is padded by this much before it pins a step's allotment.
NEED_MARGIN = 1.25


class TimePlan:
    """Shares of one run's clock per step, and what each step spent.

    Args:
        clock: the run's clock (the plan never copies its budget or start).
        llm_share: the cap on the language model's time, as a share of the budget (0 when it is off).
    """

    def __init__(self, clock: Clock, *, llm_share: float = 0.0) -> None:
        self.clock = clock
        self.weights = dict(DEFAULT_WEIGHTS)
        self.llm_share = llm_share
        self.spent: dict[str, float] = {}
        self.unclocked: dict[str, float] = {}
        self.needs: dict[str, float] = {"report": REPORT_SECONDS}
        self.allotted: dict[str, float] = {}
        self.llm_done: set[str] = set()
        self.llm_stage_seconds: list[float] = []
        self.llm_silent_for = 0.0
        self._opened_at: dict[str, float] = {}
        self._stack: list[str] = []
        self._since = 0.0

    # ---- the plan ------------------------------------------------------------------------------------

    def set_weights(self, weights: dict[str, float]) -> None:
        """The policy's weights (missing steps keep theirs; all must be positive)."""
        for step, w in weights.items():
            if step not in ORDER or not w > 0:
                raise ValueError(f"time plan weight for {step!r} must be a step of {ORDER} and above 0; got {w!r}")
        self.weights.update({s: float(w) for s, w in weights.items()})

    def need(self, step: str, seconds: float) -> None:
        """A measured estimate of what ``step`` will take; pins its allotment (see the module doc)."""
        self.needs[step] = max(0.0, float(seconds)) * NEED_MARGIN

    @property
    def llm_cap(self) -> float:
        """Seconds the language model may take from the budget."""
        return self.llm_share * self.clock.budget if self.llm_share > 0 and self.clock.has_budget else 0.0

    def pool(self) -> float:
        """Seconds the steps may still share: time left, less the language model's reserve."""
        left = self.clock.left() if self.clock.running else self.clock.budget - sum(self.spent.values())
        return max(0.0, left - self.llm_reserve())

    def shares(self, step: str) -> dict[str, float]:
        """Seconds for ``step`` and each step after it, from the time left now."""
        remaining = list(ORDER[ORDER.index(step):])
        pool = self.pool()
        total = sum(self.weights[s] for s in remaining)
        proportional = {s: pool * self.weights[s] / total for s in remaining}
        pinned = {s: min(self.needs[s], STRETCH * proportional[s]) for s in remaining if s in self.needs}
        free = max(0.0, pool - sum(pinned.values()))
        loose = [s for s in remaining if s not in pinned]
        loose_total = sum(self.weights[s] for s in loose)
        out = dict(pinned)
        out.update({s: free * self.weights[s] / loose_total for s in loose} if loose_total else {})
        return out

    def allotment(self, step: str) -> float:
        """Seconds ``step`` may take from now (what it already spent is no longer in the pool)."""
        return self.shares(step)[step]

    def remaining(self, step: str) -> float:
        """What is left of ``step``'s allotment: what it was given when it opened, less what it spent
        since (its allotment from now if it has not opened)."""
        if step not in self.allotted:
            return self.allotment(step)
        self._charge(time.monotonic())
        return max(0.0, self.allotted[step] - (self.spent.get(step, 0.0) - self._opened_at.get(step, 0.0)))

    def available(self, step: str) -> float:
        """What ``step`` could take from now without taking from the steps after it (each keeps its share,
        or its measured need when that is smaller): more than its allotment when an earlier step ended
        early, as a tuning stopped by its trial cap does."""
        remaining = list(ORDER[ORDER.index(step):])
        pool = self.pool()
        total = sum(self.weights[s] for s in remaining)
        later = sum(min(self.needs.get(s, math.inf), pool * self.weights[s] / total) for s in remaining[1:])
        return max(0.0, pool - later)

    def ends(self, reserve: dict[str, float]) -> float:
        """When the running step must end for the later steps to keep ``reserve`` (their shares when it
        opened), each lowered to its measured need when that is smaller: time a later step turned out
        not to need goes to the running step instead of being left idle at the end of the run."""
        later = sum(min(self.needs.get(s, r), r) for s, r in reserve.items())
        return time.monotonic() + max(0.0, self.pool() - later)

    def reopen(self, steps: list[str]) -> None:
        """These steps run again (a second iteration): each gets a fresh allotment when it next opens."""
        for step in steps:
            self.allotted.pop(step, None)

    # ---- spending ------------------------------------------------------------------------------------

    @contextmanager
    def spending(self, step: str) -> Iterator[float]:
        """Charge the time inside the block to ``step``; yields its allotment when it opened."""
        now = time.monotonic()
        self._charge(now)
        allotment = self.allotment(step) if step in ORDER else self.llm_left()
        if step in ORDER and step not in self.allotted:
            self.allotted[step] = round(allotment, 2)
            self._opened_at[step] = self.spent.get(step, 0.0)
        self._stack.append(step)
        try:
            yield allotment
        finally:
            self._charge(time.monotonic())
            self._stack.pop()

    def _charge(self, now: float) -> None:
        if self._stack:
            ledger = self.spent if self.clock.running else self.unclocked
            top = self._stack[-1]
            ledger[top] = ledger.get(top, 0.0) + max(0.0, now - self._since)
        self._since = now

    # ---- the language model's pool -------------------------------------------------------------------

    def llm_left(self) -> float:
        """Seconds left in the language model's pool (while the clock is paused, its planning allowance)."""
        if not self.clock.running:
            if self.llm_cap <= 0:
                return 0.0
            return max(0.0, max(self.llm_cap, PAUSED_LLM_SECONDS) - self.unclocked.get("llm", 0.0))
        return max(0.0, self.llm_cap - self.spent.get("llm", 0.0))

    def llm_reserve(self) -> float:
        """What the model's remaining stages may still take: the pool left, or, once stages have been
        timed, half again their pace per remaining stage, whichever is less."""
        remaining = [s for s in LLM_STAGES if s not in self.llm_done]
        if not remaining or self.llm_cap <= 0 or self.llm_left() < max(MIN_LLM_REQUEST, 1.2 * self.llm_silent_for):
            return 0.0
        if not self.llm_stage_seconds:
            return self.llm_left()
        pace = max(self.llm_stage_seconds)
        return min(self.llm_left(), 1.5 * pace * len(remaining))

    def llm_deadline(self, stage: str, need: float | None = None) -> float | None:
        """When the model's ``stage`` must have answered, or None when its pool has too little left
        for a request (the rules answer that stage).

        A stage may use what is not held back for the stages after it. Each later stage holds back its
        weighted part of the pool, or, once stages have been timed, half again the slowest one so far if
        that is less: a quick model's early stages are not starved for stages it will answer in seconds.
        ``need`` is what the stage's first request is expected to take (measured by a probe of the
        endpoint, on the safe side): it gets that much with a margin, from the later stages' part if need
        be, up to the whole pool left; None when even half of it would not fit there.
        """
        if self.llm_cap <= 0 or not self.clock.has_budget:
            return None
        names = list(LLM_STAGES)
        later = [s for s in names[names.index(stage) + 1:] if s not in self.llm_done] if stage in LLM_STAGES else []
        left = self.llm_left()
        total = sum(LLM_STAGES[s] for s in later) + LLM_STAGES.get(stage, 0.1)
        pace = 1.5 * max(self.llm_stage_seconds) if self.llm_stage_seconds else None
        held = sum(min(left * LLM_STAGES[s] / total, pace) if pace else left * LLM_STAGES[s] / total for s in later)
        slice_ = left - held
        if need is not None:
            if need / 2 > left:
                return None
            slice_ = max(slice_, min(left, NEED_MARGIN * need))
        # A model that gave no answer in some seconds will not answer in fewer: don't wait for nothing.
        if slice_ < max(MIN_LLM_REQUEST, 1.2 * self.llm_silent_for):
            return None
        deadline = time.monotonic() + slice_
        return min(deadline, self.clock.end) if self.clock.running else deadline

    def llm_stage_done(self, stage: str, seconds: float) -> None:
        """Mark a stage of the model's as over (answered, failed or skipped) and what it took."""
        self.llm_done.add(stage)
        if seconds > 0:
            self.llm_stage_seconds.append(seconds)

    def llm_timed_out(self, seconds: float) -> None:
        """A request got no answer in ``seconds``: later stages are asked only if they can wait longer."""
        self.llm_silent_for = max(self.llm_silent_for, seconds)

    def llm_off(self) -> None:
        """The model will not be asked again in this run (unreachable, or its money budget is spent):
        release its reserve to the steps."""
        self.llm_done.update(LLM_STAGES)

    # ---- for the log and the report -------------------------------------------------------------------

    def summary(self) -> dict:
        """Weights, allotments when each step started, and spent seconds (on the clock and before it)."""
        return {"weights": dict(self.weights), "llm_cap": round(self.llm_cap, 2),
                "allotted": dict(self.allotted),
                "spent": {k: round(v, 2) for k, v in self.spent.items()},
                "before_start": {k: round(v, 2) for k, v in self.unclocked.items()}}
