"""Who decides: the policy interface, the decision record and the briefs each question comes with.

Every choice of a run is a question put by a graph node to a policy, together with a brief of the
evidence (summaries only, never raw rows). The answer is a `Decision`; the guard checks it; the node
logs it. `RulePolicy` (agent.decide.rules) answers every question offline; an LLM policy implements the same
methods and, where the guard rejects its answer, the rules answer instead (agent.decide.decider).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from tools.signals import datetime_summary, missing_signal


@dataclass
class Decision:
    """An answer to one question, with what a reader needs to judge it.

    Attributes:
        question: what was decided (``target``, ``metric``, ``drop:duration``, ...).
        choice: the answer (JSON-able).
        reason: one or two sentences for a person.
        evidence: the figures it rests on.
        alternatives: other answers considered: ``{"choice": ..., "why_not": ...}``.
        actor: ``rules``, ``llm`` or ``user``.
    """

    question: str
    choice: Any
    reason: str
    evidence: dict = field(default_factory=dict)
    alternatives: list[dict] = field(default_factory=list)
    actor: str = "rules"


@dataclass
class GoalBrief:
    """What the plan step knows before the target is fixed.

    ``profile`` is the profile as a dict (per-column summaries, row and column counts), for a policy
    that shows the columns to a model (the rules do not read it).
    """

    goal: str
    columns: list[str]
    profile_summary: str
    column_kinds: dict[str, str]
    n_rows: int
    forced_target: str | None = None
    forced_task: str | None = None
    forced_metric: str | None = None
    profile: dict = field(default_factory=dict)


@dataclass
class ColumnBrief:
    """Evidence for the column plan: the profile (as dict), leakage report and missingness signal."""

    target: str
    task: str
    profile: dict
    leakage: dict
    missing_signal: dict[str, dict]
    datetime_info: dict[str, dict]
    keep: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    inherited: dict[str, str] = field(default_factory=dict)   # column -> why the parent run dropped it
    train_rows: int | None = None   # rows in the training part (None where the caller does not know)
    only: list[str] = field(default_factory=list)   # the columns the goal says to use, when it names them
    only_phrase: str = ""
    goal_drop: dict[str, str] = field(default_factory=dict)   # column -> the goal's phrase keeping it out

    @classmethod
    def from_training(cls, target: str, task: str, profile: Any, leakage: Any, X_train: Any, y_train: Any,
                      **options: Any) -> ColumnBrief:
        """The brief for a training part: its ``profile`` and ``leakage`` report (tools' objects, with
        ``to_dict``), the missing-value signal of its numeric columns and the parts of its date columns;
        ``options`` are keep, drop and inherited."""
        kinds = {c.name: c.kind for c in profile.columns}
        numeric = [c for c, k in kinds.items() if k == "numeric" and c != target]
        dates = [c for c, k in kinds.items() if k == "datetime" and c != target]
        return cls(target=target, task=task, profile=profile.to_dict(), leakage=leakage.to_dict(),
                   missing_signal=missing_signal(X_train, y_train, task, numeric),
                   datetime_info=datetime_summary(X_train, dates), train_rows=len(X_train), **options)


@dataclass
class SelectionBrief:
    """The leaderboard after selection and the time left for tuning; the target and the table's
    columns bound what one more iteration may drop."""

    task: str
    metric: str
    greater_is_better: bool
    leaderboard: list[dict]
    tune_seconds: float
    n_rows: int
    target: str | None = None
    columns: list[str] = field(default_factory=list)
    # Candidates whose selection the clock cut short: fewer scored folds than planned, or none.
    cut: list[dict] = field(default_factory=list)
    folds: int = 5


@dataclass
class FinalBrief:
    """The leaderboard after tuning and the best blend of candidates (None when no blend beats the best
    single model out of fold); the target and the table's columns bound one more iteration."""

    metric: str
    leaderboard: list[dict]
    ensemble: dict | None
    target: str | None = None
    columns: list[str] = field(default_factory=list)


@dataclass
class TimeBrief:
    """What the time plan is made from: the budget, what is left to share, the data's size and the plan.

    ``seconds_left`` is what the steps after the preparation may share (the language model's reserve
    already taken out); ``llm_cap`` is the model's own capped pool (0 when it is off).
    """

    budget: float
    seconds_left: float
    llm_cap: float
    n_rows: int
    n_features: int
    candidates: list[str]
    max_trials: int | None = None
    # Training rows the final LightGBM learns from on Dask (--dask), beyond the in-memory sample; 0 without.
    full_rows: int = 0


@dataclass
class SampleBrief:
    """How big selection's and tuning's row sample may be: the training part's size and the pace of a
    default LightGBM fit measured on the first model, against the seconds the time plan gives them."""

    n_rows: int
    n_features: int
    seconds_per_row: float
    folds: int
    select_seconds: float
    tune_seconds: float
    candidates: list[str]


@dataclass
class QuickLookBrief:
    """Whether to fit a model on a big file's first rows before reading it all: the file's size and the
    run's budget."""

    file_mb: float
    budget: float


class Policy(Protocol):
    """The questions a run asks. Each returns a Decision (or several) for the guard to check."""

    name: str

    def choose_budget(self, goal: str, given: float | None) -> Decision: ...

    def choose_target(self, brief: GoalBrief) -> Decision: ...

    def choose_task(self, brief: GoalBrief, target: str, inferred: str, evidence: dict) -> Decision: ...

    def choose_metric(self, brief: GoalBrief, task: str, target_info: dict) -> list[Decision]: ...

    def choose_validation(self, n_rows: int, task: str, budget: float, forced_folds: int | None) -> Decision: ...

    def choose_time_plan(self, brief: TimeBrief) -> Decision: ...

    def choose_screen(self, n_features: int, n_rows: int, budget: float) -> Decision: ...

    def choose_sample(self, brief: SampleBrief) -> Decision: ...

    def choose_quick_look(self, brief: QuickLookBrief) -> Decision: ...

    def choose_columns(self, brief: ColumnBrief) -> list[Decision]: ...

    def choose_candidates(self, task: str, n_rows: int, n_features: int, seconds_left: float) -> Decision: ...

    def choose_tuning(self, brief: SelectionBrief) -> Decision: ...

    def choose_final(self, brief: FinalBrief) -> Decision: ...

    def choose_refit(self, refit_seconds: float, seconds_left: float, interrupted: bool) -> Decision: ...

    def choose_bagging(self, n_train: int, n_rows: int, smallest_class: int, folds: int, seconds: float,
                       seconds_left: float) -> Decision: ...
