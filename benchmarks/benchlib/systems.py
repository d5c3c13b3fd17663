"""Running the systems: mlpilot through its CLI, the references through `_reference_worker.py` in their venvs.

Each system runs in a child process of its own (in its own process group, so a timeout ends it with
everything it started) and writes its predictions for test_X.csv; the caller scores them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .data import Dataset, Split

WORKER = Path(__file__).resolve().parent.parent / "_reference_worker.py"

# Every system, in the default order of the columns; the references name the venv whose Python runs them.
SYSTEMS = ("mlpilot", "flaml", "autogluon", "autogluon_best", "floor")
VENV_OF = {"flaml": "flaml", "floor": "flaml", "autogluon": "autogluon", "autogluon_best": "autogluon"}
LABELS = {"mlpilot": "mlpilot", "flaml": "FLAML", "autogluon": "AG medium", "autogluon_best": "AG best",
          "floor": "floor"}


@dataclass
class SystemResult:
    system: str
    score: float | None = None
    secondary: dict[str, float] = field(default_factory=dict)
    wall_seconds: float | None = None
    model: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Completed:
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool


def run_command(cmd: list[str], timeout: float, cwd: Path, env: dict[str, str] | None = None) -> Completed:
    """Run a child in its own process group, so a timeout can end it with everything it started."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    return Completed(proc.returncode, out, err, time.perf_counter() - start, timed_out)


def _tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:])[-800:]


def _clean_env() -> dict[str, str]:
    # MLPILOT_* variables in the caller's shell (e.g. MLPILOT_MAX_TRIALS) must not change the runs.
    return {k: v for k, v in os.environ.items() if not k.startswith("MLPILOT_")}


def _reference_env() -> dict[str, str]:
    # A reference sees only its own venv: a PYTHONPATH set for mlpilot (e.g. a work tree) stays out of it.
    return {k: v for k, v in _clean_env().items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def _parse_json(stdout: str) -> dict[str, Any] | None:
    text = stdout.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        start = text.find("{")
        try:
            return json.loads(text[start:]) if start >= 0 else None
        except json.JSONDecodeError:
            return None


def run_mlpilot(ds: Dataset, split: Split, metric: str, budget: float, seed: int, python: str,
                workdir: Path, extra: list[str] | None = None) -> tuple[SystemResult, pd.DataFrame | None]:
    res = SystemResult("mlpilot")
    runs_dir = workdir / "mlpilot-runs"
    cmd = [python, "-m", "agent.cli", "run", str(split.train_csv), "--target", ds.target, "--task", ds.task,
           "--metric", metric, "--budget", f"{budget:g}", "--seed", str(seed), "--json", "--quiet",
           "--runs-dir", str(runs_dir), *(extra or [])]
    # Far beyond mlpilot's own wall (budget x 1.1 + 10 s): only there to stop a hung process.
    done = run_command(cmd, timeout=budget * 3 + 120, cwd=workdir, env=_clean_env())
    res.wall_seconds = done.seconds
    (workdir / "mlpilot-run.stderr").write_text(done.stderr)
    summary = _parse_json(done.stdout) or {}
    if not summary.get("run_dir"):
        # No summary on stdout (e.g. the watchdog ended the process): the run folder still says what happened.
        found = sorted(p for p in runs_dir.glob("*") if p.is_dir()) if runs_dir.exists() else []
        if len(found) == 1 and (found[0] / "manifest.json").exists():
            manifest = json.loads((found[0] / "manifest.json").read_text())
            summary = {"run_dir": str(found[0]), "status": manifest.get("status"), "error": manifest.get("error"),
                       "elapsed_seconds": manifest.get("elapsed_seconds")}
    res.extra.update({"exit_code": done.returncode, "timed_out": done.timed_out,
                      "status": summary.get("status"), "elapsed_seconds": summary.get("elapsed_seconds"),
                      "own_holdout": summary.get("metrics"), "threshold": summary.get("threshold")})
    res.model = summary.get("model")
    if done.timed_out:
        res.notes.append(f"killed after {done.seconds:.0f} s (benchmark timeout)")
    if done.returncode not in (0, None):
        res.notes.append(f"run exited {done.returncode}: {summary.get('error') or _tail(done.stderr)}")
    run_dir = summary.get("run_dir")
    res.extra["run_dir"] = run_dir
    if not run_dir or not (Path(run_dir) / "model.joblib").exists():
        res.error = (f"no model (exit {done.returncode}, status {summary.get('status')}): "
                     f"{summary.get('error') or _tail(done.stderr)}")
        return res, None
    pred_csv = workdir / "mlpilot-pred.csv"
    cmd = [python, "-m", "agent.cli", "predict", run_dir, str(split.test_x_csv), "--output", str(pred_csv),
           "--json", "--quiet"]
    done = run_command(cmd, timeout=600, cwd=workdir, env=_clean_env())
    res.extra["predict_seconds"] = done.seconds
    if done.returncode != 0 or not pred_csv.exists():
        res.error = f"predict failed (exit {done.returncode}): {_tail(done.stderr) or _tail(done.stdout)}"
        return res, None
    return res, pd.read_csv(pred_csv)


def run_reference(system: str, ds: Dataset, split: Split, metric: str, budget: float, seed: int,
                  python: str, workdir: Path) -> tuple[SystemResult, pd.DataFrame | None]:
    """One reference in the worker under `python`; its wall time is the worker's own timing of the fit."""
    res = SystemResult(system)
    pred_csv, meta_json = workdir / f"{system}-pred.csv", workdir / f"{system}-meta.json"
    cmd = [python, str(WORKER), "--system", system, "--train", str(split.train_csv), "--test",
           str(split.test_x_csv), "--target", ds.target, "--task", ds.task, "--metric", metric,
           "--budget", f"{budget:g}", "--seed", str(seed), "--pred-out", str(pred_csv),
           "--meta-out", str(meta_json)]
    # The floor has no budget; FLAML's and AutoGluon's limits are their own (AutoGluon's is soft), so the
    # timeout only stops a hung process.
    timeout = 900 if system == "floor" else budget * 4 + 300
    done = run_command(cmd, timeout=timeout, cwd=workdir, env=_reference_env())
    (workdir / f"{system}.stderr").write_text(done.stderr)
    if done.returncode != 0 or not pred_csv.exists():
        why = "timed out" if done.timed_out else f"exit {done.returncode}"
        res.error = f"{why}: {_tail(done.stderr)}"
        res.wall_seconds = done.seconds
        return res, None
    meta = json.loads(meta_json.read_text())
    res.wall_seconds = meta["fit_seconds"]
    res.model = meta.get("model")
    res.extra = {k: v for k, v in meta.items() if k not in ("fit_seconds", "model")}
    res.extra["process_seconds"] = done.seconds
    return res, pd.read_csv(pred_csv)
