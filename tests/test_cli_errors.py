"""Bad input to `mlpilot run`: a clear message, a non-zero exit code and no half-made run folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.cli_helpers import DATASETS, mlpilot

INTAKE = Path(__file__).resolve().parent / "data" / "intake"


def _fail(runs: Path, *args: str) -> str:
    proc = mlpilot("run", *args, "--budget", "10", runs_dir=runs, timeout=120)
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    assert not any(runs.glob("*/model.joblib")), "no model may be left behind"
    assert not list(runs.glob("*")), "bad input before any model work leaves no run folder"
    return " ".join(proc.stderr.split())


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path


def test_missing_file_suggests_similar_names(runs: Path) -> None:
    msg = _fail(runs, str(DATASETS / "titanc.csv"), "--target", "survived")
    assert "No file at" in msg and "titanic.csv" in msg


def test_a_folder_is_not_a_file(runs: Path) -> None:
    assert "is a folder, not a file" in _fail(runs, str(DATASETS), "--target", "x")


def test_empty_file(runs: Path) -> None:
    assert "empty" in _fail(runs, str(INTAKE / "empty.csv"), "--target", "x")


def test_binary_and_spreadsheet_files(runs: Path) -> None:
    assert "is a PNG image, not a text table" in _fail(runs, str(INTAKE / "image.png"), "--target", "x")
    assert "looks like a binary file" in _fail(runs, str(INTAKE / "binary.dat"), "--target", "x")
    assert "CSV" in _fail(runs, str(INTAKE / "book.xlsx"), "--target", "x")


def test_a_single_column_names_the_delimiters_tried(runs: Path) -> None:
    msg = _fail(runs, str(INTAKE / "single_column.csv"), "--target", "x")
    assert "column" in msg and "--delimiter" in msg


def test_header_without_rows(runs: Path) -> None:
    assert "no data rows" in _fail(runs, str(INTAKE / "header_only.csv"), "--target", "survived").lower()


def test_absent_target_suggests_close_columns(runs: Path) -> None:
    msg = _fail(runs, str(DATASETS / "titanic.csv"), "--target", "survive")
    assert "'survive' is not in the data" in msg and "'survived'" in msg and "--target" in msg


def test_goal_naming_no_column_lists_candidates(runs: Path) -> None:
    msg = _fail(runs, str(DATASETS / "titanic.csv"), "--goal", "make me rich")
    assert "Could not tell which column to predict" in msg and "pclass" in msg and "--target" in msg


def test_all_missing_target(runs: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(DATASETS / "titanic.csv").head(100)
    frame["survived"] = None
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert "all 100 values are missing" in _fail(runs, str(tmp_path / "t.csv"), "--target", "survived")


def test_constant_target(runs: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(DATASETS / "titanic.csv").head(100)
    frame["survived"] = 1
    frame.to_csv(tmp_path / "t.csv", index=False)
    msg = _fail(runs, str(tmp_path / "t.csv"), "--target", "survived")
    assert "has one value" in msg and "needs at least two" in msg


def test_too_few_rows_per_class(runs: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(DATASETS / "titanic.csv").head(200)
    frame["survived"] = 0
    frame.loc[:4, "survived"] = 1
    frame.to_csv(tmp_path / "t.csv", index=False)
    msg = _fail(runs, str(tmp_path / "t.csv"), "--target", "survived")
    assert "too few rows per class" in msg and "at least 10" in msg


def test_bad_options(runs: Path) -> None:
    assert "--budget must be at least" in " ".join(
        mlpilot("run", str(DATASETS / "titanic.csv"), "--budget", "1", runs_dir=runs).stderr.split())
    proc = mlpilot("run", str(DATASETS / "titanic.csv"), "--target", "survived", "--metric", "rmse",
                   "--budget", "10", runs_dir=runs)
    assert proc.returncode == 2 and "does not fit a binary task" in proc.stderr
    proc = mlpilot("run", str(DATASETS / "titanic.csv"), "--target", "survived", "--keep", "nope",
                   "--budget", "10", runs_dir=runs)
    assert proc.returncode == 2 and "nope" in proc.stderr
    assert not list(runs.glob("*"))
