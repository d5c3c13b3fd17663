"""Runs tell the truth after the faults users meet: SIGTERM (a scheduler or a container stopping), ``kill -9``
mid-tuning (then ``mlpilot runs`` and ``resume``, two of them at once), a torn last log line, a full disk."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli_helpers import DATASETS, ONE_CORE, ROOT, mlpilot

TITANIC = DATASETS / "titanic.csv"


def _start(runs: Path, *args: str, limit_bytes: int | None = None) -> subprocess.Popen:
    env = {**os.environ, "MLPILOT_RUNS_DIR": str(runs), **ONE_CORE}

    def limit() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.Popen([sys.executable, "-m", "agent.cli", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=limit)


def _wait_for_trial(runs: Path, proc: subprocess.Popen, timeout: float = 90) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        for log in runs.glob("*/events.jsonl"):
            if '"kind": "trial"' in log.read_text():
                return log.parent
        time.sleep(0.2)
    raise AssertionError(f"tuning never started (exit {proc.poll()}): {proc.stderr.read() if proc.stderr else ''}")


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def _listed_status(runs: Path, run_dir: Path) -> str:
    proc = mlpilot("runs", "--json", runs_dir=runs)
    assert proc.returncode == 0, proc.stderr
    return next(r["status"] for r in json.loads(proc.stdout) if r["run_id"] == run_dir.name)


def test_sigterm_mid_tuning_is_a_graceful_stop(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    proc = _start(runs, "run", str(TITANIC), "--goal", "predict who survived", "--budget", "60", "--json")
    try:
        run_dir = _wait_for_trial(runs, proc)
        assert _listed_status(runs, run_dir) == "running", "a live run is not called died"
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert took < 30, f"took {took:.1f} s to stop"
    summary = json.loads(out)
    assert summary["status"] == "interrupted" and summary["model_file"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["model"]["sha256"]
    log = _events(run_dir)
    assert any(e["kind"] == "interrupt" and "SIGTERM" in e["message"] for e in log)
    assert log[-1]["kind"] == "run_finished"
    assert "interrupted" in (run_dir / "report.md").read_text()
    assert _listed_status(runs, run_dir) == "interrupted"


def test_a_killed_run_shows_as_died_and_one_of_two_resumes_continues_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    proc = _start(runs, "run", str(TITANIC), "--goal", "predict who survived", "--budget", "60", "--json")
    try:
        run_dir = _wait_for_trial(runs, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "running"
    # Killed in the middle of writing a line:
    with open(run_dir / "events.jsonl", "a", encoding="utf-8") as log:
        log.write('{"v": 1, "seq": 99999, "kind": "tri')
    assert _listed_status(runs, run_dir) == "died"
    report = mlpilot("report", run_dir.name, "--path-only", runs_dir=runs)
    assert report.returncode == 0, report.stderr
    assert "died" in (run_dir / "report.md").read_text()

    both = [_start(runs, "resume", run_dir.name, "--budget", "10", "--json") for _ in range(2)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in both]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, _, err in results if code == 2)
    assert "another mlpilot process" in refused or "still running" in refused or "completed" in refused, refused
    log = _events(run_dir)  # every line whole: the torn one was cut off, none was interleaved
    seqs = [e["seq"] for e in log]
    assert seqs == sorted(set(seqs)), "two writers interleaved the log"
    assert sum(1 for e in log if e["kind"] == "run_resumed") == 1
    assert log[-1]["kind"] == "run_finished" and log[-1]["status"] == "completed"
    assert _listed_status(runs, run_dir) == "completed"


def test_a_full_disk_gives_a_clear_error_and_a_resumable_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    # A file-size limit stands in for a full disk (no tmpfs without privileges): the first model file
    # (~160 KB) does not fit.
    proc = _start(runs, "run", str(TITANIC), "--goal", "predict who survived", "--budget", "20", "--json",
                  limit_bytes=100_000)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert "No room to write" in err and "mlpilot resume" in err and "Traceback" not in err
    summary = json.loads(out)
    run_dir = Path(summary["run_dir"])
    assert summary["status"] == "died"
    assert not list(run_dir.glob(".*.tmp")) and not list(run_dir.glob("*.tmp"))
    _events(run_dir)  # every line parses
    assert _listed_status(runs, run_dir) == "died"

    resumed = mlpilot("resume", run_dir.name, "--budget", "10", "--json", runs_dir=runs, env=ONE_CORE)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "completed" and (run_dir / "model.joblib").exists()
