"""One reader of a run folder: its event log (upgraded to the current schema as read), manifest and
artifacts, with the look-ups the report, the chat's answers and leaderboard, resume and the language
model's briefs share.

A torn last line (the process died mid-write) is skipped; a missing artifact reads as empty, since a
stopped run may lack some and readers answer from what exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from agent.record.events import SCHEMA_VERSION
from agent.record.runfolder import EVENTS, MANIFEST, read_json


def _from_v0(event: dict) -> dict:
    # Logs written before the schema was versioned lacked ``v``, ``t`` and sometimes ``step``.
    return {"t": 0.0, "step": None, **event, "v": 1}


# version -> how an event of that version becomes one of the next version
UPGRADERS: dict[int, Callable[[dict], dict]] = {0: _from_v0}


def upgrade(event: dict) -> dict:
    """An event as the current schema has it, whatever version wrote it."""
    version = int(event.get("v", 0))
    while version < SCHEMA_VERSION:
        event = UPGRADERS[version](event)
        version = int(event["v"])
    return event


def read_events(path: Path) -> list[dict]:
    """All events of a log, upgraded; a torn last line is skipped."""
    events: list[dict] = []
    if not Path(path).exists():
        return events
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            events.append(upgrade(json.loads(line)))
        except (json.JSONDecodeError, KeyError, ValueError, TypeError):
            continue
    return events


class RunRecord:
    """A run folder read once.

    Args:
        run_dir: the run folder (or a monitoring record folder: any folder with an ``events.jsonl``).
        events: the events, when they are already in hand (the folder's log is then not read).
    """

    def __init__(self, run_dir: Path, *, events: list[dict] | None = None) -> None:
        self.dir = Path(run_dir)
        self.events = read_events(self.dir / EVENTS) if events is None else events
        self._artifacts: dict[str, dict] = {}

    # ---- artifacts -----------------------------------------------------------------------------------

    def artifact(self, name: str) -> dict:
        """``<name>.json`` of the folder, or {} when it is missing or unreadable."""
        if name not in self._artifacts:
            try:
                self._artifacts[name] = read_json(self.dir / f"{name}.json")
            except (OSError, ValueError):
                self._artifacts[name] = {}
        return self._artifacts[name]

    @property
    def manifest(self) -> dict:
        return self.artifact(Path(MANIFEST).stem)

    @property
    def metrics(self) -> dict:
        return self.artifact("metrics")

    @property
    def profile(self) -> dict:
        return self.artifact("profile")

    # ---- events --------------------------------------------------------------------------------------

    def all(self, kind: str, **match: Any) -> list[dict]:
        """Events of ``kind`` whose fields equal ``match``, in order."""
        return [e for e in self.events if e["kind"] == kind and all(e.get(k) == v for k, v in match.items())]

    def first(self, kind: str, **match: Any) -> dict | None:
        return next(iter(self.all(kind, **match)), None)

    def last(self, kind: str, **match: Any) -> dict | None:
        found = self.all(kind, **match)
        return found[-1] if found else None

    @property
    def seqs(self) -> set[int]:
        return {e["seq"] for e in self.events if "seq" in e}

    def decision(self, question: str) -> dict | None:
        """The latest decision on ``question`` (a later one, e.g. after an iteration, overrides)."""
        return self.last("decision", question=question)

    def decisions(self, prefix: str = "") -> list[dict]:
        """Every decision whose question starts with ``prefix``, in order."""
        return [e for e in self.all("decision") if str(e.get("question", "")).startswith(prefix)]

    def fallbacks(self, question: str | None = None) -> list[dict]:
        return self.all("fallback") if question is None else self.all("fallback", question=question)

    def leaderboards(self, stage: str) -> list[dict]:
        """The leaderboards logged at ``stage`` (selection: one per iteration; tuning)."""
        return self.all("leaderboard", stage=stage)

    def leaderboard(self) -> dict | None:
        """The latest leaderboard: after tuning if tuning ran, else after selection."""
        return self.last("leaderboard", stage="tuning") or self.last("leaderboard", stage="selection")

    def trials(self) -> list[dict]:
        return self.all("trial")

    def llm_calls(self) -> list[dict]:
        return self.all("llm_call")

    def steps_started(self) -> set[str]:
        return {e["step"] for e in self.all("step_started") if e.get("step")}

    def timings(self) -> dict[str, float]:
        """Seconds per graph step, summed over its runs (a step may run twice in an iteration)."""
        out: dict[str, float] = {}
        for e in self.all("step_finished"):
            out[e["step"]] = round(out.get(e["step"], 0.0) + float(e.get("seconds") or 0.0), 3)
        return out

    # ---- derived ------------------------------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return self.manifest.get("run_id") or (self.last("run_started") or {}).get("run_id") or self.dir.name

    def columns(self) -> list[str]:
        """Every column the run saw, from the profile, the schema, the leakage screen and decisions."""
        leak = self.last("leakage_check") or {}
        names = [c["name"] for c in self.profile.get("columns", []) + self.manifest.get("data", {}).get("schema", [])]
        names += list(leak.get("single_column_scores", {})) + list(leak.get("skipped", {}))
        names += [e["question"][5:] for e in self.all("decision") if e["question"].startswith("drop:")]
        return list(dict.fromkeys(names))

    def dropped(self) -> dict[str, str]:
        """Dropped column -> why, from the column plan and any later iteration."""
        plan = self.decision("column_plan")
        out = dict(plan["choice"].get("dropped", {})) if plan and isinstance(plan["choice"], dict) else {}
        for it in self.all("iteration"):
            out.update({c: f"dropped for a second iteration: {it.get('reason')}" for c in it.get("dropped", [])})
        return out

    def holdout(self) -> tuple[dict | None, dict]:
        """The holdout_metrics event and its payload (metrics.json when the event is missing)."""
        event = self.last("holdout_metrics")
        return event, (event or self.metrics)
