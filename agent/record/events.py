"""The run's append-only event log (``events.jsonl``), the record every report is rendered from.

Written only through `EventLog` (every kind and its fields are in `agent.record.kinds`) and read only
through `agent.record.reader.RunRecord`, which upgrades lines of older schema versions as it reads.

One JSON object a line: ``v`` (schema version), ``seq``, ``ts`` (UTC ISO time), ``t`` (seconds since
the run started), ``kind``, ``step`` and the payload. A decision carries ``question``, ``choice``,
``reason``, ``evidence``, ``alternatives`` and ``actor`` (rules / llm / user). Each line is appended whole
or not at all (a write cut short by a full disk is cut back off; a torn line left by a killed process is
cut off when the log is next opened), and lines are never rewritten, so an interrupted run keeps
everything it logged and every reader sees whole lines.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from agent.record.kinds import check_event
from tools.errors import storage_full
from tools.jsonable import jsonable
from tools.redact import redact_urls

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
        self._seq = _repair(self.path)

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
            redacted = self.redact(line)
            if redacted != line:
                line, event = redacted, json.loads(redacted)
            _append(self.path, (line + "\n").encode("utf-8"))
        for listener in self._listeners:
            listener(event)
        return event

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced (the API key and passwords in URLs must never reach a file)."""
        if "://" in text:
            text = redact_urls(text)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def decision(self, question: str, choice: Any, *, reason: str, step: str | None = None,
                 evidence: dict | None = None, alternatives: Iterable[dict] | None = None,
                 actor: str = "rules") -> dict:
        """Log a decision: what was chosen, why, on what evidence, instead of what, and by whom."""
        return self.emit("decision", step=step, question=question, choice=choice, reason=reason,
                         evidence=evidence or {}, alternatives=list(alternatives or []), actor=actor)


def _append(path: Path, data: bytes) -> None:
    """Append ``data`` whole or not at all: a write cut short (no room) is cut back off the file.

    Raises:
        StorageFull: no room to write (the file is as it was).
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
        except OSError as exc:
            os.ftruncate(fd, size)
            raise storage_full(exc, path) or exc from None
    finally:
        os.close(fd)


def _repair(path: Path) -> int:
    """Cut a torn last line (a process killed mid-write) off an existing log; returns the last ``seq``."""
    if not path.exists():
        return 0
    with path.open("rb+") as handle:
        data = handle.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            handle.truncate(end)
        lines = data[:end].splitlines()
    for line in reversed(lines):
        try:
            return int(json.loads(line)["seq"])
        except (ValueError, KeyError, TypeError):
            continue
    return len(lines)
