"""Talking to an OpenAI-compatible chat endpoint: retries, timeouts, accounting, recording, replay.

`LLMClient.complete` sends one chat request (tool turns non-streaming, because streamed tool calls from
some local servers arrive malformed; narrative turns may stream) and returns the reply as a plain dict in
the Chat Completions shape. It retries timeouts, connection errors, HTTP 429 and 5xx a bounded number of
times with exponential backoff and never waits past the caller's deadline. Every call is accounted
(tokens from the server's ``usage``, latency, estimated cost) and recorded in the run's ``llm_calls.jsonl``
so that `ReplayClient` can repeat the run offline with the same answers.

The API key is held by the openai client only; it never enters an event, a record or a message.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from agent.llm.config import LLMConfig
from tools.jsonable import jsonable

RETRYABLE_STATUS = (408, 409, 429, 500, 502, 503, 504)


class LLMUnavailable(Exception):
    """The endpoint could not give an answer (after retries), or the LLM budget is spent.

    ``down`` says the endpoint should not be asked again in this run: it could not be reached, kept
    failing through the retries, refused the key or the model (HTTP 401, 403, 404), or the money budget
    is spent. One refused request (HTTP 400 or 422: a prompt too long for it, say) fails its stage only.
    """

    def __init__(self, message: str, *, down: bool = True) -> None:
        super().__init__(message)
        self.down = down


class LLMTimedOut(LLMUnavailable):
    """No answer within the time the run could give this request: the rules answer this stage only.
    ``waited`` is the longest a request of it waited for nothing."""

    def __init__(self, message: str, waited: float = 0.0) -> None:
        super().__init__(message, down=False)
        self.waited = waited


@dataclass
class Usage:
    """Running totals of the LLM's use in one run."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0
    failures: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "tokens": self.tokens, "cost_usd": round(self.cost, 6), "seconds": round(self.seconds, 3),
                "failures": self.failures}


@dataclass
class LLMClient:
    """One run's connection to the model.

    Attributes:
        config: model, endpoint, timeouts, prices, budget.
        record_path: where each call's request summary and reply are appended (None: not recorded).
        on_call: called with an accounting record after every attempt (the event log).
    """

    config: LLMConfig
    record_path: Path | None = None
    on_call: Callable[[dict], None] | None = None
    usage: Usage = field(default_factory=Usage)
    _client: Any = None
    _index: int = 0

    def budget_left(self) -> bool:
        c = self.config
        if c.budget_usd is not None and self.usage.cost >= c.budget_usd:
            return False
        return not (c.budget_tokens is not None and self.usage.tokens >= c.budget_tokens)

    def complete(self, messages: list[dict], *, tools: list[dict] | None = None, purpose: str,
                 deadline: float | None = None, stream: bool = False, max_tokens: int | None = None,
                 record: bool = True) -> dict:
        """One chat completion as a dict; raises `LLMUnavailable` when no answer can be had.

        ``max_tokens`` caps this reply (never above the configured cap): every request carries one, so a
        rambling model stops on the server too, not only in our wait. ``record`` False keeps the call out
        of the recording that a replay repeats (the endpoint probe).
        """
        if not self.budget_left():
            raise LLMUnavailable(f"the LLM budget is spent ({self._spent()})")
        cap = min(max_tokens, self.config.max_tokens) if max_tokens else self.config.max_tokens
        request = {"model": self.config.model, "messages": messages, "temperature": 0.0, "seed": self.config.seed,
                   "max_tokens": cap}
        if tools:
            request["tools"] = tools
            # "required" breaks some local servers (HTTP 500); the prompt asks for a tool call instead.
            request["tool_choice"] = "auto"
        attempt, delay, last_error, timed_out, waited = 0, 1.0, "", False, 0.0
        last_exc: Exception | None = None
        while attempt <= self.config.max_retries:
            attempt += 1
            timeout = self.config.timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout < 1.0:
                    raise LLMTimedOut(f"no time left in the run's share for the LLM ({last_error or purpose})",
                                      waited)
            start = time.monotonic()
            try:
                reply = self._send(request, timeout, stream and not tools)
            except Exception as exc:  # classified below; anything unknown is not retried
                status = getattr(exc, "status_code", None)
                last_error, last_exc = _describe(exc), exc
                self.usage.failures += 1
                self._account(purpose, time.monotonic() - start, None, error=last_error, attempt=attempt)
                timed_out = type(exc).__name__ in ("APITimeoutError", "TimeoutError", "ReadTimeout")
                if timed_out:
                    waited = max(waited, time.monotonic() - start)
                retryable = status in RETRYABLE_STATUS or timed_out or type(exc).__name__ in (
                    "APIConnectionError", "ConnectionError")
                if not retryable or attempt > self.config.max_retries:
                    break
                wait = min(delay, (deadline - time.monotonic() - 1.0) if deadline else delay)
                if wait <= 0:
                    break
                time.sleep(wait)
                delay *= 2
                continue
            self._account(purpose, time.monotonic() - start, reply, attempt=attempt)
            if record:
                self._record(purpose, request, reply)
            return reply
        if timed_out:
            raise LLMTimedOut(f"no answer in time ({last_error})", waited)
        # Retried to the end, unreachable, or refusing the key or the model: asking again will not help.
        # A single refusal of this request (400, 422, an unknown error) is this request's problem.
        status = getattr(last_exc, "status_code", None)
        down = attempt > 1 or status in (401, 403, 404) or type(last_exc).__name__ in (
            "APIConnectionError", "ConnectionError", "AuthenticationError", "PermissionDeniedError", "NotFoundError")
        raise LLMUnavailable(last_error or "no answer", down=down)

    def connect(self) -> None:
        """Make the HTTP client now (importing openai takes most of a second), so that a timed request
        measures the endpoint, not the import."""
        if self._client is None:
            import openai

            self._client = openai.OpenAI(api_key=self.config.api_key or "not-needed", base_url=self.config.base_url,
                                         max_retries=0, timeout=self.config.timeout)

    def _send(self, request: dict, timeout: float, stream: bool) -> dict:
        self.connect()
        if not stream:
            response = self._client.chat.completions.create(**request, timeout=timeout)
            return response.model_dump(exclude_none=True)
        chunks = self._client.chat.completions.create(**request, timeout=timeout, stream=True,
                                                      stream_options={"include_usage": True})
        return _assemble_stream(chunks)

    def _account(self, purpose: str, seconds: float, reply: dict | None, *, attempt: int,
                 error: str | None = None) -> None:
        self.usage.seconds += seconds
        record: dict[str, Any] = {"purpose": purpose, "model": self.config.model, "attempt": attempt,
                                  "latency": round(seconds, 3)}
        if reply is not None:
            usage = reply.get("usage") or {}
            prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
            cost = self.config.cost(prompt, completion)
            self.usage.calls += 1
            self.usage.prompt_tokens += prompt
            self.usage.completion_tokens += completion
            self.usage.cost += cost
            record.update(prompt_tokens=prompt, completion_tokens=completion, cost_usd=round(cost, 6),
                          priced=self.config.priced, finish_reason=_finish_reason(reply))
        if error:
            record["error"] = error
        if self.on_call:
            self.on_call(record)

    def _record(self, purpose: str, request: dict, reply: dict) -> None:
        self._index += 1
        if self.record_path is None:
            return
        line = {"index": self._index, "purpose": purpose, "n_messages": len(request["messages"]),
                "reply": jsonable(reply)}
        with self.record_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")

    def _spent(self) -> str:
        return f"${self.usage.cost:.4f}, {self.usage.tokens:,} tokens"


