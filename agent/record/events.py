"""The run's append-only event log (``events.jsonl``), the record every report is rendered from.

One JSON object a line: ``v`` (schema version), ``seq``, ``ts`` (UTC ISO time), ``t`` (seconds since
the run started), ``kind``, ``step`` and the payload. A decision carries ``question``, ``choice``,
``reason``, ``evidence``, ``alternatives`` and ``actor`` (rules / llm / user). Lines are written and
flushed one at a time and never rewritten, so an interrupted run keeps everything it logged.
"""

from __future__ import annotations

import json
import math
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

SCHEMA_VERSION = 1
Listener = Callable[[dict], None]


def jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN/inf as None, paths and sets as str / list."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class EventLog:
    """Appends events to a file and tells listeners (the console) about each one."""

    def __init__(self, path: Path, *, started: float | None = None, secrets: tuple[str, ...] = ()) -> None:
        self.path = Path(path)
        self.secrets = tuple(s for s in secrets if s and len(s) >= 4)
        self.started = time.monotonic() if started is None else started
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._seq = sum(1 for _ in self.path.open()) if self.path.exists() else 0

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, kind: str, *, step: str | None = None, **payload: Any) -> dict:
        """Append one event and return it."""
        with self._lock:
            self._seq += 1
            event = {"v": SCHEMA_VERSION, "seq": self._seq,
                     "ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                     "t": round(time.monotonic() - self.started, 3), "kind": kind, "step": step,
                     **jsonable(payload)}
            line = json.dumps(event, ensure_ascii=False)
            if self.secrets:
                line = self.redact(line)
                event = json.loads(line)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        for listener in self._listeners:
            listener(event)
        return event

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced (the API key must never reach a file)."""
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def decision(self, question: str, choice: Any, *, reason: str, step: str | None = None,
                 evidence: dict | None = None, alternatives: Iterable[dict] | None = None,
                 actor: str = "rules") -> dict:
        """Log a decision: what was chosen, why, on what evidence, instead of what, and by whom."""
        return self.emit("decision", step=step, question=question, choice=choice, reason=reason,
                         evidence=evidence or {}, alternatives=list(alternatives or []), actor=actor)


def read_events(path: Path) -> list[dict]:
    """All events of a log; a torn last line (the process died mid-write) is skipped."""
    events = []
    if not Path(path).exists():
        return events
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
