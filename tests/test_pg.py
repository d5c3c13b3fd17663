"""Optuna studies in a real PostgreSQL server (issue 16): the throwaway server works, two worker processes
share one TPE study, and a worker killed mid-trial has its trial failed once the heartbeat grace period
has passed, by a surviving worker's own `optimize` loop."""

from __future__ import annotations

import itertools
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa
from optuna.trial import TrialState

import tests.pg as pg_module
from tests.pg import PgServer, PostgresUnavailable, postgres_fixture, postgres_server

pytestmark = [pytest.mark.slow,
              # heartbeat_interval and fail_stale_trials are still "experimental" in Optuna; the warning is
              # about API stability, not a fault, and would bury real warnings in the summary.
              pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")]

pg = postgres_fixture()

# Small heartbeat settings so a dead worker is noticed within seconds (Optuna takes whole seconds).
HEARTBEAT_S = 1
GRACE_S = 3

# A tuning worker as mlpilot will run one: its own process, its own RDBStorage on the shared URL, a seeded
# TPE sampler, `optimize` (the only path that records heartbeats). argv: url, study, seed, n_trials, mode.
# "share" waits for a line on stdin first so both workers start tuning together (their trials interleave);
# "hang" prints once its trial has had a heartbeat, then sleeps until it is killed.
WORKER = f"""
import os, sys, time, warnings
import optuna
warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
optuna.logging.set_verbosity(optuna.logging.WARNING)
url, name, seed, n_trials, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
storage = optuna.storages.RDBStorage(url, heartbeat_interval={HEARTBEAT_S}, grace_period={GRACE_S})
sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=4)
study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)

def objective(trial):
    x = trial.suggest_float("x", -5.0, 5.0)
    trial.set_user_attr("pid", os.getpid())
    if mode == "hang":
        time.sleep({HEARTBEAT_S} + 0.5)  # the heartbeat thread has written at least once by now
        print("in trial", trial.number, flush=True)
        time.sleep(600)
    time.sleep(0.05)
    return (x - 1.0) ** 2

print("ready", flush=True)
if mode == "share":
    sys.stdin.readline()
study.optimize(objective, n_trials=n_trials)
"""


def heartbeat_storage(url: str) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The worker's next stdout line, or a failure carrying its stderr if none comes in time."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if selector.select(timeout):
            line = proc.stdout.readline()
            if line:
                return line.strip()
    proc.kill()
    _, stderr = proc.communicate(timeout=10)
    pytest.fail(f"worker {proc.pid} wrote no line in {timeout} s (exit {proc.returncode}):\n{stderr}")


@pytest.fixture
def spawn_worker(pg: PgServer) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts worker processes on the test server; any still alive when the test ends is killed, so a
    failing test leaves no process behind (and none holding a connection when the server stops)."""
    procs: list[subprocess.Popen[str]] = []

    def spawn(study_name: str, *, seed: int, n_trials: int, mode: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", WORKER, pg.url, study_name, str(seed), str(n_trials), mode],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


@pytest.fixture
def study(pg: PgServer) -> Iterator[optuna.Study]:
    """A new study (unique name: the server is shared by the module) seen through this process's own storage,
    whose connections are closed afterwards so none is open when the server stops."""
    storage = heartbeat_storage(pg.url)
    yield optuna.create_study(study_name=f"s-{uuid.uuid4().hex[:8]}", storage=storage, direction="minimize")
    storage.engine.dispose()


def test_the_server_answers_through_sqlalchemy_over_tcp(pg: PgServer) -> None:
    engine = sa.create_engine(pg.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
            assert conn.execute(sa.text("select current_database()")).scalar_one() == pg.database
            # TCP, not the socket: the URL is what worker processes (or other hosts, later) will use.
            assert conn.execute(sa.text("select inet_server_port()")).scalar_one() == pg.port
        # The driver named in the URL is the one installed (psycopg 3), not psycopg2 by default.
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_a_stopped_server_leaves_no_process_and_no_folder(tmp_path: Path) -> None:
    with postgres_server(tmp_path) as server:
        pid = server.pid()
        assert pid is not None and Path(f"/proc/{pid}").exists()
        folder = server.socket_dir
        assert (folder / f".s.PGSQL.{server.port}").is_socket()
        server.stop()
        server.stop()  # idempotent: the context manager calls it again on exit
    assert not folder.exists()
    # The postmaster was re-parented when pg_ctl exited, so its zombie may linger a moment until init reaps it.
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
            break
        time.sleep(0.05)
    else:
        assert not Path(f"/proc/{pid}").exists(), f"postmaster {pid} still running after stop()"
    assert "database system is shut down" in (tmp_path / "postgres.log").read_text()


def test_missing_server_binaries_say_which_package_to_install(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pg_module, "DEBIAN_BIN_GLOB", str(tmp_path / "postgresql" / "*" / "bin"))
    with pytest.raises(PostgresUnavailable, match="install Debian's `postgresql` package"), postgres_server(tmp_path):
        pass


def test_two_worker_processes_share_one_tpe_study(study: optuna.Study,
                                                  spawn_worker: Callable[..., subprocess.Popen[str]]) -> None:
    n_each = 12
    workers = [spawn_worker(study.study_name, seed=seed, n_trials=n_each, mode="share") for seed in (1, 2)]
    for proc in workers:
        assert read_line(proc, timeout=30) == "ready"
    for proc in workers:  # start both together: their trials must interleave for the numbering to be tested
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in workers:
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr

    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 2 * n_each
    assert sorted(t.number for t in trials) == list(range(2 * n_each))
    assert all(t.state == TrialState.COMPLETE and t.value is not None for t in trials)
    by_number = [t.user_attrs["pid"] for t in sorted(trials, key=lambda t: t.number)]
    assert sorted(set(by_number)) == sorted(p.pid for p in workers)
    assert by_number.count(workers[0].pid) == n_each
    # Both wrote while the other was writing, not one after the other.
    switches = sum(a != b for a, b in itertools.pairwise(by_number))
    assert switches >= 2, by_number


def test_a_killed_workers_trial_is_failed_after_the_grace_period(
        study: optuna.Study, spawn_worker: Callable[..., subprocess.Popen[str]]) -> None:
    worker = spawn_worker(study.study_name, seed=1, n_trials=1, mode="hang")
    assert read_line(worker, timeout=30) == "ready"
    line = read_line(worker, timeout=30)
    assert line == "in trial 0", line
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    killed_at = time.monotonic()

    # Dead, but its trial is still RUNNING: nothing in the database knows yet, and within the grace period
    # a surviving worker must not fail it (a slow-but-alive worker's trial looks the same).
    assert study.get_trials(deepcopy=False)[0].state == TrialState.RUNNING
    optuna.storages.fail_stale_trials(study)
    assert study.get_trials(deepcopy=False)[0].state == TrialState.RUNNING

    # A surviving worker keeps tuning; `optimize` fails stale trials before each new one.
    while time.monotonic() - killed_at < GRACE_S + HEARTBEAT_S + 5:
        study.optimize(lambda trial: trial.suggest_float("x", -5.0, 5.0) ** 2, n_trials=1)
        if study.get_trials(deepcopy=False)[0].state != TrialState.RUNNING:
            break
        time.sleep(0.1)
    waited = time.monotonic() - killed_at
    killed = study.get_trials(deepcopy=False)[0]
    assert killed.state == TrialState.FAIL, f"still {killed.state.name} {waited:.1f} s after the kill"
    # The last heartbeat was at most one interval before the kill, and the trial turns stale only once more
    # than the grace period has passed since it.
    assert GRACE_S - HEARTBEAT_S - 0.5 <= waited <= GRACE_S + HEARTBEAT_S + 2, waited
    assert killed.params.keys() == {"x"} and killed.user_attrs["pid"] == worker.pid
    # The surviving worker's own trials are unaffected.
    assert all(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)[1:])
    print(f"killed worker's trial failed {waited:.2f} s after SIGKILL "
          f"(heartbeat {HEARTBEAT_S} s, grace {GRACE_S} s)")
