"""The tool-calling loop: ask the model, run the tools it calls, feed results (or errors) back.

Every failure mode ends the loop instead of the run: broken JSON arguments, an unknown tool or a wrong
argument go back to the model as a tool error naming what is valid; prose with no tool call gets one
reminder; a question answered invalidly three times is given up (the rules answer it); and a stage that
goes on past its turn limit stops. The conversation is kept across stages so the model remembers the
run's earlier decisions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from agent.llm.client import LLMClient, LLMUnavailable
from agent.llm.context import CHARS_PER_TOKEN, estimate, fit, size
from tools.schema import tool_schema

MAX_INVALID = 3
# The longest reply each stage needs, in tokens: its tool calls with a sentence of reason each. A weak
# model let run on generated 2,408 tokens in 131 s for one answer; the cap stops it on the server too.
REPLY_TOKENS = {"plan_goal": 600, "plan_columns": 800, "review_selection": 400, "review_tuning": 400,
                "chat": 600, "narrative": 500}
DEFAULT_REPLY_TOKENS = 500
# How servers name their context in the HTTP 400 for a prompt too long: OpenAI, vLLM and llama.cpp's
# "maximum context length is 4096 tokens", llama-cpp-python's "exceed context window of 4096".
CONTEXT_ERROR = re.compile(r"(?:maximum context length is|context window of|context length of)\s*(\d{3,7})", re.I)


class ToolError(Exception):
    """An invalid tool call; the message goes back to the model."""

    def __init__(self, message: str, question: str | None = None) -> None:
        super().__init__(message)
        self.question = question


class StageFailed(Exception):
    """The model did not complete a stage (prose, loops, unreachable): the rules decide instead."""


@dataclass
class Stage:
    """One round of decisions: its tools, and when it is done."""

    name: str
    tools: dict[str, Callable[..., str]]
    questions: tuple[str, ...]
    by_tool: dict[str, str] = field(default_factory=dict)   # tool -> the question it answers
    max_turns: int = 8
    decided: dict[str, Any] = field(default_factory=dict)
    invalid: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    finished: bool = False

    def given_up(self, question: str) -> bool:
        return self.invalid.get(question, 0) >= MAX_INVALID

    def done(self) -> bool:
        return self.finished or all(q in self.decided or self.given_up(q) for q in self.questions)

    def why_not(self, question: str) -> str:
        errors = self.errors.get(question)
        if errors:
            return f"the model's answers were invalid {len(errors)} time(s): {errors[-1]}"
        return "the model did not decide it"


def bind(deps: Any, tools: list[Callable[..., str]]) -> dict[str, Callable[..., str]]:
    """Each tool by its name, with ``deps`` bound as its first argument: what a `Stage` holds. The
    schema of a bound tool is the bare function's (`tool_schema` reads through the partial)."""
    return {fn.__name__: partial(fn, deps) for fn in tools}


