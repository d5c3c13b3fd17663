"""The LLM policy's reviews: after selection (how to share tuning) and after tuning (single model or
ensemble), each with the option of one more iteration per run.
"""

from __future__ import annotations

from typing import Callable, Literal

from agent.decide.policy import Decision, SelectionBrief
from agent.llm.briefs import leaderboard_brief, quote
from agent.llm.checks import guard
from agent.llm.loop import Stage, ToolError
from tools.candidates import CANDIDATES


class ReviewStages:
    """Mixin of `LLMPolicy`: the two reviews."""

    def choose_tuning(self, brief: SelectionBrief) -> Decision:
        rules = self.rules.choose_tuning(brief)
        stage = self._selection_stage(brief)
        prompt = self._prompt("review_selection", metric=brief.metric,
                              direction="higher is better" if brief.greater_is_better else "lower is better",
                              leaderboard=leaderboard_brief(brief.leaderboard), tune_seconds=brief.tune_seconds,
                              min_left=0.4 * self._budget())
        self._run(stage, prompt)
        return self._with_rules(self._decided(stage, "tuning"), rules)

    def _selection_stage(self, brief: SelectionBrief) -> Stage:
        stage = Stage("review_selection", {}, ("tuning",), by_tool={"set_tuning": "tuning",
                                                                    "request_iteration": "tuning"})
        evaluated = [r["candidate"] for r in brief.leaderboard]

        def leaderboard() -> str:
            """The leaderboard of the candidates after selection."""
            return leaderboard_brief(brief.leaderboard)

        def set_tuning(shares: dict[str, float], reason: str) -> str:
            """Share the tuning trials among candidates.

            Args:
                shares: candidate name -> relative share of trials (0 or more).
                reason: why this split.
            """
            guard(Decision("tuning", {"shares": shares}, reason), {"evaluated": evaluated}, "tuning")
            total = sum(float(v) for v in shares.values())
            if total <= 0:
                raise ToolError("at least one share must be above 0", "tuning")
            norm = {k: round(float(v) / total, 3) for k, v in shares.items() if float(v) > 0}
            stage.decided["tuning"] = Decision("tuning", {"shares": norm}, reason, {"leaderboard": brief.leaderboard[:6]},
                                               actor="llm")
            return "ok"

        stage.tools.update(leaderboard=leaderboard, set_tuning=set_tuning,
                           request_iteration=self._iteration_tool(stage, "tuning"))
        return stage

    def choose_final(self, metric: str, leaderboard: list[dict], ensemble: dict | None) -> Decision:
        rules = self.rules.choose_final(metric, leaderboard, ensemble)
        stage = self._final_stage(leaderboard, ensemble)
        blend = (f"A blend {ensemble['weights']} scores {ensemble['score']:.5g} out of fold against "
                 f"{ensemble['best_single_score']:.5g} for {ensemble['best_single']} alone." if ensemble
                 else "No blend of candidates beats the best single model out of fold.")
        self._run(stage, self._prompt("review_tuning", metric=metric, direction="see the metric",
                                      leaderboard=leaderboard_brief(leaderboard), ensemble=blend))
        return self._with_rules(self._decided(stage, "final_model"), rules)

    def _final_stage(self, leaderboard: list[dict], ensemble: dict | None) -> Stage:
        stage = Stage("review_tuning", {}, ("final_model",), by_tool={"set_final": "final_model",
                                                                      "request_iteration": "final_model"})
        evaluated = [r["candidate"] for r in leaderboard]

        def set_final(kind: Literal["single", "ensemble"], reason: str, candidate: str | None = None) -> str:
            """Choose the final model.

            Args:
                kind: "single" for one candidate's best configuration, "ensemble" for the blend shown.
                reason: why.
                candidate: with kind "single", which candidate.
            """
            if kind == "ensemble":
                if ensemble is None:
                    raise ToolError("no blend beats the best single model here; choose kind single", "final_model")
                choice = {"kind": "ensemble", "weights": ensemble["weights"]}
            else:
                choice = {"kind": "single", "candidate": candidate}
            guard(Decision("final_model", choice, reason), {"evaluated": evaluated}, "final_model")
            stage.decided["final_model"] = Decision("final_model", choice, reason, {"ensemble": ensemble}, actor="llm")
            return "ok"

        stage.tools.update(set_final=set_final, request_iteration=self._iteration_tool(stage, "final_model"))
        return stage

    def _iteration_tool(self, stage: Stage, question: str) -> Callable[..., str]:
        columns = self.workspace["table"].frame.columns

        def request_iteration(reason: str, drop_columns: list[str] | None = None,
                              add_candidates: list[str] | None = None) -> str:
            """Go back once: drop more columns and/or add candidates, then select (and tune) again.

            Args:
                reason: what in the results shows the plan should change.
                drop_columns: columns to drop now.
                add_candidates: candidate families to add.
            """
            if not self.can_iterate():
                raise ToolError("no iteration is possible now (one per run, and only with enough time left)",
                                question)
            target = self.workspace["target_info"].name if self.workspace.get("target_info") is not None else None
            if target in (drop_columns or []):
                raise ToolError(f"{quote(target)} is the target and cannot be dropped", question)
            bad = [c for c in drop_columns or [] if c not in columns]
            unknown = [c for c in add_candidates or [] if c not in CANDIDATES]
            if bad or unknown:
                raise ToolError(f"unknown columns {bad} or candidates {unknown}; candidates are "
                                f"{', '.join(CANDIDATES)}", question)
            choice = {"iterate": {"drop": list(drop_columns or []), "add": list(add_candidates or [])}}
            if question == "tuning":
                choice["shares"] = {}
            else:
                choice.update(kind="iterate")
            stage.decided[question] = Decision(question, choice, reason, actor="llm")
            return "ok: the run will go back to selection with these changes"

        return request_iteration

