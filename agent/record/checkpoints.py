"""Reading checkpoints as data only: a run folder may be someone else's, and LangGraph's serializer, left
permissive, constructs whatever a checkpoint names (``os.system`` included) when it is read.

`checkpoint_serializer` is what every mlpilot checkpoint (runs and chat sessions) is written and read with.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.serde.event_hooks import register_serde_event_listener
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from tools.errors import ConfigError


class UntrustedCheckpoint(ConfigError):
    """A checkpoint value of a kind mlpilot never stores (a pickle, or an object to construct)."""


class CheckpointSerializer(JsonPlusSerializer):
    """LangGraph's serializer limited to the plain data mlpilot stores in checkpoints: no pickles, and no
    object constructed from a checkpoint except LangGraph's own safe types. A value of any other kind was
    planted, so reading it refuses the whole checkpoint rather than continue from tampered state."""

    def __init__(self) -> None:
        super().__init__(pickle_fallback=False, allowed_msgpack_modules=None, allowed_json_modules=None)

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        kind = data[0]
        if kind not in PLAIN_KINDS:
            raise UntrustedCheckpoint(_planted(f"a value stored as {kind!r}"))
        blocked: list[dict] = []
        unregister = register_serde_event_listener(
            lambda event: blocked.append(dict(event)) if event["kind"].endswith("blocked") else None)
        try:
            value = super().loads_typed(data)
        finally:
            unregister()
        if blocked:
            names = ", ".join(sorted({f"{e['module']}.{e['name']}" for e in blocked}))
            raise UntrustedCheckpoint(_planted(f"a value that would call {names}"))
        return value


PLAIN_KINDS = ("null", "bytes", "bytearray", "msgpack")


def _planted(what: str) -> str:
    return (f"A checkpoint holds {what}, which mlpilot never stores: the checkpoints were changed outside mlpilot. "
            "Nothing was loaded from it. Start a new run (`mlpilot rerun RUN`) instead of resuming this one.")


def checkpoint_serializer() -> CheckpointSerializer:
    """The serializer every mlpilot checkpoint (runs and chat sessions) is written and read with."""
    return CheckpointSerializer()
