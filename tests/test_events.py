"""The event log: append-only, numbered, JSON-able, readable after a crash."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from agent.record.events import EventLog
from agent.record.reader import read_events


def test_events_are_numbered_plain_json_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    seen: list[dict] = []
    log = EventLog(path)
    log.subscribe(seen.append)
    log.emit("note", step="plan", message="m", value=np.float64(0.5), missing=float("nan"), where=tmp_path, ids=(1, 2))
    log.decision("metric", "roc_auc", reason="default", evidence={"n": np.int64(3)},
                 alternatives=[{"choice": "pr_auc", "why_not": "no hint"}])
    again = EventLog(path)
    again.emit("note", step="plan", message="m")
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
    EventLog(path).emit("note", message="m")
    with path.open("a") as handle:
        handle.write('{"v": 1, "seq": 2, "kind": "tri')
    assert [e["seq"] for e in read_events(path)] == [1]


def test_a_reopened_log_cuts_a_torn_line_so_the_next_event_is_whole(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    EventLog(path).emit("note", message="first")
    with path.open("a") as handle:
        handle.write('{"v": 1, "seq": 2, "kind": "no')  # a process killed mid-write
    EventLog(path).emit("note", message="after the crash")
    lines = path.read_text().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["first", "after the crash"]
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]


def test_a_full_disk_leaves_no_partial_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "events.jsonl"
    code = ("import resource; from pathlib import Path; from agent.record.events import EventLog; "
            "from tools.errors import StorageFull\n"
            f"log = EventLog(Path({str(path)!r}))\nlog.emit('note', message='fits')\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (Path(log.path).stat().st_size + 100,) * 2)\n"
            "try:\n    log.emit('note', message='x' * 5000)\nexcept StorageFull as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert "No room to write" in out.stdout, out.stderr
    assert [json.loads(line)["message"] for line in path.read_text().splitlines()] == ["fits"]


def test_a_password_in_a_url_never_reaches_the_log(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    EventLog(path).emit("note", message="endpoint http://me:s3cret@127.0.0.1:8000/v1 did not answer")
    assert "s3cret" not in path.read_text() and "http://me:[redacted]@127.0.0.1:8000/v1" in path.read_text()


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


def test_an_unknown_kind_or_a_missing_field_is_refused_where_it_is_written(tmp_path: Path) -> None:
    import pytest

    log = EventLog(tmp_path / "events.jsonl")
    with pytest.raises(ValueError, match="unknown event kind 'notte'"):
        log.emit("notte", message="m")
    with pytest.raises(ValueError, match="'split' lacks holdout_rows"):
        log.emit("split", train_rows=10, stratified=True, seed=1)
    assert not (tmp_path / "events.jsonl").exists() or not read_events(tmp_path / "events.jsonl")


def test_every_kind_written_in_the_source_is_in_the_table() -> None:
    import ast

    from agent.record.kinds import KINDS

    root = Path(__file__).resolve().parents[1] / "agent"
    written = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            # the conversation loop logs its events through a callback named ``log`` that emits them
            writes = ("emit", "log") if path.name == "loop.py" else ("emit",)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in writes
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                written.add(node.args[0].value)
    assert written and written <= set(KINDS), sorted(written - set(KINDS))


def test_a_log_from_before_the_schema_version_reads_upgraded(tmp_path: Path) -> None:
    from agent.record.reader import RunRecord

    path = tmp_path / "events.jsonl"
    old = [{"seq": 1, "ts": "2026-01-01T00:00:00+00:00", "kind": "decision", "question": "budget", "choice": 60,
            "reason": "default", "evidence": {}, "alternatives": [], "actor": "rules"},
           {"seq": 2, "ts": "2026-01-01T00:00:01+00:00", "kind": "leaderboard", "stage": "selection",
            "metric": "roc_auc", "rows": [{"candidate": "linear", "mean": 0.8}]}]
    path.write_text("\n".join(json.dumps(e) for e in old) + "\n")
    run = RunRecord(tmp_path)
    assert [e["v"] for e in run.events] == [1, 1] and all("t" in e and "step" in e for e in run.events)
    assert run.decision("budget")["choice"] == 60 and run.leaderboard()["rows"][0]["candidate"] == "linear"
    assert run.manifest == {} and run.run_id == tmp_path.name, "a folder without a manifest reads as empty"


def test_the_record_reader_answers_the_shared_look_ups(tmp_path: Path) -> None:
    from agent.record.reader import RunRecord

    log = EventLog(tmp_path / "events.jsonl")
    log.decision("budget", 30, reason="goal")
    log.decision("drop:id", "drop", reason="an identifier")
    log.emit("leaderboard", step="select", stage="selection", metric="roc_auc", rows=[{"candidate": "linear"}])
    log.emit("step_started", step="select")
    log.emit("step_finished", step="select", seconds=1.5)
    log.emit("leaderboard", step="tune", stage="tuning", metric="roc_auc", rows=[{"candidate": "lightgbm"}])
    log.decision("budget", 45, reason="you asked", actor="user")
    log.emit("step_started", step="select")
    log.emit("step_finished", step="select", seconds=0.5)
    run = RunRecord(tmp_path)
    assert run.decision("budget")["choice"] == 45, "the latest decision on a question wins"
    assert [d["question"] for d in run.decisions("drop:")] == ["drop:id"]
    assert run.leaderboard()["stage"] == "tuning" and len(run.leaderboards("selection")) == 1
    assert run.timings() == {"select": 2.0} and run.steps_started() == {"select"}
    assert run.seqs == set(range(1, 10))
