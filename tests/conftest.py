"""Shared pytest fixtures: where the real data sets and the small test fixtures live, and an autouse
fixture that keeps every test away from the user's runs folder and from any real LLM endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs go to a temporary folder; no OpenAI key or base URL leaks in from the developer's shell."""
    monkeypatch.setenv("MLPILOT_RUNS_DIR", str(tmp_path / "runs"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MLPILOT_LLM_BASE_URL", "MLPILOT_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def datasets_dir() -> Path:
    """The real data sets shared by the project (../shared/datasets)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture
def data_dir() -> Path:
    """Small fixture files kept with the tests (tests/data)."""
    return Path(__file__).resolve().parent / "data"
