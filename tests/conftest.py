"""Shared pytest fixtures: where the real data sets and the small test fixtures live, and an autouse
fixture that keeps every test away from the user's runs folder and from any real LLM endpoint."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Iterator

import pytest

LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")
# A proxy on a closed local port: HTTP clients in subprocesses (the CLI under test) that try any host but
# the local test server fail at once instead of reaching the internet.
DEAD_PROXY = "http://127.0.0.1:9"


@pytest.fixture(scope="session", autouse=True)
def one_signing_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One signing key for the whole suite, as one user has (and never the developer's own): a run made by
    a module fixture, before a test's own data folder is set, is still this user's when a test uses it."""
    key = tmp_path_factory.mktemp("user") / "signing.key"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLPILOT_SIGNING_KEY", str(key))
        yield key


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs go to a temporary folder; no OpenAI key or base URL leaks in from the developer's shell."""
    monkeypatch.setenv("MLPILOT_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MLPILOT_HOME", str(tmp_path / "home"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MLPILOT_LLM_BASE_URL", "MLPILOT_LLM_MODEL",
                 "MLPILOT_LLM_BUDGET", "MLPILOT_LLM_PRICES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches a real endpoint: in this process any connection to a host other than loopback
    raises, and subprocesses get a dead proxy for every host but loopback."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, DEAD_PROXY)
    monkeypatch.setenv("NO_PROXY", ",".join(LOCAL_HOSTS))
    monkeypatch.setenv("no_proxy", ",".join(LOCAL_HOSTS))
    original = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if host not in LOCAL_HOSTS:
                raise ConnectionRefusedError(f"tests may not connect to {host!r}: only the local test server")
        return original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def datasets_dir() -> Path:
    """The real data sets shared by the project (../shared/datasets)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture
def data_dir() -> Path:
    """Small fixture files kept with the tests (tests/data)."""
    return Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory, one_signing_key: Path) -> Path:
    """One finished titanic run made by the suite's user (signed with its key), for tests that only use a
    run (predict, trust, bad inputs). Tests that change it work on a copy."""
    from tests.cli_helpers import DATASETS, ONE_CORE, run_json

    proc, summary = run_json(str(DATASETS / "titanic.csv"), "--goal", "predict who survived", "--budget", "8",
                             runs_dir=tmp_path_factory.mktemp("finished") / "runs", env=ONE_CORE)
    assert proc.returncode == 0, proc.stderr
    return Path(summary["run_dir"])

