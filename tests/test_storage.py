"""Where the tuning studies live: the run folder's journal by default, or a database named with --storage
(a SQLAlchemy URL), with the studies named by the run and each trial by the worker that ran it; a database
that cannot be used is bad input, said before any run folder is made, and its password is never shown."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from tests.cli_helpers import DATASETS, ONE_CORE, ROOT, events, mlpilot, run_json
from tests.pg import PgServer, postgres_fixture

pg = postgres_fixture()

pytestmark = pytest.mark.slow


def test_a_run_keeps_its_studies_in_the_database_it_is_given(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    proc, summary = run_json(str(DATASETS / "titanic.csv"), "--goal", "predict who survived", "--budget", "10",
                             "--storage", url, runs_dir=tmp_path / "runs", env=ONE_CORE)
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(summary["run_dir"])
    assert not (run_dir / "study.journal").exists()
    storage = optuna.storages.RDBStorage(url)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    assert names and all(n.startswith(f"{run_dir.name}/tune-") for n in names)
    finished = next(e for e in events(run_dir) if e["kind"] == "tuning_finished")
    trials = [t for n in names for t in optuna.load_study(study_name=n, storage=storage).trials]
    assert finished["trials"] <= len(trials) and {t.user_attrs.get("worker") for t in trials} == \
        {next(t.user_attrs["worker"] for t in trials)}, "one process ran them all: one worker name"
    assert "in the database" in (run_dir / "report.md").read_text()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["settings"]["storage"] == url


@pytest.mark.parametrize("url, words", [
    ("postgresql://alice:s3cretpw@127.0.0.1:9/studies", ["Cannot use the database", "postgresql+psycopg://alice:"]),
    ("mongodb://alice:s3cretpw@127.0.0.1/x", ["not one mlpilot knows", "postgresql://"]),
])
def test_a_database_that_cannot_be_used_is_bad_input_and_its_password_stays_hidden(tmp_path: Path, url: str,
                                                                                    words: list[str]) -> None:
    proc = mlpilot("run", str(DATASETS / "titanic.csv"), "--goal", "predict who survived", "--storage", url,
                   runs_dir=tmp_path / "runs", timeout=60)
    assert proc.returncode == 2, proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr
    assert "s3cretpw" not in proc.stderr + proc.stdout
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), "no run folder is made"


def test_a_run_keeps_its_studies_in_postgresql(pg: PgServer, tmp_path: Path) -> None:
    proc, summary = run_json(str(DATASETS / "titanic.csv"), "--goal", "predict who survived", "--budget", "10",
                             "--storage", pg.url, runs_dir=tmp_path / "runs", env=ONE_CORE)
    assert proc.returncode == 0, proc.stderr
    run_id = Path(summary["run_dir"]).name
    storage = optuna.storages.RDBStorage(pg.url)
    mine = [s for s in optuna.get_all_study_summaries(storage) if s.study_name.startswith(f"{run_id}/tune-")]
    assert mine and sum(s.n_trials for s in mine) > len(mine), "trials beyond the seeded ones were run"
    finished = next(e for e in events(summary["run_dir"]) if e["kind"] == "tuning_finished")
    assert finished["prefix"] == run_id and finished["storage"].startswith("postgresql")


def test_a_trial_whose_process_is_killed_is_failed_once_its_heartbeat_is_stale(pg: PgServer, monkeypatch) -> None:
    import tools.storage as storage

    url = pg.url
    code = (f"import time, tools.storage as s; s.HEARTBEAT_SECONDS = 1; s.GRACE_SECONDS = 3; "
            f"study = s.open_study({url!r}, 'beats', 'maximize', 0, prefix='run'); trial = study.ask(); "
            "ctx = s.beating(" + repr(url) + ", trial); ctx.__enter__(); print('running', flush=True); time.sleep(120)")
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "running"
        time.sleep(1.5)  # at least one heartbeat recorded
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        worker.kill()
    killed_at = time.monotonic()
    monkeypatch.setattr(storage, "GRACE_SECONDS", 3)
    monkeypatch.setattr(storage, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(storage, "_OPEN", {})
    study = storage.open_study(url, "beats", "maximize", 1, prefix="run")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.RUNNING]
    while time.monotonic() - killed_at < 15:
        storage.fail_stale(study, url)
        if study.trials[0].state == optuna.trial.TrialState.FAIL:
            break
        time.sleep(0.5)
    assert study.trials[0].state == optuna.trial.TrialState.FAIL, "the dead process's trial is failed"
    assert time.monotonic() - killed_at < 8, "within the grace period and a beat"


def test_resuming_a_run_whose_studies_are_in_a_database_needs_its_url(tmp_path: Path, monkeypatch) -> None:
    from agent.job.resume import resume_settings
    from agent.settings import Settings
    from tools.errors import ConfigError

    monkeypatch.delenv("MLPILOT_STORAGE", raising=False)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    manifest = {"run_id": "r1", "budget": 60, "settings": Settings(storage=url).public()}
    with pytest.raises(ConfigError, match="set MLPILOT_STORAGE"):
        resume_settings(tmp_path, manifest, budget=None, runs_dir=tmp_path, interactive=False, ask=False)
    monkeypatch.setenv("MLPILOT_STORAGE", url)
    assert resume_settings(tmp_path, manifest, budget=None, runs_dir=tmp_path, interactive=False,
                           ask=False).storage == url
