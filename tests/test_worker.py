"""`mlpilot worker` joining a run's tuning through a real PostgreSQL server (started by the test): trials by
two processes in one study, the worker's out-of-fold predictions in the run's ensemble pool, the report
listing both; a worker killed mid-trial costs the run nothing; a late worker says so and exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from tests.cli_helpers import DATASETS, ROOT, events, mlpilot
from tests.pg import PgServer, postgres_fixture

pytestmark = pytest.mark.slow
pg = postgres_fixture()


def _env(pg: PgServer, runs: Path) -> dict[str, str]:
    return {**os.environ, "MLPILOT_RUNS_DIR": str(runs), "MLPILOT_N_JOBS": "1", "MLPILOT_STORAGE": pg.url}


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "agent.cli", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _run_with_worker(pg: PgServer, runs: Path, *, kill_after_trial: bool = False) -> tuple[dict, str, int]:
    """A 30 s titanic run with --storage and one worker started beside it; (summary, worker output, exit)."""
    env = _env(pg, runs)
    run = _start(["run", str(DATASETS / "titanic.csv"), "--goal", "predict who survived", "--budget", "30", "--json"],
                 env)
    while not runs.exists() or not any(runs.iterdir()):
        assert run.poll() is None, run.communicate()
        time.sleep(0.2)
    worker = _start(["worker", str(next(runs.iterdir()))], env)
    told = ""
    if kill_after_trial:
        for line in worker.stderr:  # progress goes to stderr
            told += line
            if line.startswith("trial "):
                break
        time.sleep(0.3)  # into its next trial
        worker.send_signal(signal.SIGKILL)
    out, err = run.communicate(timeout=240)
    assert run.returncode == 0, err
    wout, werr = worker.communicate(timeout=60)
    return json.loads(out), told + wout + werr, worker.returncode


def test_a_worker_adds_trials_to_the_runs_studies_and_its_predictions_to_the_ensemble_pool(pg: PgServer,
                                                                                          tmp_path: Path) -> None:
    summary, output, code = _run_with_worker(pg, tmp_path / "runs")
    assert code == 0 and "worker done" in output and "Traceback" not in output, output
    run_dir = Path(summary["run_dir"])
    workers = next(e for e in events(run_dir) if e["kind"] == "workers")
    assert len(workers["trials"]) == 2 and all(n > 0 for n in workers["trials"].values()), workers
    assert workers["from_workers"] > 0 and workers["pooled"] > 0, "the worker's results reached the pool"
    storage = optuna.storages.RDBStorage(pg.url)
    shared = []
    for s in optuna.get_all_study_summaries(storage):
        if s.study_name.startswith(run_dir.name + "/"):
            study = optuna.load_study(study_name=s.study_name, storage=storage)
            shared.append({t.user_attrs.get("worker") for t in study.trials
                           if t.user_attrs.get("source") != "selection"})
            numbers = [t.number for t in study.trials]
            assert len(numbers) == len(set(numbers))
    assert any(len(who) == 2 for who in shared), "one study holds trials of both processes"
    folder = run_dir / "tuning"
    assert (folder / "clock.json").exists() and json.loads((folder / "clock.json").read_text())["done"]
    assert not (folder / "data.parquet").exists() and not list(folder.glob("results/*/*")), \
        "once tuning is over the run folder keeps no rows and no worker predictions"
    report = (run_dir / "report.md").read_text()
    for name in workers["trials"]:
        assert name in report, "the report lists both processes"
    late = mlpilot("worker", str(run_dir), runs_dir=tmp_path / "runs", env={"MLPILOT_STORAGE": pg.url}, timeout=60)
    assert late.returncode == 0 and "tuning has ended" in late.stdout, late.stdout + late.stderr


def test_a_worker_killed_mid_trial_leaves_the_run_completing(pg: PgServer, tmp_path: Path) -> None:
    summary, output, code = _run_with_worker(pg, tmp_path / "runs", kill_after_trial=True)
    assert code == -signal.SIGKILL and summary["status"] == "completed", output
    run_dir = Path(summary["run_dir"])
    assert (run_dir / "model.joblib").exists() and summary["metrics"]
    workers = next(e for e in events(run_dir) if e["kind"] == "workers")
    assert len(workers["trials"]) == 2, "the killed worker's trials are still counted"


def test_a_worker_needs_the_runs_database(pg: PgServer, tmp_path: Path, finished_run: Path) -> None:
    proc = mlpilot("worker", str(finished_run), runs_dir=tmp_path, env={"MLPILOT_STORAGE": ""}, timeout=60)
    assert proc.returncode == 2 and "--storage" in proc.stderr, proc.stderr
    proc = mlpilot("worker", str(finished_run), "--storage", pg.url, runs_dir=tmp_path, timeout=60)
    assert proc.returncode == 0 and "did not start tuning" in proc.stdout, proc.stdout + proc.stderr
