"""A model within the first seconds on a file too big to read quickly: the quick look at its first rows.

The file is diamonds repeated until it is big for a 5 s budget (103 MB); the runs are the real command,
one left to finish and one stopped with Ctrl-C as soon as the quick look's model is saved.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import pytest

from agent.decide.policy import QuickLookBrief
from agent.decide.rules import QUICK_LOOK_MIN_MB, RulePolicy
from agent.job.runner import open_context
from agent.job.steps_quick import quick_model_stands
from agent.record.runfolder import MODEL, Manifest
from agent.settings import Settings
from tests.cli_helpers import DATASETS, ONE_CORE, ROOT, events, mlpilot, run_json
from tools.intake import HEAD_ROWS, head_rows, read_head_table, read_table

COPIES = 40


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    header, body = (DATASETS / "diamonds.csv").read_text().split("\n", 1)
    path = tmp_path_factory.mktemp("big") / f"diamonds_x{COPIES}.csv"
    path.write_text(header + "\n" + (body.rstrip("\n") + "\n") * COPIES)
    return path


@pytest.fixture(scope="module")
def big_runs(big_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A run left to finish and a run on the file with a bad last line (which ends within seconds), side by
    side. (A third at once, on two cores, pushed the first to its wall.)"""
    home = tmp_path_factory.mktemp("big_runs")
    broken = home / "broken.csv"
    with big_csv.open("rb") as src, broken.open("wb") as out:
        out.write(src.read())
        out.write(b"0.3,Ideal,E,SI2,61.5,55,326,3.95,3.98,2.43,extra\n")  # one field too many, at the very end
    with ThreadPoolExecutor(2) as pool:
        complete = pool.submit(run_json, str(big_csv), "--target", "price", "--budget", "5", runs_dir=home / "ok",
                               env=ONE_CORE)
        bad = pool.submit(mlpilot, "run", str(broken), "--target", "price", "--budget", "5", runs_dir=home / "bad",
                          env=ONE_CORE)
        return {"complete": complete.result(), "bad": bad.result(), "bad_runs": home / "bad"}


def test_the_rules_look_first_only_when_reading_would_take_a_real_share_of_the_budget() -> None:
    rules = RulePolicy()
    assert rules.choose_quick_look(QuickLookBrief(file_mb=430, budget=60)).choice is True
    assert rules.choose_quick_look(QuickLookBrief(file_mb=430, budget=3600)).choice is False
    small = rules.choose_quick_look(QuickLookBrief(file_mb=QUICK_LOOK_MIN_MB / 2, budget=5))
    assert small.choice is False and "early anyway" in small.reason


def test_a_head_read_types_the_first_rows_like_a_full_read(big_csv: Path) -> None:
    head = read_head_table(big_csv, cells=50_000)
    full_columns = read_table(DATASETS / "diamonds.csv").columns
    assert len(head.frame) == head_rows(50_000, 10) == 5_000
    assert head.sha256 == "" and head.notes[-1] == "only the first 5,000 rows were read"
    assert [(c.name, c.kind) for c in head.columns] == [(c.name, c.kind) for c in full_columns]
    assert head_rows(10, 3) == HEAD_ROWS[0] and head_rows(10**9, 3) == HEAD_ROWS[1]


def test_a_big_file_has_a_scored_model_before_it_is_read_and_the_first_model_replaces_it(big_runs: dict) -> None:
    proc, summary = big_runs["complete"]
    assert proc.returncode in (0, 3), proc.stderr
    log = events(summary["run_dir"])
    kinds = [(e["kind"], e.get("step")) for e in log]
    quick_saved = kinds.index(("model_saved", "quick_look"))
    assert quick_saved < kinds.index(("data_read", "intake")), "the quick look's model comes before the full read"
    assert kinds.index(("holdout_metrics", "quick_look")) < quick_saved
    quick = next(e for e in log if e["kind"] == "decision" and e["question"] == "quick_model")
    assert quick["choice"]["target"] == "price" and quick["evidence"]["rows_read"] < 53_940 * COPIES
    saved = [e for e in log if e["kind"] == "model_saved"]
    assert len(saved) >= 2 and saved[-1]["step"] != "quick_look", "the first model on all the data replaced it"
    manifest = json.loads((Path(summary["run_dir"]) / "manifest.json").read_text())
    assert manifest["data"]["rows"] == 53_940 * COPIES and manifest["data"]["sha256"]
    assert "quick_look" not in manifest["plan"]


def _stopped_run(big_csv: Path, runs_dir: Path) -> tuple[int, str, str]:
    """A run sent Ctrl-C as soon as its first model is saved: (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", str(big_csv), "--target", "price",
                             "--budget", "5", "--runs-dir", str(runs_dir), "--json", "--quiet"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        logs = list(runs_dir.glob("*/events.jsonl"))
        if logs and any(e["kind"] == "model_saved" for e in events(logs[0].parent)):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_a_run_stopped_while_the_file_is_read_keeps_the_quick_look_s_model(big_csv: Path, tmp_path: Path) -> None:
    code, out, err = _stopped_run(big_csv, tmp_path)
    summary = json.loads(out)
    assert code == 130 and summary["status"] == "interrupted", err
    run_dir = Path(summary["run_dir"])
    saved = [e for e in events(run_dir) if e["kind"] == "model_saved"]
    assert [e["step"] for e in saved] == ["quick_look"], "no other model was started after the stop"
    report = (run_dir / "report.md").read_text()
    assert "a quick look while the rest was read" in report and "first 50,000 rows" in saved[0]["fitted_on"]
    batch = tmp_path / "batch.csv"
    with big_csv.open() as rows:
        batch.write_text("".join(next(rows) for _ in range(21)))
    predicted = mlpilot("predict", str(run_dir), str(batch), "--output", str(tmp_path / "out.csv"),
                        runs_dir=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 21


def test_the_quick_look_s_model_is_removed_when_the_plan_predicts_something_else(tmp_path: Path,
                                                                                   datasets_dir: Path) -> None:
    settings = Settings.from_flags({"data": datasets_dir / "titanic.csv", "runs_dir": tmp_path}, env={})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    ctx = open_context(settings, "run", run_dir, Manifest.create(run_dir, "run", settings.public(), []),
                       started=time.monotonic())
    joblib.dump({"a": 1}, run_dir / MODEL)
    (run_dir / "metrics.json").write_text("{}")
    ctx.manifest.update(model={"file": MODEL})
    state = {"quick_look": {"target": "survived", "task": "binary", "columns": {"age": "numeric",
                                                                             "survived": "numeric"}}}
    table = read_table(datasets_dir / "titanic.csv")
    assert quick_model_stands(ctx, state, table=table, target="survived", task="binary")
    assert (run_dir / MODEL).exists()
    assert not quick_model_stands(ctx, state, target="pclass", task="multiclass")
    assert not (run_dir / MODEL).exists() and not (run_dir / "metrics.json").exists()
    assert "model" not in json.loads((run_dir / "manifest.json").read_text())
    removed = [e for e in events(run_dir) if e["kind"] == "model_removed"]
    assert len(removed) == 1 and "predicts 'pclass', not 'survived'" in removed[0]["reason"]


def test_a_bad_line_past_the_first_rows_fails_the_run_and_leaves_no_folder(big_runs: dict) -> None:
    proc = big_runs["bad"]
    assert proc.returncode == 2, proc.stderr
    assert "fields but the header has 10" in proc.stderr
    assert "quick look" in proc.stderr, "the quick look's model was saved before the bad line was read"
    assert not list(big_runs["bad_runs"].glob("*")), "bad input: no run folder, the quick look's model with it"
