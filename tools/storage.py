"""Where a run's Optuna studies live: the journal file in the run folder (the default), or a database that
several machines reach (``--storage postgresql://user@host/db``), so that worker processes can join the
run's studies.

In a database, a study is named ``<run id>/tune-<candidate>`` so that many runs share one database, and
each running trial has a heartbeat (`beating`: a thread records it every ``HEARTBEAT_SECONDS``; Optuna
records heartbeats only inside ``study.optimize``, and mlpilot asks and tells): a process that dies
(SIGKILL, a lost machine) leaves its trial RUNNING only until its heartbeat is ``GRACE_SECONDS`` old, and
the next trial of any process on that study marks it FAIL first (`fail_stale`), so the study carries on.
One storage object is kept per URL and process: opening one connects and checks the schema, which costs a
few hundred milliseconds on a remote server.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from tools.errors import ConfigError
from tools.redact import redact_urls

HEARTBEAT_SECONDS = 5
GRACE_SECONDS = 20
# SQLAlchemy dialects -> (the module their default driver needs, the extra that installs it)
_DRIVERS = {"postgresql": ("psycopg", "postgres"), "postgresql+psycopg": ("psycopg", "postgres"),
            "postgresql+psycopg2": ("psycopg2", "postgres"), "sqlite": ("sqlite3", None),
            "mysql": ("MySQLdb", None), "mysql+pymysql": ("pymysql", None)}
_OPEN: dict[str, BaseStorage] = {}


def is_url(storage: str | Path | None) -> bool:
    """Whether ``storage`` names a database (a SQLAlchemy URL) rather than a journal file."""
    return isinstance(storage, str) and "://" in storage


def worker_name() -> str:
    """This process as the trials it runs record it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def study_name(name: str, prefix: str | None) -> str:
    return f"{prefix}/{name}" if prefix else name


def check_url(url: str) -> str:
    """The URL with its default driver made explicit (``postgresql://`` -> ``postgresql+psycopg://``),
    after checking that the driver is installed.

    Raises:
        ConfigError: not a URL SQLAlchemy reads, or its driver is missing (naming the extra that installs it).
    """
    scheme = url.split("://", 1)[0].lower()
    if scheme == "postgresql":
        url, scheme = "postgresql+psycopg://" + url.split("://", 1)[1], "postgresql+psycopg"
    if scheme not in _DRIVERS:
        raise ConfigError(f"--storage {redact_urls(url)}: the scheme '{scheme}' is not one mlpilot knows; use "
                          "postgresql://user:password@host:5432/database (or sqlite:///path.db for one machine).")
    module, extra = _DRIVERS[scheme]
    if importlib.util.find_spec(module) is None:
        how = f"pip install 'mlpilot[{extra}]'" if extra else f"pip install {module}"
        raise ConfigError(f"--storage {redact_urls(url)} needs the {module} driver, which is not installed: {how}.")
    return url


def open_storage(storage: str | Path) -> BaseStorage:
    """The Optuna storage for a journal file path or a database URL (connected and checked once per process).

    Raises:
        ConfigError: the database cannot be reached or refuses the credentials (the password is never shown).
    """
    if not is_url(storage):
        return JournalStorage(JournalFileBackend(str(storage)))
    url = check_url(str(storage))
    if url not in _OPEN:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats, since 2.9
                _OPEN[url] = RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                                        engine_kwargs={"pool_pre_ping": True})
        except Exception as exc:  # SQLAlchemy's OperationalError and kin: the user must fix the URL or server
            reason = redact_urls(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            raise ConfigError(f"Cannot use the database {redact_urls(url)} for the studies: {reason}. Check the "
                              "URL, that the server runs and accepts this user, then try again.") from None
    return _OPEN[url]


def open_study(storage: str | Path, name: str, direction: str, seed: int, *, prefix: str | None = None
               ) -> optuna.Study:
    """The study ``name`` (under ``prefix`` in a database) created or reopened, with a seeded TPE sampler and
    median pruning; a worker joining a run's study gets the same sampler settings with its own seed."""
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=6, multivariate=True)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    return optuna.create_study(study_name=study_name(name, prefix if is_url(storage) else None),
                               storage=open_storage(storage), sampler=sampler, pruner=pruner, direction=direction,
                               load_if_exists=True)


@contextmanager
def beating(storage: str | Path, trial: optuna.Trial) -> Iterator[None]:
    """While the block runs, record ``trial``'s heartbeat in a database storage every ``HEARTBEAT_SECONDS``
    (nothing for a journal file, which one machine writes)."""
    if not is_url(storage):
        yield
        return
    store = open_storage(storage)
    trial_id = trial._trial_id  # Optuna's own heartbeat thread keys on it too; it has no public name
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                store.record_heartbeat(trial_id)
            except Exception:  # a lost connection: the next beat tries again; the trial itself carries on
                pass
            if stop.wait(HEARTBEAT_SECONDS):
                return

    thread = threading.Thread(target=beat, name="mlpilot-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=HEARTBEAT_SECONDS)


def fail_stale(study: optuna.Study, storage: str | Path) -> None:
    """Mark FAIL the trials of ``study`` whose process stopped beating (a database storage only)."""
    if is_url(storage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna calls heartbeats experimental
            optuna.storages.fail_stale_trials(study)
