"""Fit one reference system (FLAML or the default-LightGBM floor) on a prepared split; write its predictions.

Run by `bench_datasets.py` with the benchmark's own interpreter (the venv built from
`requirements-flaml.txt`), never with mlpilot's, so FLAML and its pins stay out of mlpilot's dependencies:

    .venv-bench/bin/python benchmarks/_reference_worker.py --system flaml --train train.csv \
        --test test_X.csv --target y --task binary --metric roc_auc --budget 60 --seed 0 \
        --pred-out pred.csv --meta-out meta.json

The predictions file has the same shape as `mlpilot predict` output (a `prediction` column and, for
classification, one `proba_<class>` column per class, in test-row order), so the parent scores every
system with one function. The meta file holds the fit wall time and what the system chose.
This file imports only pandas, numpy, lightgbm and (for FLAML) flaml: nothing from mlpilot.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# ISO-like date or date-time at the start of a value ("2019-03-23", "2019-03-23 20:21:09", "...T...").
# Deliberately narrow: only columns where nearly every value matches are treated as datetimes, so codes
# such as "0<=X<200" or "f"/"t" are never parsed as dates by accident.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")


def _is_text(series: pd.Series) -> bool:
    # pandas 3 reads strings as the `str` dtype, pandas 2 as object: accept both.
    return not pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series) \
        and not pd.api.types.is_datetime64_any_dtype(series)


def datetime_columns(frame: pd.DataFrame) -> list[str]:
    """Text columns whose non-missing values are (>= 95%) ISO dates or date-times."""
    found = []
    for name in frame.columns:
        col = frame[name]
        if not _is_text(col):
            continue
        values = col.dropna().astype(str)
        if values.empty:
            continue
        sample = values.iloc[:2000]
        if sample.map(lambda v: bool(_ISO_DATE.match(v))).mean() >= 0.95:
            found.append(name)
    return found


def parse_dates(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Turn the date-like text columns (decided on train only) into datetime64 in both frames."""
    cols = datetime_columns(train)
    train, test = train.copy(), test.copy()
    for name in cols:
        # format="ISO8601" accepts both dates and date-times; unparseable values become NaT.
        train[name] = pd.to_datetime(train[name], format="ISO8601", errors="coerce")
        test[name] = pd.to_datetime(test[name], format="ISO8601", errors="coerce")
    return train, test, cols


def floor_features(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The floor's minimal preparation: text as pandas `category`, datetimes as int64 epoch seconds.

    Test categories are set to the training categories so LightGBM sees the same codes at predict time;
    values unseen in training become missing, which LightGBM handles natively.
    """
    train, test = train.copy(), test.copy()
    for name in train.columns:
        col = train[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            for frame in (train, test):
                seconds = (frame[name] - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
                # int64 epoch seconds; float only when a NaT must stay missing (int64 has no NA).
                frame[name] = seconds.astype("int64") if seconds.notna().all() else seconds.astype("float64")
        elif pd.api.types.is_bool_dtype(col):
            train[name] = col.astype("int64")
            test[name] = test[name].astype("int64")
        elif _is_text(col):
            cats = pd.Index(sorted(col.dropna().unique()))
            train[name] = pd.Categorical(col, categories=cats)
            tcol = test[name]
            test[name] = pd.Categorical(tcol.where(tcol.isin(cats)), categories=cats)
    return train, test


def predictions_frame(model: Any, test: pd.DataFrame, task: str) -> pd.DataFrame:
    """`prediction` plus `proba_<class>` columns, like `mlpilot predict` writes."""
    out = pd.DataFrame({"prediction": model.predict(test)})
    if task != "regression":
        proba = np.asarray(model.predict_proba(test), dtype="float64")
        for i, cls in enumerate(model.classes_):
            out[f"proba_{cls}"] = proba[:, i]
    return out


def run_floor(train: pd.DataFrame, y: pd.Series, test: pd.DataFrame, task: str, seed: int) -> tuple[Any, dict]:
    import lightgbm as lgb

    xtr, xte = floor_features(train, test)
    # Default hyperparameters; only the seed (reproducibility) and silence are set.
    model = lgb.LGBMRegressor(random_state=seed, verbose=-1) if task == "regression" \
        else lgb.LGBMClassifier(random_state=seed, verbose=-1)
    start = time.perf_counter()
    model.fit(xtr, y)
    fit_seconds = time.perf_counter() - start
    return (model, xte), {"fit_seconds": fit_seconds, "model": "LGBM defaults",
                          "versions": {"lightgbm": lgb.__version__}}


def run_flaml(train: pd.DataFrame, y: pd.Series, test: pd.DataFrame, task: str, metric: str,
              budget: float, seed: int) -> tuple[Any, dict]:
    import flaml
    from flaml import AutoML

    automl = AutoML()
    flaml_task = "regression" if task == "regression" else "classification"
    start = time.perf_counter()
    # FLAML does its own preprocessing (text -> category, datetime -> parts), so it gets the raw frame.
    automl.fit(train, y, task=flaml_task, metric=metric, time_budget=budget, seed=seed, verbose=0)
    fit_seconds = time.perf_counter() - start
    import lightgbm as lgb

    info = {"fit_seconds": fit_seconds, "model": automl.best_estimator,
            "best_config": _jsonable(automl.best_config),
            "versions": {"flaml": flaml.__version__, "lightgbm": lgb.__version__}}
    return (automl, test), info


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--system", choices=["flaml", "floor"], required=True)
    p.add_argument("--train", type=Path, required=True, help="training CSV, target included")
    p.add_argument("--test", type=Path, required=True, help="test CSV, features only")
    p.add_argument("--target", required=True)
    p.add_argument("--task", choices=["binary", "multiclass", "regression"], required=True)
    p.add_argument("--metric", required=True, help="FLAML metric name: roc_auc, log_loss, rmse")
    p.add_argument("--budget", type=float, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pred-out", type=Path, required=True)
    p.add_argument("--meta-out", type=Path, required=True)
    args = p.parse_args(argv)

    train = pd.read_csv(args.train)
    test = pd.read_csv(args.test)
    y = train.pop(args.target)
    test = test[train.columns]
    train, test, dates = parse_dates(train, test)

    if args.system == "floor":
        (model, xte), meta = run_floor(train, y, test, args.task, args.seed)
    else:
        (model, xte), meta = run_flaml(train, y, test, args.task, args.metric, args.budget, args.seed)
    start = time.perf_counter()
    preds = predictions_frame(model, xte, args.task)
    meta["predict_seconds"] = time.perf_counter() - start
    meta["datetime_columns"] = dates
    meta["versions"].update({"pandas": pd.__version__, "numpy": np.__version__,
                             "python": sys.version.split()[0]})
    preds.to_csv(args.pred_out, index=False)
    args.meta_out.write_text(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
