"""The reviews' tools: after selection (how to share tuning) and after tuning (single model or ensemble),
each with the option of one more iteration per run.

Each tool is a plain typed function taking `ReviewDeps` first; `selection_stage` and `final_stage` bind
them. One `ReviewDeps` type serves both reviews: they differ in the question they answer and in whether
a blend is on offer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

from agent.decide.policy import Decision, FinalBrief, SelectionBrief
from agent.llm.briefs import leaderboard_brief, quote
from agent.llm.checks import guard
from agent.llm.loop import Stage, ToolError, bind
from tools.candidates import CANDIDATES


@dataclass
class ReviewDeps:
    """What a review's tools need.

    Attributes:
        stage: the stage the tools fill.
        question: what the review decides: ``tuning`` (after selection) or ``final_model`` (after tuning).
        leaderboard: the candidates' rows, best first.
        target: the target column, which an iteration may not drop.
        columns: the table's columns, which an iteration may drop.
        can_iterate: whether one more iteration is possible now (one per run, with enough time left).
        ensemble: after tuning, the best blend of candidates (None when no blend beats the best single).
    """

    stage: Stage
    question: Literal["tuning", "final_model"]
    leaderboard: list[dict]
    target: str | None
    columns: list[str]
    can_iterate: Callable[[], bool]
    ensemble: dict | None = None

    @property
    def evaluated(self) -> list[str]:
        return [r["candidate"] for r in self.leaderboard]


def leaderboard(deps: ReviewDeps) -> str:
    """The leaderboard of the candidates after selection."""
    return leaderboard_brief(deps.leaderboard)


def set_tuning(deps: ReviewDeps, shares: dict[str, float], reason: str) -> str:
    """Share the tuning trials among candidates.

    Args:
        shares: candidate name -> relative share of trials (0 or more).
        reason: why this split.
    """
    guard(Decision("tuning", {"shares": shares}, reason), {"evaluated": deps.evaluated}, "tuning")
    total = sum(float(v) for v in shares.values())
    if total <= 0:
        raise ToolError("at least one share must be above 0", "tuning")
    norm = {k: round(float(v) / total, 3) for k, v in shares.items() if float(v) > 0}
    deps.stage.decided["tuning"] = Decision("tuning", {"shares": norm}, reason,
                                            {"leaderboard": deps.leaderboard[:6]}, actor="llm")
    return "ok"


def set_final(deps: ReviewDeps, kind: Literal["single", "ensemble"], reason: str, candidate: str | None = None) -> str:
    """Choose the final model.

    Args:
        kind: "single" for one candidate's best configuration, "ensemble" for the blend shown.
        reason: why.
        candidate: with kind "single", which candidate.
    """
    if kind == "ensemble":
        if deps.ensemble is None:
            raise ToolError("no blend beats the best single model here; choose kind single", "final_model")
        choice = {"kind": "ensemble", "weights": deps.ensemble["weights"]}
    else:
        choice = {"kind": "single", "candidate": candidate}
    guard(Decision("final_model", choice, reason), {"evaluated": deps.evaluated}, "final_model")
    deps.stage.decided["final_model"] = Decision("final_model", choice, reason, {"ensemble": deps.ensemble},
                                                 actor="llm")
    return "ok"


def request_iteration(deps: ReviewDeps, reason: str, drop_columns: list[str] | None = None,
                      add_candidates: list[str] | None = None) -> str:
    """Go back once: drop more columns and/or add candidates, then select (and tune) again.

    Args:
        reason: what in the results shows the plan should change.
        drop_columns: columns to drop now.
        add_candidates: candidate families to add.
    """
    question = deps.question
    if not deps.can_iterate():
        raise ToolError("no iteration is possible now (one per run, and only with enough time left)", question)
    if deps.target in (drop_columns or []):
        raise ToolError(f"{quote(deps.target)} is the target and cannot be dropped", question)
    bad = [c for c in drop_columns or [] if c not in deps.columns]
    unknown = [c for c in add_candidates or [] if c not in CANDIDATES]
    if bad or unknown:
        raise ToolError(f"unknown columns {bad} or candidates {unknown}; candidates are "
                        f"{', '.join(CANDIDATES)}", question)
    choice: dict[str, Any] = {"iterate": {"drop": list(drop_columns or []), "add": list(add_candidates or [])}}
    if question == "tuning":
        choice["shares"] = {}
    else:
        choice.update(kind="iterate")
    deps.stage.decided[question] = Decision(question, choice, reason, actor="llm")
    return "ok: the run will go back to selection with these changes"


SELECTION_TOOLS: list[Callable[..., str]] = [leaderboard, set_tuning, request_iteration]
FINAL_TOOLS: list[Callable[..., str]] = [set_final, request_iteration]


def selection_stage(brief: SelectionBrief, can_iterate: Callable[[], bool]) -> Stage:
    """The review after selection, its tools bound to fresh `ReviewDeps`."""
    stage = Stage("review_selection", {}, ("tuning",), by_tool={"set_tuning": "tuning",
                                                                "request_iteration": "tuning"})
    deps = ReviewDeps(stage, "tuning", brief.leaderboard, brief.target, brief.columns, can_iterate)
    stage.tools.update(bind(deps, SELECTION_TOOLS))
    return stage


def final_stage(brief: FinalBrief, can_iterate: Callable[[], bool]) -> Stage:
    """The review after tuning, its tools bound to fresh `ReviewDeps`."""
    stage = Stage("review_tuning", {}, ("final_model",), by_tool={"set_final": "final_model",
                                                                  "request_iteration": "final_model"})
    deps = ReviewDeps(stage, "final_model", brief.leaderboard, brief.target, brief.columns, can_iterate,
                      ensemble=brief.ensemble)
    stage.tools.update(bind(deps, FINAL_TOOLS))
    return stage


def selection_prompt_values(brief: SelectionBrief, budget: float) -> dict[str, Any]:
    """The values the ``review_selection`` prompt is filled with."""
    return {"metric": brief.metric,
            "direction": "higher is better" if brief.greater_is_better else "lower is better",
            "leaderboard": leaderboard_brief(brief.leaderboard), "tune_seconds": brief.tune_seconds,
            "min_left": 0.4 * budget}


def final_prompt_values(brief: FinalBrief) -> dict[str, Any]:
    """The values the ``review_tuning`` prompt is filled with."""
    ensemble = brief.ensemble
    blend = (f"A blend {ensemble['weights']} scores {ensemble['score']:.5g} out of fold against "
             f"{ensemble['best_single_score']:.5g} for {ensemble['best_single']} alone." if ensemble
             else "No blend of candidates beats the best single model out of fold.")
    return {"metric": brief.metric, "direction": "see the metric", "leaderboard": leaderboard_brief(brief.leaderboard),
            "ensemble": blend}
