"""The run's append-only event log (``events.jsonl``), the record every report is rendered from.

Written only through `EventLog` (every kind and its fields are in `agent.record.kinds`) and read only
through `agent.record.reader.RunRecord`, which upgrades lines of older schema versions as it reads.

One JSON object a line: ``v`` (schema version), ``seq``, ``ts`` (UTC ISO time), ``t`` (seconds since
the run started), ``kind``, ``step`` and the payload. A decision carries ``question``, ``choice``,
``reason``, ``evidence``, ``alternatives`` and ``actor`` (rules / llm / user). Lines are written and
flushed one at a time and never rewritten, so an interrupted run keeps everything it logged.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from agent.record.kinds import check_event
from tools.jsonable import jsonable

SCHEMA_VERSION = 1
Listener = Callable[[dict], None]


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
        """Append one event and return it.

        Raises:
            ValueError: an unknown kind or a missing field (see `agent.record.kinds`): a bug.
        """
        check_event(kind, payload)
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
