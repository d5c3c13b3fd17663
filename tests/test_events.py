"""The event log: append-only, numbered, JSON-able, readable after a crash."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from agent.record.events import EventLog, read_events


def test_events_are_numbered_plain_json_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    seen: list[dict] = []
    log = EventLog(path)
    log.subscribe(seen.append)
    log.emit("note", step="plan", value=np.float64(0.5), missing=float("nan"), where=tmp_path, ids=(1, 2))
    log.decision("metric", "roc_auc", reason="default", evidence={"n": np.int64(3)},
                 alternatives=[{"choice": "pr_auc", "why_not": "no hint"}])
    again = EventLog(path)
    again.emit("note", step="plan")
    lines = path.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3]
    first = json.loads(lines[0])
    assert first["value"] == 0.5 and first["missing"] is None and first["where"] == str(tmp_path)
    assert first["v"] == 1 and first["kind"] == "note" and first["ts"].endswith("+00:00")
    decision = json.loads(lines[1])
    assert decision["actor"] == "rules" and decision["evidence"] == {"n": 3}
    assert seen[1]["question"] == "metric"


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    EventLog(path).emit("note")
    with path.open("a") as handle:
        handle.write('{"v": 1, "seq": 2, "kind": "tri')
    assert [e["seq"] for e in read_events(path)] == [1]


def test_python_api_runs_a_job_and_counts_dropped_target_rows(tmp_path: Path, datasets_dir: Path) -> None:
    import pandas as pd

    from agent import run

    frame = pd.read_csv(datasets_dir / "titanic.csv")
    frame.loc[:19, "survived"] = None
    frame.to_csv(tmp_path / "t.csv", index=False)
    outcome = run(tmp_path / "t.csv", goal="predict survived", budget=15, max_trials=0,
                  runs_dir=tmp_path / "runs")
    assert outcome.status == "completed" and outcome.exit_code == 0
    dropped = [e for e in read_events(outcome.run_dir / "events.jsonl") if e["kind"] == "rows_dropped"]
    assert dropped[0]["rows"] == 20 and "missing" in dropped[0]["reason"]
    assert outcome.metrics["n_rows"] == math.ceil((891 - 20) * 0.2)