class Conversation:
    """The messages of one run with the model, and the loop that runs a stage."""

    def __init__(self, client: LLMClient, system: str, *, log: Callable[..., None]) -> None:
        self.client = client
        self.messages: list[dict] = [{"role": "system", "content": system}]
        self.log = log
        self.chars_per_token = CHARS_PER_TOKEN
        self.context = client.config.context

    def run(self, stage: Stage, prompt: str, *, deadline: float | None = None) -> Stage:
        """Run ``stage`` after the user message ``prompt``, every request ending by ``deadline``
        (`time.monotonic()`); raises StageFailed if it cannot finish, `LLMUnavailable` (or its
        `LLMTimedOut`) if the model cannot answer."""
        self.messages.append({"role": "user", "content": prompt})
        schemas = [tool_schema(fn, name=name) for name, fn in stage.tools.items()]
        cap = self.reply_tokens(stage.name)
        reminded = False
        for _ in range(stage.max_turns):
            if stage.done():
                return stage
            reply = self._ask(stage.name, schemas, cap, deadline)
            self._learn(reply, schemas)
            choice = (reply.get("choices") or [{}])[0]
            message = choice.get("message") or {}
            calls = message.get("tool_calls") or []
            self.messages.append({k: v for k, v in {"role": "assistant", "content": message.get("content") or "",
                                                    "tool_calls": calls or None}.items() if v is not None})
            # Every tool call gets its reply, even in a reply cut short: an API rejects a call left unanswered.
            for call in calls:
                result = self._dispatch(stage, call)
                self.messages.append({"role": "tool", "tool_call_id": call.get("id") or "call", "content": result})
            cut = choice.get("finish_reason") == "length"
            if cut:
                self.log("llm_cut", stage=stage.name, max_tokens=cap)
            if calls and not cut:
                continue
            if reminded:
                raise StageFailed("the model's replies ran past the step's limit of "
                                  f"{cap} tokens twice" if cut else "the model answered in prose twice without "
                                  "calling a tool")
            reminded = True
            if not calls:
                self.log("llm_prose", stage=stage.name, chars=len(message.get("content") or ""))
            self.messages.append({"role": "user", "content": (
                f"Your reply was cut off at {cap} tokens, the limit for a reply in this step. Answer with short "
                "tool calls and a one-sentence reason each." if cut else
                f"Please act by calling the tools ({', '.join(stage.tools)}), not in prose.")})
        if not stage.done():
            raise StageFailed(f"no complete answer after {stage.max_turns} turns")
        return stage

    def _ask(self, purpose: str, schemas: list[dict], cap: int, deadline: float | None) -> dict:
        """One request, fitted to the context; a server whose context was unknown, or smaller than said,
        names its size when a prompt is too long: fit to it and ask once more."""
        send = partial(self.client.complete, tools=schemas, purpose=purpose, deadline=deadline, max_tokens=cap)
        self._fit(schemas, cap)
        try:
            return send(self.messages)
        except LLMUnavailable as exc:
            if not self._learn_context(str(exc)):
                raise
        self._fit(schemas, cap)
        return send(self.messages)

    def request_tokens(self, stage: Stage, prompt: str) -> int:
        """Estimated tokens of ``stage``'s first request after ``prompt``: the conversation, the prompt, the tools."""
        schemas = [tool_schema(fn, name=name) for name, fn in stage.tools.items()]
        return estimate(self.messages + [{"role": "user", "content": prompt}], schemas,
                        chars_per_token=self.chars_per_token)

    def reply_tokens(self, stage: str) -> int:
        """The reply cap for ``stage``'s requests: what it needs, never above the configured cap."""
        return min(REPLY_TOKENS.get(stage, DEFAULT_REPLY_TOKENS), self.client.config.max_tokens)

    def _learn_context(self, error: str) -> bool:
        """Take the context size a server's refusal names, if it is news; True when it is."""
        found = CONTEXT_ERROR.search(error)
        size = int(found.group(1)) if found else None
        if size is None or (self.context is not None and size >= self.context):
            return False
        self.context = size
        self.log("llm_context", dropped=0, limit=size)
        return True

    def _fit(self, schemas: list[dict], reply_tokens: int) -> None:
        """Keep the request within the model's context (when it is known), less the reply's tokens."""
        if not self.context:
            return
        limit = self.context - reply_tokens
        dropped = fit(self.messages, limit, tools=schemas, chars_per_token=self.chars_per_token)
        if dropped:
            self.log("llm_context", dropped=dropped, limit=limit)
        left = estimate(self.messages, schemas, chars_per_token=self.chars_per_token)
        if left > limit:
            raise StageFailed(f"the prompt needs about {left:,} tokens, more than the model's context of "
                              f"{self.context:,} less {reply_tokens:,} for its reply")

    def _learn(self, reply: dict, schemas: list[dict]) -> None:
        """Lower the characters-per-token estimate to what the server counted, if it counts more tokens."""
        tokens = (reply.get("usage") or {}).get("prompt_tokens")
        if tokens:
            chars = sum(size(m) for m in self.messages) + size(schemas)
            self.chars_per_token = max(1.0, min(self.chars_per_token, chars / tokens))

    def _dispatch(self, stage: Stage, call: dict) -> str:
        fn = call.get("function") or {}
        name, raw = fn.get("name", ""), fn.get("arguments") or "{}"
        try:
            try:
                args = json.loads(raw) if isinstance(raw, str) else raw
            except json.JSONDecodeError as exc:
                raise ToolError(f"the arguments of {name} are not valid JSON ({exc.msg} at character {exc.pos}); "
                                "send a JSON object") from None
            if not isinstance(args, dict):
                raise ToolError(f"the arguments of {name} must be a JSON object")
            handler = stage.tools.get(name)
            if handler is None:
                raise ToolError(f"there is no tool '{name}' in this step; tools are: {', '.join(stage.tools)}")
            try:
                result = handler(**args)
            except TypeError as exc:
                raise ToolError(f"wrong arguments for {name}: {exc}; see the tool's schema") from None
            self.log("llm_tool", stage=stage.name, tool=name, ok=True)
            return result
        except ToolError as exc:
            question = exc.question or stage.by_tool.get(name)
            if question:
                stage.invalid[question] = stage.invalid.get(question, 0) + 1
                stage.errors.setdefault(question, []).append(str(exc))
            self.log("llm_tool", stage=stage.name, tool=name, ok=False, error=str(exc)[:300])
            return f"error: {exc}"
