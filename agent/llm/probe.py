"""What a local server says about its model: the context window, read where servers publish it
(llama.cpp's ``/props``, vLLM's and llama.cpp's ``/v1/models``, Ollama's ``/api/show``). Asked once per
endpoint and model, with a short timeout; a server that says nothing leaves the context unknown
(``--llm-context`` sets it)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

TIMEOUT = 2.0
KEYS = ("n_ctx", "context_length", "max_model_len", "context_window", "max_context_length")


def _get(url: str, api_key: str | None, body: dict | None = None) -> Any:
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 (the user's endpoint)
        return json.loads(response.read(1_000_000) or b"null")


def _find(value: Any, model: str | None = None) -> int | None:
    """The first context-size key anywhere in a server's answer (the model's entry first, in a list)."""
    if isinstance(value, dict):
        for key, v in value.items():
            if (key in KEYS or key.endswith(".context_length")) and isinstance(v, int) and v > 0:
                return v
        for v in value.values():
            found = _find(v, model)
            if found:
                return found
    if isinstance(value, list):
        ordered = sorted(value, key=lambda v: not (isinstance(v, dict) and v.get("id") == model))
        for v in ordered:
            found = _find(v, model)
            if found:
                return found
    return None


@lru_cache(maxsize=16)
def server_context(base_url: str, model: str, api_key: str | None = None) -> int | None:
    """The model's context window in tokens as the server at ``base_url`` (``.../v1``) reports it, or None."""
    parts = urlsplit(base_url)
    root = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    v1 = base_url.rstrip("/")
    for url, body in ((f"{root}/props", None), (f"{v1}/models", None), (f"{root}/api/show", {"model": model})):
        try:
            found = _find(_get(url, api_key, body), model)
        except (urllib.error.HTTPError, ValueError):  # no such route, or not JSON: try the next
            continue
        except Exception:  # unreachable or not answering: asking again would only wait longer
            return None
        if found:
            return found
    return None
