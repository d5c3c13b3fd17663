"""Benchmark mlpilot side by side with FLAML, AutoGluon and a default-LightGBM floor on shared/datasets.

Setup (once): each reference lives in its own virtualenv beside the repository, never in mlpilot's
dependencies. From the repository root (see the script's header for its settings):

    benchmarks/setup_references.sh          # ../.venv-flaml (FLAML, the floor) and ../.venv-autogluon

Run (from the repository root; any Python with pandas, numpy and scikit-learn can drive it):

    .venv/bin/python benchmarks/bench_datasets.py [--budget 60] [--datasets titanic,abalone] [--seed 0]
        [--systems mlpilot,flaml,autogluon,autogluon_best,floor] [--flaml-python PATH]
        [--autogluon-python PATH] [--mlpilot-python PATH] [--keep]
    .venv/bin/python benchmarks/bench_datasets.py --render benchmarks/results/bench-60s-<stamp>.json

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
- AutoGluon (`autogluon`: preset medium_quality, its default; `autogluon_best`: best_quality):
  `TabularPredictor(label, eval_metric=roc_auc | log_loss | root_mean_squared_error, problem_type=TASK,
  path=<temp>, verbosity=0, learner_kwargs={"random_state": S}).fit(train, time_limit=B, presets=P,
  ag_args_ensemble={"model_random_seed": S})` on the same frame as FLAML, all cores (its default), then
  predict / predict_proba. Wall time = the fit call; AutoGluon's time limit is soft, so it can overrun.
- Floor: `LGBMClassifier()` / `LGBMRegressor()` with default hyperparameters (only `random_state` and
  `verbose=-1` set), text as pandas `category`, datetimes as int64 epoch seconds.
- The references run in a worker (`_reference_worker.py`) under their own venv's Python (FLAML and the
  floor under --flaml-python, AutoGluon under --autogluon-python); mlpilot runs through its CLI under its
  own Python. Systems run one after another, never in parallel.
- Ties: |diff| < 0.001 for ROC AUC and log loss, < 0.1% of the reference for RMSE.
- Ranks per dataset: 1 is the best; systems that tie with the best of a group share the group's average
  place; a system that failed ranks last (failures share the last places). Summary: mean rank per
  system, mlpilot's wins / ties / losses against each other system (a failure loses to a score), and on
  how many datasets mlpilot is within 1% (ROC AUC) / 3% (log loss, RMSE) of the best other system.
- A system that fails on a dataset gets its error in the row; the benchmark goes on.

Output: a markdown table on stdout and the rows as JSON in benchmarks/results/bench-<budget>s-<stamp>.json
(written after every dataset, so an interrupted run keeps what it finished).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchlib.data import HIGHER_IS_BETTER, METRIC_FOR_TASK, Dataset, load_index, prepare_split
from benchlib.report import fmt_score, render, wall_limit
from benchlib.scoring import TIE_RULE, compare, gap_to_best, rank, score
from benchlib.systems import SYSTEMS, VENV_OF, SystemResult, run_mlpilot, run_reference

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"


def default_datasets_dir() -> Path:
    return ROOT.parent / "shared" / "datasets"


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
    """Split one dataset, run every system on it one after another, score, rank and compare them."""
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
                    res.extra["source"] = source
                else:
                    res, pred = run_reference(system, ds, split, metric, args.budget, args.seed,
                                              args.python_for[VENV_OF[system]], workdir)
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
            shown = res.error or f"{metric} {fmt_score(res.score, metric)}"
            print(f"  {system:14s} {wall:>9s}  {shown}", file=sys.stderr, flush=True)
    scores = {system: res["score"] for system, res in row["systems"].items()}
    if any(value is not None for value in scores.values()):
        row["ranks"] = rank(scores, metric)
    limit = wall_limit(args.budget)
    row["within_wall"] = {system: None if res["wall_seconds"] is None else res["wall_seconds"] <= limit
                          for system, res in row["systems"].items()}
    if "mlpilot" in scores:  # mlpilot against each other system, and against the best of them
        ours = scores["mlpilot"]
        row["vs"] = {}
        for ref in systems:
            if ref != "mlpilot":
                outcome, gain = compare(ours, scores[ref], metric)
                row["vs"][ref] = {"outcome": outcome, "gain": gain}
        others = [v for s, v in scores.items() if s != "mlpilot" and v is not None]
        if others:
            best = max(others) if HIGHER_IS_BETTER[metric] else min(others)
            row["best_other"] = best
            row["mlpilot_gap_to_best"] = None if ours is None else gap_to_best(ours, others, metric)
    return row


def _venv_python(name: str) -> str:
    """The reference venv's Python where setup_references.sh puts it (beside the repository), if it exists."""
    old = [ROOT / ".venv-bench" / "bin" / "python", ROOT.parent / ".venv-bench" / "bin" / "python"]
    return _first_existing([ROOT.parent / f".venv-{name}" / "bin" / "python", ROOT / f".venv-{name}" / "bin"
                            / "python", *(old if name == "flaml" else [])], "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=60, help="seconds per system per dataset (default 60)")
    p.add_argument("--datasets", default="", help="comma-separated subset, e.g. titanic,abalone (default all)")
    p.add_argument("--seed", type=int, default=0, help="split and systems' seed (default 0)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"subset of {','.join(SYSTEMS)} (default all)")
    # --bench-python is this option's name from before AutoGluon had a venv of its own.
    p.add_argument("--flaml-python", "--bench-python", dest="flaml_python", default=_venv_python("flaml"),
                   help="Python of the venv with FLAML and LightGBM (flaml, floor); default ../.venv-flaml "
                        "(or the older ../.venv-bench)")
    p.add_argument("--autogluon-python", default=_venv_python("autogluon"),
                   help="Python of the venv with AutoGluon (autogluon, autogluon_best); default ../.venv-autogluon")
    p.add_argument("--mlpilot-python", default=_first_existing(
        [ROOT / ".venv" / "bin" / "python", ROOT.parent / ".venv" / "bin" / "python"], sys.executable),
        help="Python with mlpilot installed (default: .venv here or one folder up)")
    p.add_argument("--datasets-dir", type=Path, default=default_datasets_dir())
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (splits, run folders, logs)")
    p.add_argument("--mlpilot-args", default="", help="extra options for mlpilot run, e.g. '--n-jobs 2'")
    p.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                   help="print the tables of an earlier results file and stop (runs nothing)")
    args = p.parse_args(argv)
    if args.render:
        saved = json.loads(args.render.read_text())
        print(render(saved["rows"], saved["meta"]["budget"], saved["meta"]["systems"]))
        return 0

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        p.error(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    args.python_for = {"flaml": args.flaml_python, "autogluon": args.autogluon_python}
    for venv in sorted({VENV_OF[s] for s in systems if s in VENV_OF}):
        python = args.python_for[venv]
        if not (python and Path(python).exists()):
            users = ", ".join(s for s in systems if VENV_OF.get(s) == venv)
            where = python or f"{ROOT.parent / f'.venv-{venv}'}/bin/python"
            p.error(f"no {venv} venv for {users} (no {where}): run "
                    f"benchmarks/setup_references.sh {venv}, pass --{venv}-python, or leave {users} out of --systems")
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
            "flaml_python": args.flaml_python, "autogluon_python": args.autogluon_python,
            "mlpilot_git": _git_state(), "host": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "tie_rule": TIE_RULE, "wall_limit_seconds": wall_limit(args.budget)}
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
