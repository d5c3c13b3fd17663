"""Shared by the LLM policy's stages: checking a tool call with the guard, and declining a question."""

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
