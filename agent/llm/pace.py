"""How fast the endpoint answers, measured once at the start of a run.

A hosted API answers a planning request in a second or two; a small local model on a laptop's CPU took
20-29 s for the first one (a prompt of ~1,500 tokens), because a local server reads the prompt token by
token. A deadline made for the one starves the other, and a deadline made for the other wastes the run's
time on a model that will not answer. So the run asks a one-word question with the real system prompt
while it reads and profiles the data, and times the answer: each step's first request is allowed that
time scaled by its prompt's size (local servers are prompt-bound, and read a step's prompt whole since
its tools come first; for an API this overestimates, which its share easily covers).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from agent.llm.client import LLMClient, LLMUnavailable
from agent.llm.context import estimate

PROBE_QUESTION = "Reply with the single word OK."


@dataclass(frozen=True)
class Pace:
    """One timed round trip: ``seconds`` for a prompt of ``prompt_tokens``."""

    seconds: float
    prompt_tokens: int

    def first_request(self, prompt_tokens: int) -> float:
        """Seconds a first request with ``prompt_tokens`` may take: the probe's time scaled by the prompt's
        size, never less than the probe's own."""
        return self.seconds * max(1.0, prompt_tokens / max(self.prompt_tokens, 1))


class PaceProbe:
    """The probe's request, sent on a thread so it overlaps reading the data.

    Args:
        client: the run's client (the probe is accounted like any call, but not recorded for replay).
        system: the run's system prompt (a local server may keep it cached for the first real request).
    """

    def __init__(self, client: LLMClient, system: str) -> None:
        self.pace: Pace | None = None
        self.failure: LLMUnavailable | None = None
        self._messages = [{"role": "system", "content": system}, {"role": "user", "content": PROBE_QUESTION}]
        self._client = client
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._ask, daemon=True, name="mlpilot-llm-probe")
        self._thread.start()

    def _ask(self) -> None:
        self._client.connect()
        start = time.monotonic()
        try:
            reply = self._client.complete(self._messages, purpose="probe", max_tokens=1, record=False)
        except LLMUnavailable as exc:
            self.failure = exc
            return
        tokens = int((reply.get("usage") or {}).get("prompt_tokens") or 0) or estimate(self._messages)
        self.pace = Pace(time.monotonic() - start, tokens)

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the probe; True once it has answered or failed."""
        self._thread.join(max(0.0, seconds))
        return not self._thread.is_alive()

    @property
    def waited(self) -> float:
        """Seconds since the probe was sent."""
        return time.monotonic() - self._started
