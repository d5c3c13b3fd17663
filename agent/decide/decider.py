"""Putting a question to the policy, checking the answer, falling back to the rules, and logging it.

The one place where a decision becomes an event: the node asks `Decider.ask`, gets back checked
decisions, and acts on them. When the policy's answer fails the guard (or the policy raises, for an LLM
that cannot be reached), the rule policy answers and a ``fallback`` event says why.
"""

from __future__ import annotations

from typing import Any, Callable

from agent.decide.guard import check
from agent.decide.policy import Decision, Policy
from agent.decide.rules import RulePolicy
from agent.record.events import EventLog
from tools.errors import DataError

Ask = Callable[[Policy], "Decision | list[Decision]"]


class Decider:
    """Asks the active policy, guards, falls back to the rules, logs."""

    def __init__(self, policy: Policy, events: EventLog, rules: RulePolicy | None = None) -> None:
        self.policy = policy
        self.rules = rules or (policy if policy.name == RulePolicy.name else RulePolicy())
        self.events = events

    def put_in_charge(self, policy: Policy) -> None:
        """Make ``policy`` the one asked first, the rules behind it (once, before the graph runs)."""
        self.policy = policy

    def ask(self, ask: Ask, facts: dict[str, Any], *, step: str) -> list[Decision]:
        """Decisions from the policy (or the rules where it fails), each checked and logged."""
        try:
            answer = ask(self.policy)
            decisions = answer if isinstance(answer, list) else [answer]
            problems = [(d, check(d, facts)) for d in decisions]
            bad = [(d, p) for d, p in problems if p]
        except DataError:
            raise
        except Exception as exc:  # an LLM policy that cannot answer: the rules take over
            if self.policy is self.rules:
                raise
            decisions, bad = [], [(getattr(exc, "question", None), f"{type(exc).__name__}: {exc}")]
        if bad:
            if self.policy is self.rules:
                raise AssertionError(f"rule policy made an invalid decision: {bad}")
            for decision, problem in bad:
                rejected = isinstance(decision, Decision)
                self.events.emit("fallback", step=step, question=decision.question if rejected else decision,
                                 rejected=decision.choice if rejected else None, problem=problem,
                                 actor=self.policy.name)
            answer = ask(self.rules)
            decisions = answer if isinstance(answer, list) else [answer]
        for d in decisions:
            self.events.decision(d.question, d.choice, reason=d.reason, evidence=d.evidence,
                                 alternatives=d.alternatives, actor=d.actor, step=step)
        return decisions

    def one(self, ask: Ask, facts: dict[str, Any], *, step: str) -> Decision:
        return self.ask(ask, facts, step=step)[0]

    def record(self, decision: Decision, *, step: str) -> None:
        """Log a decision made outside a policy (a user's option, a derived fact)."""
        self.events.decision(decision.question, decision.choice, reason=decision.reason,
                             evidence=decision.evidence, alternatives=decision.alternatives,
                             actor=decision.actor, step=step)
