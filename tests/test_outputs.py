"""``predict --output`` never harms what is there: devices, folders and the input are refused, the format
comes from the suffix or is refused, and a write that fails (a full disk) leaves nothing behind."""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import DATASETS, ROOT, mlpilot

TITANIC = DATASETS / "titanic.csv"


@pytest.fixture(scope="module")
def run_dir(finished_run: Path) -> Path:
    return finished_run


def _predict(run_dir: Path, data: Path, output: str) -> subprocess.CompletedProcess:
    return mlpilot("predict", str(run_dir), str(data), "--output", output, runs_dir=run_dir.parent)


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("device", ["/dev/null", "/dev/stdout"])
def test_a_device_is_refused_and_left_alone(run_dir: Path, device: str) -> None:
    proc = _predict(run_dir, TITANIC, device)
    assert proc.returncode == 2, proc.stderr
    # /dev/stdout is whatever stdout is: here the pipe the test reads.
    assert "is a device, not a file" in proc.stderr or "is a pipe, not a file" in proc.stderr, proc.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_the_input_file_is_not_overwritten(run_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "passengers.csv"
    shutil.copy(TITANIC, data)
    before = hashlib.sha256(data.read_bytes()).hexdigest()
    for spelled in (str(data), str(tmp_path / "." / "passengers.csv")):
        proc = _predict(run_dir, data, spelled)
        assert proc.returncode == 2 and "is the input file" in proc.stderr, proc.stderr
    assert hashlib.sha256(data.read_bytes()).hexdigest() == before


def test_a_folder_is_refused_without_a_stray_file(run_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out.csv"
    folder.mkdir()
    proc = _predict(run_dir, TITANIC, str(folder))
    assert proc.returncode == 2 and "is a folder" in proc.stderr, proc.stderr
    assert _leftovers(tmp_path) == [] and list(folder.iterdir()) == []


@pytest.mark.parametrize("name", ["predictions.xlsx", "predictions"])
def test_an_unknown_format_is_refused(run_dir: Path, tmp_path: Path, name: str) -> None:
    proc = _predict(run_dir, TITANIC, str(tmp_path / name))
    assert proc.returncode == 2, proc.stderr
    assert ".csv" in proc.stderr and ".parquet" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_suffixes_choose_the_format(run_dir: Path, tmp_path: Path) -> None:
    import pandas as pd

    for name, read in (("p.parquet", pd.read_parquet), ("p.tsv", lambda p: pd.read_csv(p, sep="\t"))):
        proc = _predict(run_dir, TITANIC, str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
        frame = read(tmp_path / name)
        assert len(frame) == 891 and "prediction" in frame.columns


def test_a_full_disk_leaves_nothing_behind(run_dir: Path, tmp_path: Path) -> None:
    """A file-size limit (as a full disk would) stops the write: a clear error, exit 2, no partial file."""
    out = tmp_path / "predictions.csv"
    limit = 8_000  # bytes: the predictions of 891 rows take about 40,000

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "MLPILOT_RUNS_DIR": str(run_dir.parent)}
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "predict", str(run_dir), str(TITANIC), "--output",
                           str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          preexec_fn=small_files)
    assert proc.returncode == 2, proc.stderr
    assert "Could not write --output" in proc.stderr and "Nothing was written" in proc.stderr
    assert not out.exists() and _leftovers(tmp_path) == []
