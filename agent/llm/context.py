"""Fitting a conversation into the model's context window.

A local model serves a few thousand tokens (llama.cpp's default is 4,096), and a request over that is an
HTTP 400 on every turn after. Tokens are estimated from the characters sent (a conservative 3 per token
for JSON-heavy prompts, lowered to what the server's own counts show), and the oldest turns are dropped
whole: a user message with every reply, tool call and tool result after it, so no tool call is left
without its reply (which OpenAI's API rejects).
"""

from __future__ import annotations

import json

# Characters per token when the server has not said: English prose runs near 4, JSON and code near 3.
CHARS_PER_TOKEN = 3.0
# Per message: role, separators and the chat template's markers.
MESSAGE_OVERHEAD = 8


def size(value: object) -> int:
    """Characters a message, or the tool schemas, take in the request."""
    return len(json.dumps(value, ensure_ascii=False, default=str))


def estimate(messages: list[dict], tools: list[dict] | None = None, *, chars_per_token: float = CHARS_PER_TOKEN) -> int:
    """Tokens a request with these messages and tools will take, on the safe side."""
    chars = sum(size(m) for m in messages) + (size(tools) if tools else 0)
    return int(chars / chars_per_token) + MESSAGE_OVERHEAD * len(messages)


def turns(messages: list[dict]) -> list[tuple[int, int]]:
    """(start, end) of each turn after the system message: a user message and all that follows it up to
    the next user message."""
    starts = [i for i, m in enumerate(messages) if i > 0 and m.get("role") == "user"]
    return [(s, e) for s, e in zip(starts, starts[1:] + [len(messages)])]


def fit(messages: list[dict], limit: int, *, tools: list[dict] | None = None, keep_last: int = 1,
        max_messages: int | None = None, chars_per_token: float = CHARS_PER_TOKEN) -> int:
    """Drop the oldest whole turns, in place, until the request fits ``limit`` tokens and holds at most
    ``max_messages`` messages; the system message and the last ``keep_last`` turns always stay.
    Returns how many messages were dropped."""
    dropped = 0
    while True:
        spans = turns(messages)
        over = estimate(messages, tools, chars_per_token=chars_per_token) > limit
        too_many = max_messages is not None and len(messages) > max_messages
        if not (over or too_many) or len(spans) <= keep_last:
            return dropped
        start, end = spans[0]
        del messages[start:end]
        dropped += end - start


def orphan_tool_calls(messages: list[dict]) -> list[str]:
    """Tool call ids an assistant message made that no tool message answers (a broken history)."""
    answered = {m.get("tool_call_id") for m in messages if m.get("role") == "tool"}
    return [c.get("id") for m in messages if m.get("role") == "assistant" for c in m.get("tool_calls") or []
            if c.get("id") not in answered]
