"""Shared by the LLM policy's stages: checking a tool call with the guard, declining a question, and
putting the rule policy's answer beside the model's."""

from __future__ import annotations

from agent.decide.guard import check
from agent.decide.policy import Decision
from agent.llm.loop import ToolError


class Declined(Exception):
    """The model gave no valid answer to a question; the rules will answer it."""

    def __init__(self, question: str, why: str) -> None:
        super().__init__(why)
        self.question = question


def guard(decision: Decision, facts: dict, question: str) -> None:
    problem = check(decision, facts)
    if problem:
        raise ToolError(problem, question)


def with_rules(decision: Decision, rules: Decision | None) -> Decision:
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
