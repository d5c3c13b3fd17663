"""JSON schemas for LLM tool calling, generated from a typed function's signature and docstring.

The docstring's first paragraph is the tool's description; its Google-style ``Args:`` section gives
each parameter's description. Types map to JSON schema: str, int, float, bool, list[...] (array),
dict (object), Literal[...] (enum), X | None (optional). A parameter without a default is required.
The schema is never written by hand, so it cannot drift from the function.

A tool may take its dependencies first, as a parameter named ``deps`` (as pydantic-ai's tools take their
run context): the caller binds it, so it is never part of the schema. A ``functools.partial`` that binds
it gives the same schema as the bare function, from the wrapped function's docstring and hints.
"""

from __future__ import annotations

import functools
import inspect
import re
import types
import typing
from typing import Any, Callable, Literal, get_args, get_origin

# The name of a tool's dependencies parameter, which the caller binds and the model never sees.
DEPS = "deps"


def tool_schema(func: Callable[..., Any], *, name: str | None = None) -> dict:
    """The OpenAI-style ``{"type": "function", "function": {...}}`` schema of ``func`` (a function, or a
    ``functools.partial`` of one); a ``deps`` parameter is left out."""
    base = func
    while isinstance(base, functools.partial):
        base = base.func
    doc = inspect.getdoc(base) or ""
    description, arg_docs = _parse_docstring(doc)
    hints = typing.get_type_hints(base)
    properties: dict[str, dict] = {}
    required: list[str] = []
    for pname, param in inspect.signature(func).parameters.items():
        if pname in ("self", "cls", DEPS) or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        prop = _json_type(hints.get(pname, str))
        if pname in arg_docs:
            prop["description"] = arg_docs[pname]
        properties[pname] = prop
        if param.default is inspect.Parameter.empty:
            required.append(pname)
    return {"type": "function", "function": {
        "name": name or base.__name__, "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required,
                       "additionalProperties": False}}}


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    parts = re.split(r"\n\s*Args:\s*\n", doc, maxsplit=1)
    description = " ".join(parts[0].split("\n\n")[0].split())
    args: dict[str, str] = {}
    if len(parts) > 1:
        current = None
        for line in parts[1].splitlines():
            if re.match(r"^\s*(Returns|Raises|Examples?):", line):
                break
            match = re.match(r"^\s{0,8}(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
            if match and (current is None or len(line) - len(line.lstrip()) <= 4):
                current = match.group(1)
                args[current] = match.group(2).strip()
            elif current and line.strip():
                args[current] += " " + line.strip()
    return description, args


def _json_type(hint: Any) -> dict:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        inner = _json_type(options[0]) if len(options) == 1 else {"anyOf": [_json_type(a) for a in options]}
        if len(options) < len(get_args(hint)):
            inner = {"anyOf": [inner, {"type": "null"}]}
        return inner
    if origin is Literal:
        values = list(get_args(hint))
        return {"type": "string" if all(isinstance(v, str) for v in values) else "number", "enum": values}
    if origin in (list, tuple, typing.Sequence) or hint in (list, tuple):
        args = get_args(hint)
        return {"type": "array", "items": _json_type(args[0]) if args else {}}
    if origin is dict or hint is dict:
        args = get_args(hint)
        return {"type": "object", "additionalProperties": _json_type(args[1]) if len(args) == 2 else {}}
    return {str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"},
            bool: {"type": "boolean"}}.get(hint, {"type": "string"})