class ReplayClient(LLMClient):
    """Answers with the replies recorded by an earlier run, in order, without any network."""

    def __init__(self, config: LLMConfig, recorded: Path, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        lines = recorded.read_text(encoding="utf-8").splitlines() if recorded.exists() else []
        self._replies = [json.loads(line) for line in lines if line.strip()]
        self._cursor = 0

    def _send(self, request: dict, timeout: float, stream: bool) -> dict:
        if self._cursor >= len(self._replies):
            raise LLMUnavailable("the recording has no more replies", down=True)
        reply = self._replies[self._cursor]["reply"]
        self._cursor += 1
        return reply


def _finish_reason(reply: dict) -> str | None:
    choices = reply.get("choices") or [{}]
    return choices[0].get("finish_reason")


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    message = str(getattr(exc, "message", "") or exc).split("\n")[0][:200]
    # Servers quote (part of) a rejected key back; no part of it may reach the log.
    message = re.sub(r"\b(sk|key|api)[-_][A-Za-z0-9*_\-]{4,}", "[redacted]", message)
    return f"{name}" + (f" (HTTP {status})" if status else "") + (f": {message}" if message else "")


def _assemble_stream(chunks: Any) -> dict:
    """A streamed reply put back together in the non-streamed shape."""
    content: list[str] = []
    calls: dict[int, dict] = {}
    finish, usage, model = None, None, None
    for chunk in chunks:
        data = chunk.model_dump(exclude_none=True)
        model = data.get("model", model)
        usage = data.get("usage") or usage
        for choice in data.get("choices", []):
            delta = choice.get("delta", {})
            finish = choice.get("finish_reason") or finish
            if delta.get("content"):
                content.append(delta["content"])
            for call in delta.get("tool_calls", []) or []:
                slot = calls.setdefault(call.get("index", 0), {"id": "", "type": "function",
                                                               "function": {"name": "", "arguments": ""}})
                slot["id"] = call.get("id") or slot["id"]
                fn = call.get("function", {})
                slot["function"]["name"] += fn.get("name") or ""
                slot["function"]["arguments"] += fn.get("arguments") or ""
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content) or None}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return {"model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage or {}}
