"""A stand-in for a remote LLM: an OpenAI-compatible HTTP server on 127.0.0.1 that replays scripted replies.

Tests enqueue replies (tool calls, prose, broken JSON, HTTP errors, delays); the real `openai` client in
mlpilot talks to it over HTTP, streamed or not, exactly as it would to OpenAI, Ollama, vLLM or llama.cpp.
Every request body is kept for assertions. When the script runs out, the server answers in prose, so a
run that asks more than the test expected falls back to the rules instead of hanging.

Like a local server, it can be slow (``seconds_per_call`` plus ``seconds_per_1k_prompt`` for each
thousand prompt tokens it has not read before: llama.cpp keeps the last prompt and reads only what
follows the part a new one shares with it; one request at a time, as its single slot serves them), hold a small
context (HTTP 400 past it), and ramble: a ``ramble()`` reply runs to the request's ``max_tokens`` (2,408
tokens when it has none, as a weak model did) and ends with ``finish_reason: length``. A one-word probe
(``max_tokens`` 1, no tools) is answered "OK" without using the script and kept in ``probes``.

A chat and the run it started ask at the same time; replies enqueued with ``route="chat"`` go only to
requests that offer the chat's ``reply`` tool, and ``route="run"`` only to the others.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USAGE = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}


def tool_calls(*calls: tuple[str, Any]) -> dict:
    """A reply calling tools: ``("set_target", {"column": "x", "reason": "..."})``; a str argument is sent raw."""
    return {"tool_calls": [{"id": f"call_{i}_{name}", "type": "function",
                            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                           for i, (name, args) in enumerate(calls)]}


def prose(text: str) -> dict:
    return {"content": text}


def ramble(tool: str | None = None) -> dict:
    """A reply that runs on to its token cap: prose, or a tool call whose arguments are cut off."""
    return {"ramble": True, "tool": tool}


def error(status: int, message: str = "server error") -> dict:
    return {"status": status, "error": message}


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up on a slow reply closes its socket; real servers log that quietly."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class ScriptedLLM:
    """The server; use as a context manager or call start()/stop()."""

    def __init__(self, *, context: int | None = None, seconds_per_call: float = 0.0,
                 seconds_per_1k_prompt: float = 0.0) -> None:
        # With ``context``, a request whose prompt and max_tokens together exceed it gets llama.cpp's HTTP 400.
        self.context = context
        self.seconds_per_call = seconds_per_call
        self.seconds_per_1k_prompt = seconds_per_1k_prompt
        self.probes: list[dict] = []
        self._slot = threading.Lock()
        self._cached = ""
        self.script: deque[dict] = deque()
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def enqueue(self, *replies: dict, route: str | None = None) -> "ScriptedLLM":
        self.script.extend({**r, "_route": route} for r in replies)
        return self

    def _take(self, body: dict) -> dict:
        kind = "chat" if any(t["function"]["name"] == "reply" for t in body.get("tools", [])) else "run"
        with self._lock:
            for item in self.script:
                if item.get("_route") in (None, kind):
                    self.script.remove(item)
                    return item
        return prose("(the script has ended)")

    def start(self) -> "ScriptedLLM":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "ScriptedLLM":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def prompt_tokens(body: dict) -> int:
        """The prompt's tokens as this server counts them: about 3.5 characters a token, as a real tokenizer
        gives on English and JSON, plus the chat template's few tokens per message."""
        messages = body.get("messages") or []
        chars = len(json.dumps(messages, ensure_ascii=False)) + len(json.dumps(body.get("tools") or []))
        return int(chars / 3.5) + 5 * len(messages)

    def _seconds(self, body: dict, prompt: int) -> float:
        """How long a local server would take: the call's overhead and the prompt tokens past the cached prefix."""
        text = json.dumps(body.get("messages") or [], ensure_ascii=False)
        shared = len(os.path.commonprefix([text, self._cached]))
        self._cached = text
        return self.seconds_per_call + self.seconds_per_1k_prompt * prompt * (1 - shared / max(len(text), 1)) / 1000

    def tool_names_sent(self) -> list[list[str]]:
        return [[t["function"]["name"] for t in r.get("tools", [])] for r in self.requests]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                if self.path == "/props" and server.context:  # llama.cpp's server says its context there
                    self._json(200, {"default_generation_settings": {"n_ctx": server.context}})
                    return
                self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):  # as real servers: 404 elsewhere
                    self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                probe = body.get("max_tokens") == 1 and not body.get("tools")
                (server.probes if probe else server.requests).append(body)
                server.headers.append(dict(self.headers))
                prompt = server.prompt_tokens(body)
                if server.context and prompt + int(body.get("max_tokens") or 0) > server.context:
                    requested = prompt + int(body.get("max_tokens") or 0)
                    self._json(400, {"error": {"code": 400, "type": "invalid_request_error", "message":
                                               f"This model's maximum context length is {server.context} tokens. "
                                               f"However, you requested {requested} tokens ({prompt} in the "
                                               "messages, "
                                               f"{body.get('max_tokens')} in the completion)."}})
                    return
                item = {**prose("OK"), "usage": {"prompt_tokens": prompt, "completion_tokens": 1,
                                                 "total_tokens": prompt + 1}} if probe else server._take(body)
                if server.seconds_per_call or server.seconds_per_1k_prompt:
                    with server._slot:  # one request at a time, as a local server's single slot
                        time.sleep(server._seconds(body, prompt))
                if item.get("delay"):
                    time.sleep(item["delay"])
                finish = "tool_calls" if item.get("tool_calls") else "stop"
                if item.get("ramble"):
                    item, finish = _rambling(item, int(body.get("max_tokens") or 2408)), "length"
                if "status" in item:
                    self._json(item["status"], {"error": {"message": item["error"], "type": "server_error"}})
                    return
                message = {"role": "assistant", "content": item.get("content")}
                if item.get("tool_calls"):
                    message["tool_calls"] = item["tool_calls"]
                usage = item.get("usage") or ({"prompt_tokens": prompt, "completion_tokens": 50,
                                               "total_tokens": prompt + 50} if server.context else USAGE)
                if body.get("stream"):
                    self._stream(body, message, finish, usage)
                    return
                self._json(200, {"id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()),
                                 "model": body.get("model", "scripted"),
                                 "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                                 "usage": usage})

            def _json(self, status: int, data: dict) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _stream(self, body: dict, message: dict, finish: str, usage: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                base = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": int(time.time()),
                        "model": body.get("model", "scripted")}
                chunks = []
                text = message.get("content") or ""
                for i in range(0, len(text), 16):
                    chunks.append({"index": 0, "delta": {"content": text[i:i + 16]}, "finish_reason": None})
                for n, call in enumerate(message.get("tool_calls") or []):
                    chunks.append({"index": 0, "delta": {"tool_calls": [{"index": n, **call}]}, "finish_reason": None})
                chunks.append({"index": 0, "delta": {}, "finish_reason": finish})
                for choice in chunks:
                    self.wfile.write(f"data: {json.dumps({**base, 'choices': [choice]})}\n\n".encode())
                self.wfile.write(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

        return Handler


def _rambling(item: dict, tokens: int) -> dict:
    """``tokens`` worth of a reply that never ends: prose, or one tool call whose JSON is cut off."""
    text = ("Let me think about this carefully, step by step, considering every column in turn. " * 200)
    text = text[: int(tokens * 3.5)]
    if item.get("tool"):
        cut = json.dumps({"reason": text})[: int(tokens * 3.5)]
        return {"tool_calls": [{"id": "call_ramble", "type": "function",
                                "function": {"name": item["tool"], "arguments": cut}}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": tokens, "total_tokens": 1000 + tokens}}
    return {"content": text, "usage": {"prompt_tokens": 1000, "completion_tokens": tokens, "total_tokens": 1000 + tokens}}
