"""Benchmark mlpilot against FLAML and a default-LightGBM floor on every dataset in shared/datasets.

Setup (once): FLAML lives only in the benchmark's own virtualenv, never in mlpilot's dependencies.

    python3 -m venv ../.venv-bench && ../.venv-bench/bin/pip install -r benchmarks/requirements-flaml.txt

Run (from the repository root; any Python with pandas, numpy and scikit-learn can drive it):

    .venv/bin/python benchmarks/bench_datasets.py [--budget 60] [--datasets titanic,abalone] [--seed 0]
        [--systems mlpilot,flaml,floor] [--bench-python PATH] [--mlpilot-python PATH] [--keep]

Protocol, the same for every system:
- Read each CSV listed in INDEX.json with pandas (`sep=";"` for bank_marketing), drop rows with a missing
  target, drop the known leak columns (bank_marketing `duration`, taxis `total`) and, for classification,
  the rows of classes with fewer than 10 rows (as mlpilot does).
- One seeded split: 75% train / 25% test, stratified for classification. train.csv (with the target) and
  test_X.csv (features only) are written to a temporary folder; every system reads those same files.
- Metric per task: binary ROC AUC (higher is better), multiclass log loss and regression RMSE (lower is
  better); secondary: accuracy (classification, from each system's own `prediction`) and R2 (regression).
- mlpilot: `python -m agent.cli run train.csv --target T --task TASK --metric M --budget B --seed S --json
  --runs-dir DIR`, then `predict RUN test_X.csv --output pred.csv`; probabilities come from its
  `proba_<class>` columns, matched to the test labels by name (exactly, else after normalising quotes,
  case and number formatting, else as yes/no = true/false = 1/0). Wall time = the run command's wall clock
  (process start-up included).
- FLAML: `AutoML().fit(X, y, task=..., metric=..., time_budget=B, seed=S, verbose=0)` on the raw frame
  (text as read, ISO date columns parsed to datetime64: FLAML does its own preprocessing), then
  predict / predict_proba. Wall time = the fit call.
- Floor: `LGBMClassifier()` / `LGBMRegressor()` with default hyperparameters (only `random_state` and
  `verbose=-1` set), text as pandas `category`, datetimes as int64 epoch seconds.
- FLAML and the floor run in a worker (`_reference_worker.py`) under the benchmark venv's Python; mlpilot
  runs through its CLI under its own Python. Systems run one after another, never in parallel.
- Ties: |diff| < 0.001 for ROC AUC and log loss, < 0.1% of the reference for RMSE.
- A system that fails on a dataset gets its error in the row; the benchmark goes on.

Output: a markdown table on stdout and the rows as JSON in benchmarks/results/bench-<budget>s-<stamp>.json
(written after every dataset, so an interrupted run keeps what it finished).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "_reference_worker.py"
RESULTS = HERE / "results"

READ_OPTIONS: dict[str, dict[str, Any]] = {"bank_marketing": {"sep": ";"}}
# Columns known only after the fact; mlpilot would drop them itself, the references would not.
LEAKS: dict[str, list[str]] = {"bank_marketing": ["duration"], "taxis": ["total"]}
METRIC_FOR_TASK = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
HIGHER_IS_BETTER = {"roc_auc": True, "log_loss": False, "rmse": False}
MIN_CLASS_ROWS = 10
SYSTEMS = ("mlpilot", "flaml", "floor")
LOG_LOSS_EPS = 1e-15


class BenchError(Exception):
    """A failure of one system on one dataset: recorded in the row, never fatal."""


@dataclass
class Dataset:
    name: str
    file: Path
    target: str
    task: str


@dataclass
class Split:
    train_csv: Path
    test_x_csv: Path
    y_test: pd.Series
    classes: list[str]  # training labels as strings (classification), sorted
    positive: str | None  # the class whose probability ROC AUC ranks (binary)
    n_train: int
    n_test: int
    notes: list[str] = field(default_factory=list)


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


# ---------------------------------------------------------------------------------------------- data


def default_datasets_dir() -> Path:
    return ROOT.parent / "shared" / "datasets"


def load_index(folder: Path) -> list[Dataset]:
    entries = json.loads((folder / "INDEX.json").read_text())
    return [Dataset(Path(e["file"]).stem, folder / e["file"], e["target"], e["task"]) for e in entries]


def prepare_split(ds: Dataset, workdir: Path, seed: int) -> Split:
    """Clean, split and write the files every system reads; return the test labels to score against."""
    df = pd.read_csv(ds.file, **READ_OPTIONS.get(ds.name, {}))
    notes = []
    missing = int(df[ds.target].isna().sum())
    if missing:
        df = df.dropna(subset=[ds.target])
        notes.append(f"dropped {missing} rows with a missing target")
    leaks = [c for c in LEAKS.get(ds.name, []) if c in df.columns]
    if leaks:
        df = df.drop(columns=leaks)
        notes.append(f"dropped leak column(s) {', '.join(leaks)}")
    stratify = None
    if ds.task != "regression":
        counts = df[ds.target].value_counts()
        rare = counts[counts < MIN_CLASS_ROWS]
        if len(rare):
            df = df[~df[ds.target].isin(rare.index)]
            notes.append("dropped rare classes " + ", ".join(f"{k!s} ({v} rows)" for k, v in rare.items()))
        stratify = df[ds.target]
    train, test = train_test_split(df, test_size=0.25, random_state=seed, stratify=stratify)
    workdir.mkdir(parents=True, exist_ok=True)
    train_csv, test_csv, test_x_csv = workdir / "train.csv", workdir / "test.csv", workdir / "test_X.csv"
    train.to_csv(train_csv, index=False)
    test.to_csv(test_csv, index=False)
    test.drop(columns=[ds.target]).to_csv(test_x_csv, index=False)
    # Score against the labels as read back from the files, i.e. exactly as the systems see them.
    y_train = pd.read_csv(train_csv)[ds.target]
    y_test = pd.read_csv(test_csv)[ds.target]
    classes: list[str] = []
    positive = None
    if ds.task != "regression":
        classes = sorted(y_train.astype(str).unique())
        if ds.task == "binary":
            # AUC does not depend on which class is "positive"; the minority one reads most naturally.
            counts = y_train.astype(str).value_counts()
            positive = min(classes, key=lambda c: (counts[c], c))
    return Split(train_csv, test_x_csv, y_test, classes, positive, len(train), len(test), notes)


# ------------------------------------------------------------------------------------------- running


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
    res = SystemResult(system)
    pred_csv, meta_json = workdir / f"{system}-pred.csv", workdir / f"{system}-meta.json"
    cmd = [python, str(WORKER), "--system", system, "--train", str(split.train_csv), "--test",
           str(split.test_x_csv), "--target", ds.target, "--task", ds.task, "--metric", metric,
           "--budget", f"{budget:g}", "--seed", str(seed), "--pred-out", str(pred_csv),
           "--meta-out", str(meta_json)]
    timeout = budget * 4 + 300 if system == "flaml" else 900
    done = run_command(cmd, timeout=timeout, cwd=workdir)
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


# ------------------------------------------------------------------------------------------- scoring


def _canon(value: Any) -> str:
    """A label as text without quoting, case or number-format differences ("'1'", "1.0", 1 -> "1")."""
    s = str(value).strip()
    while len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1].strip()
    try:
        number = float(s)
    except ValueError:
        return s.lower()
    if math.isfinite(number) and number == int(number):
        return str(int(number))
    return repr(number)


_TRUE = {"true", "yes", "t", "y", "1"}
_FALSE = {"false", "no", "f", "n", "0"}


def _canon_bool(value: Any) -> str:
    s = _canon(value)
    return "true" if s in _TRUE else "false" if s in _FALSE else s


def match_labels(labels: list[str], names: list[str]) -> tuple[dict[str, str], Callable[[Any], str]]:
    """Map each test label to one proba-column class name, trying stricter normalisations first."""
    for norm in (str, _canon, _canon_bool):
        by_label = {norm(label): label for label in labels}
        by_name: dict[str, str] = {}
        for name in names:
            by_name.setdefault(norm(name), name)
        if len(by_label) != len(labels) or len(by_name) != len(names):
            continue  # this normalisation merges distinct classes: not safe
        if all(key in by_name for key in by_label):
            return {label: by_name[norm(label)] for label in labels}, norm
    raise BenchError(f"cannot match test classes {labels} to proba columns {names}")


def score(pred: pd.DataFrame, split: Split, task: str) -> tuple[float, dict[str, float], str | None]:
    """The primary metric, the secondary ones, and how class names were matched (classification)."""
    y = split.y_test
    if len(pred) != len(y):
        raise BenchError(f"{len(pred)} predictions for {len(y)} test rows")
    if task == "regression":
        p = pd.to_numeric(pred["prediction"], errors="coerce").to_numpy(dtype="float64")
        if np.isnan(p).any():
            raise BenchError(f"{int(np.isnan(p).sum())} missing predictions")
        t = y.to_numpy(dtype="float64")
        sse = float(np.sum((t - p) ** 2))
        sst = float(np.sum((t - t.mean()) ** 2))
        return math.sqrt(sse / len(t)), {"r2": 1 - sse / sst, "mae": float(np.mean(np.abs(t - p)))}, None
    names = [c[len("proba_"):] for c in pred.columns if c.startswith("proba_")]
    if not names:
        raise BenchError(f"no proba_<class> columns in predictions (columns: {list(pred.columns)})")
    mapping, norm = match_labels(split.classes, names)
    matched = {str: "exact", _canon: "normalised", _canon_bool: "as booleans"}[norm]
    proba = np.column_stack([pd.to_numeric(pred[f"proba_{mapping[c]}"], errors="coerce").to_numpy("float64")
                             for c in split.classes])
    if np.isnan(proba).any():
        raise BenchError("missing probabilities")
    y_str = y.astype(str)
    index = y_str.map({c: i for i, c in enumerate(split.classes)})
    if index.isna().any():
        raise BenchError(f"test labels not seen in training: {sorted(set(y_str[index.isna()]))}")
    idx = index.to_numpy(dtype="int64")
    accuracy = float(np.mean(pred["prediction"].map(norm).to_numpy() == y_str.map(norm).to_numpy()))
    if task == "binary":
        pos = split.classes.index(split.positive)
        return float(roc_auc_score(idx == pos, proba[:, pos])), {"accuracy": accuracy}, matched
    # Log loss by hand (clip, renormalise): the same for every system whatever sklearn version is about.
    clipped = np.clip(proba, LOG_LOSS_EPS, 1.0)
    clipped /= clipped.sum(axis=1, keepdims=True)
    logloss = float(-np.mean(np.log(clipped[np.arange(len(idx)), idx])))
    return logloss, {"accuracy": accuracy}, matched


def compare(ours: float | None, ref: float | None, metric: str) -> tuple[str | None, float | None]:
    """("win" | "tie" | "loss", signed gain for mlpilot), or (None, None) when either side is missing.

    The gain is in metric units for AUC and log loss, in percent of the reference for RMSE.
    """
    if ours is None or ref is None:
        return None, None
    if metric == "rmse":
        gain = (ref - ours) / ref * 100 if ref else 0.0
        tie = abs(gain) < 0.1
    else:
        gain = ours - ref if HIGHER_IS_BETTER[metric] else ref - ours
        tie = abs(gain) < 0.001
    return ("tie" if tie else "win" if gain > 0 else "loss"), gain


# ------------------------------------------------------------------------------------------- output


def within_wall(seconds: float | None, budget: float) -> bool | None:
    return None if seconds is None else seconds <= budget * 1.1 + 10


def _fmt_score(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if metric == "rmse" and abs(value) >= 100 else f"{value:.4f}"


def _cell(row: dict, system: str) -> str:
    res = row["systems"].get(system)
    if res is None:
        return "-"
    if res["error"]:
        return "**error**"
    return _fmt_score(res["score"], row["metric"])


def _verdict(row: dict, key: str) -> str:
    outcome, gain = row[key], row[key + "_gain"]
    if outcome is None:
        return "-"
    # Signed gain for mlpilot: metric units for AUC / log loss, percent of the reference for RMSE.
    amount = f"{gain:+.2f}%" if row["metric"] == "rmse" else f"{gain:+.4f}"
    return f"{outcome} ({amount})"


def render(rows: list[dict], budget: float, systems: list[str]) -> str:
    arrow = {True: "↑", False: "↓"}
    lines = [f"### mlpilot vs FLAML vs default LightGBM, budget {budget:g} s", "",
             "| dataset | task | metric | mlpilot | FLAML | floor | mlpilot wall s | FLAML wall s | vs FLAML |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in rows:
        ml, fl = row["systems"].get("mlpilot"), row["systems"].get("flaml")
        ml_wall = "-" if ml is None or ml["wall_seconds"] is None else f"{ml['wall_seconds']:.1f}"
        if ml is not None and row["mlpilot_within_wall"] is False:
            ml_wall += " (over)"
        fl_wall = "-" if fl is None or fl["wall_seconds"] is None else f"{fl['wall_seconds']:.1f}"
        lines.append(f"| {row['dataset']} | {row['task']} | {row['metric']} {arrow[row['higher_is_better']]} | "
                     f"{_cell(row, 'mlpilot')} | {_cell(row, 'flaml')} | {_cell(row, 'floor')} | "
                     f"{ml_wall} | {fl_wall} | {_verdict(row, 'vs_flaml')} |")
    lines += ["", summary_line(rows, budget, systems), "",
              "Secondary (accuracy for classification, R2 for regression) and chosen models:", "",
              "| dataset | mlpilot | FLAML | floor | mlpilot model | FLAML model | mlpilot status |",
              "| --- | ---: | ---: | ---: | --- | --- | --- |"]
    for row in rows:
        key = "r2" if row["task"] == "regression" else "accuracy"
        cells = []
        for system in SYSTEMS:
            res = row["systems"].get(system)
            value = None if res is None else res["secondary"].get(key)
            cells.append("-" if value is None else f"{value:.4f}")
        ml, fl = row["systems"].get("mlpilot") or {}, row["systems"].get("flaml") or {}
        extra = ml.get("extra", {})
        status = f"{extra.get('status') or '?'} (exit {extra.get('exit_code')})" if ml else "-"
        lines.append(f"| {row['dataset']} ({key}) | {' | '.join(cells)} | {ml.get('model') or '-'} | "
                     f"{fl.get('model') or '-'} | {status} |")
    sources: dict[str, list[str]] = {}
    for row in rows:
        source = (row["systems"].get("mlpilot") or {}).get("extra", {}).get("source")
        if source:
            sources.setdefault(source, []).append(row["dataset"])
    if len(sources) > 1:
        lines += ["", f"Warning: mlpilot's source changed during the benchmark ({len(sources)} versions): "
                  + "; ".join(f"{h}: {', '.join(names)}" for h, names in sources.items())]
    problems = [(row["dataset"], system, res) for row in rows for system, res in row["systems"].items()
                if res["error"] or res["notes"]]
    if problems:
        lines += ["", "Errors and notes:", ""]
        for dataset, system, res in problems:
            text = "; ".join(([f"ERROR {res['error']}"] if res["error"] else []) + res["notes"])
            lines.append(f"- {dataset} / {system}: {text}")
    return "\n".join(lines)


def summary_line(rows: list[dict], budget: float, systems: list[str]) -> str:
    n = len(rows)
    parts = []
    if "mlpilot" in systems and "flaml" in systems:
        wins = sum(r["vs_flaml"] == "win" for r in rows)
        ties = sum(r["vs_flaml"] == "tie" for r in rows)
        parts.append(f"mlpilot >= FLAML on {wins + ties} of {n} ({wins} better, {ties} ties)")
    if "mlpilot" in systems and "floor" in systems:
        wins = sum(r["vs_floor"] == "win" for r in rows)
        ties = sum(r["vs_floor"] == "tie" for r in rows)
        parts.append(f"above the floor on {wins} of {n} ({ties} ties)")
    if "mlpilot" in systems:
        ok = sum(r["mlpilot_within_wall"] is True for r in rows)
        parts.append(f"mlpilot wall within budget x 1.1 + 10 s ({budget * 1.1 + 10:.0f} s) on {ok} of {n}")
    return "Summary: " + ("; ".join(parts) or "nothing to compare (mlpilot not run)") + "."


# ---------------------------------------------------------------------------------------------- main


def _first_existing(candidates: list[Path], fallback: str) -> str:
    for path in candidates:
        if path.exists():
            return str(path)
    return fallback


def _git_state() -> dict[str, Any]:
    # Read-only look at which mlpilot was measured.
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def source_fingerprint() -> str:
    """A short hash of mlpilot's source (agent/, tools/, prompts/) as it is now.

    mlpilot may be edited while a long benchmark runs; each run imports the code afresh, so the hash is
    taken per run and the report warns when it differs between datasets.
    """
    digest = hashlib.sha256()
    for folder in ("agent", "tools", "prompts"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def bench_one(ds: Dataset, args: argparse.Namespace, systems: list[str], workdir: Path) -> dict:
    metric = METRIC_FOR_TASK[ds.task]
    row: dict[str, Any] = {"dataset": ds.name, "task": ds.task, "metric": metric,
                           "higher_is_better": HIGHER_IS_BETTER[metric], "systems": {}}
    try:
        split = prepare_split(ds, workdir, args.seed)
    except Exception as exc:  # a broken dataset must not stop the others
        row["split_error"] = f"{type(exc).__name__}: {exc}"
        for system in systems:
            row["systems"][system] = asdict(SystemResult(system, error=f"split failed: {exc}"))
        split = None
    if split is not None:
        row.update({"n_train": split.n_train, "n_test": split.n_test, "split_notes": split.notes,
                    "classes": split.classes, "positive": split.positive})
        for system in systems:
            load = os.getloadavg()[0]
            res: SystemResult | None = None
            try:
                if system == "mlpilot":
                    source = source_fingerprint()
                    res, pred = run_mlpilot(ds, split, metric, args.budget, args.seed, args.mlpilot_python,
                                            workdir, shlex.split(args.mlpilot_args))
                else:
                    res, pred = run_reference(system, ds, split, metric, args.budget, args.seed,
                                              args.bench_python, workdir)
                if system == "mlpilot":
                    res.extra["source"] = source
                if pred is not None:
                    res.score, res.secondary, matched = score(pred, split, ds.task)
                    if matched:
                        res.extra["class_names_matched"] = matched
            except Exception as exc:  # one system's failure is a cell, not the end of the benchmark
                res = res if res is not None else SystemResult(system)
                res.error = f"{type(exc).__name__}: {exc}"
            res.extra["load_before"] = round(load, 2)
            row["systems"][system] = asdict(res)
            wall = "-" if res.wall_seconds is None else f"{res.wall_seconds:.1f} s"
            shown = res.error or f"{metric} {_fmt_score(res.score, metric)}"
            print(f"  {system:8s} {wall:>9s}  {shown}", file=sys.stderr, flush=True)
    ml = row["systems"].get("mlpilot")
    ours = ml["score"] if ml else None
    for key, ref in (("vs_flaml", "flaml"), ("vs_floor", "floor")):
        other = row["systems"].get(ref)
        row[key], row[key + "_gain"] = compare(ours, other["score"] if other else None, metric)
    row["mlpilot_within_wall"] = within_wall(ml["wall_seconds"], args.budget) if ml else None
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=60, help="seconds per system per dataset (default 60)")
    p.add_argument("--datasets", default="", help="comma-separated subset, e.g. titanic,abalone (default all)")
    p.add_argument("--seed", type=int, default=0, help="split and systems' seed (default 0)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="subset of mlpilot,flaml,floor")
    p.add_argument("--bench-python", default=_first_existing(
        [ROOT / ".venv-bench" / "bin" / "python", ROOT.parent / ".venv-bench" / "bin" / "python"], ""),
        help="Python of the venv with FLAML and LightGBM (default: .venv-bench here or one folder up)")
    p.add_argument("--mlpilot-python", default=_first_existing(
        [ROOT / ".venv" / "bin" / "python", ROOT.parent / ".venv" / "bin" / "python"], sys.executable),
        help="Python with mlpilot installed (default: .venv here or one folder up)")
    p.add_argument("--datasets-dir", type=Path, default=default_datasets_dir())
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (splits, run folders, logs)")
    p.add_argument("--mlpilot-args", default="", help="extra options for mlpilot run, e.g. '--n-jobs 2'")
    args = p.parse_args(argv)

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        p.error(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    if {"flaml", "floor"} & set(systems) and not (args.bench_python and Path(args.bench_python).exists()):
        p.error("no benchmark venv: python3 -m venv ../.venv-bench && ../.venv-bench/bin/pip install -r "
                "benchmarks/requirements-flaml.txt (or pass --bench-python)")
    datasets = load_index(args.datasets_dir)
    if args.datasets:
        wanted = [d.strip() for d in args.datasets.split(",") if d.strip()]
        names = {d.name for d in datasets}
        missing = [w for w in wanted if w not in names]
        if missing:
            p.error(f"unknown dataset(s) {', '.join(missing)}; known: {', '.join(sorted(names))}")
        datasets = [d for d in datasets if d.name in wanted]

    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out_json = args.results_dir / f"bench-{args.budget:g}s-{stamp}.json"
    tmp = Path(tempfile.mkdtemp(prefix="mlpilot-bench-"))
    meta = {"budget": args.budget, "seed": args.seed, "systems": systems, "started": stamp,
            "mlpilot_python": args.mlpilot_python, "mlpilot_args": args.mlpilot_args,
            "bench_python": args.bench_python,
            "mlpilot_git": _git_state(), "host": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "tie_rule": "|diff| < 0.001 for roc_auc and log_loss; < 0.1% of the reference for rmse"}
    rows: list[dict] = []
    try:
        for i, ds in enumerate(datasets, 1):
            print(f"[{i}/{len(datasets)}] {ds.name} ({ds.task}, target {ds.target})", file=sys.stderr, flush=True)
            rows.append(bench_one(ds, args, systems, tmp / ds.name))
            out_json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, default=str))
    finally:
        meta["finished"] = time.strftime("%Y%m%d-%H%M%S")
        out_json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, default=str))
        if args.keep:
            print(f"kept work folder {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    table = render(rows, args.budget, systems)
    out_json.with_suffix(".md").write_text(table + "\n")
    print(table)
    print(f"\nresults: {out_json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
