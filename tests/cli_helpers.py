"""Running the real `mlpilot` command as a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
# For runs started side by side on what may be a 2-core machine: one core each, as a person running two
# jobs at once would give them. Two runs each taking every core make a multi-threaded fit wait many
# times over for the other's threads (benchmarks/bench_cores.py measures it).
ONE_CORE = {"MLPILOT_N_JOBS": "1"}


def mlpilot(*args: str, runs_dir: Path, timeout: float = 180, env: dict | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m agent.cli ARGS`` with the runs folder set; returns the completed process."""
    full_env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    full_env.update({"MLPILOT_RUNS_DIR": str(runs_dir), **(env or {})})
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def run_json(*args: str, runs_dir: Path, timeout: float = 180,
             env: dict | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    """``mlpilot run ... --json`` and its parsed summary."""
    proc = mlpilot("run", *args, "--json", runs_dir=runs_dir, timeout=timeout, env=env)
    try:
        summary = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON on stdout (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None
    return proc, summary


def events(run_dir: Path | str) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "events.jsonl").read_text().splitlines() if line]


def decisions(run_dir: Path | str) -> dict[str, dict]:
    """The last decision per question."""
    return {e["question"]: e for e in events(run_dir) if e["kind"] == "decision"}


def without_mlpilot(model: object, rows: object, expression: str, folder: Path) -> str:
    """What ``expression`` (of the loaded model ``m`` and the rows ``X``) prints in a fresh interpreter
    where mlpilot's packages cannot be imported: a saved model must load and predict with joblib and its
    libraries alone."""
    import joblib

    path, rows_path = folder / "model.joblib", folder / "rows.pkl"
    joblib.dump(model, path)
    rows.to_pickle(rows_path)  # type: ignore[attr-defined]
    code = ("import sys, joblib, pandas as pd; sys.modules['tools'] = None; sys.modules['agent'] = None; "
            f"m = joblib.load({str(path)!r}); X = pd.read_pickle({str(rows_path)!r}); print({expression})")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=folder,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout
