"""How to spend two cores on cross-validation: folds side by side (one thread each), or one fold at a time
with every thread, against one core.

Run: `python benchmarks/bench_cores.py [--repeats 3] [--n-jobs 2]`. For each dataset and candidate it
cross-validates the candidate's defaults (5 folds) in three ways, interleaved `--repeats` times so that
other load on the machine touches each alike, and prints the median wall time of each way and the
speed-up over one core. mlpilot's default (issue 10, Deliver 1) is the faster of the two ways that use
every core.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.candidates import get_candidate  # noqa: E402
from tools.crossval import TrainingData, cross_validate, make_folds  # noqa: E402
from tools.metrics import get_metric  # noqa: E402
from tools.preprocess import ColumnPlan  # noqa: E402

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
# Numeric tables of different sizes and tasks (no column plan needed beyond "numeric").
TABLES = {"segment.csv": ("class", "multiclass"), "phoneme.csv": ("class", "binary"),
          "mammography.csv": ("class", "binary"), "california_housing.csv": ("median_house_value", "regression")}
CANDIDATES = ("lightgbm", "catboost", "extra_trees", "hist_gb")
METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def load(name: str, target: str, task: str) -> TrainingData:
    frame = pd.read_csv(DATASETS / name)
    labels = frame.pop(target)
    frame = frame.select_dtypes("number")
    if task == "regression":
        y = labels.to_numpy(dtype=float)
        classes: list = []
    else:
        values = sorted(labels.unique())
        y = labels.map({v: i for i, v in enumerate(values)}).to_numpy()
        classes = list(range(len(values)))
    plan = ColumnPlan(numeric=list(frame.columns))
    return TrainingData(frame, y, task, classes, plan, make_folds(y, task, n_folds=5, seed=0), seed=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    ways = {"one core": (1, True), f"{args.n_jobs} folds side by side": (args.n_jobs, True),
            f"one fold at a time, {args.n_jobs} threads": (args.n_jobs, False)}
    print(f"| table | rows | candidate | {' | '.join(ways)} | side by side vs threads |")
    print("| --- | ---: | --- |" + " ---: |" * (len(ways) + 1))
    for name, (target, task) in TABLES.items():
        data = load(name, target, task)
        metric = get_metric(METRIC[task])
        for cand_name in CANDIDATES:
            cand = get_candidate(cand_name)
            params = cand.defaults(len(data.y), data.n_features, task)
            cross_validate(cand, params, data, metric, n_jobs=1)  # fills the preprocessing cache for all ways
            times: dict[str, list[float]] = {w: [] for w in ways}
            for _ in range(args.repeats):
                for way, (jobs, side) in ways.items():
                    start = time.perf_counter()
                    cross_validate(cand, params, data, metric, n_jobs=jobs, side_by_side=side)
                    times[way].append(time.perf_counter() - start)
            med = {w: statistics.median(t) for w, t in times.items()}
            base = med["one core"]
            cells = [f"{m:.2f} s (x{base / m:.2f})" for m in med.values()]
            side, threads = list(med.values())[1:]
            print(f"| {name.removesuffix('.csv')} | {len(data.y):,} | {cand_name} | {' | '.join(cells)} | "
                  f"x{threads / side:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
