"""Fit one reference system (FLAML, AutoGluon or the default-LightGBM floor) on a prepared split.

Run by `bench_datasets.py` with the reference's own interpreter (the venvs that `setup_references.sh`
builds: FLAML and the floor in one, AutoGluon in another), never with mlpilot's, so no reference and none of
its pins is a dependency of mlpilot:

    ../.venv-flaml/bin/python benchmarks/_reference_worker.py --system flaml --train train.csv \
        --test test_X.csv --target y --task binary --metric roc_auc --budget 60 --seed 0 \
        --pred-out pred.csv --meta-out meta.json
    ../.venv-autogluon/bin/python benchmarks/_reference_worker.py --list-autogluon-models

The predictions file has the same shape as `mlpilot predict` output (a `prediction` column and, for
classification, one `proba_<class>` column per class, in test-row order), so the parent scores every
system with one function. The meta file holds the fit wall time and what the system chose.
This file imports only pandas and numpy at the top and each system's own packages inside its function:
nothing from mlpilot.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

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
    """`prediction` plus `proba_<class>` columns, like `mlpilot predict` writes (scikit-learn-like models)."""
    out = pd.DataFrame({"prediction": model.predict(test)})
    if task != "regression":
        proba = np.asarray(model.predict_proba(test), dtype="float64")
        for i, cls in enumerate(model.classes_):
            out[f"proba_{cls}"] = proba[:, i]
    return out


# A fitted system: a function that writes the predictions frame for the test rows, and its meta data.
Fitted = tuple[Callable[[], pd.DataFrame], dict[str, Any]]


def run_floor(train: pd.DataFrame, y: pd.Series, test: pd.DataFrame, task: str, seed: int) -> Fitted:
    import lightgbm as lgb

    xtr, xte = floor_features(train, test)
    # Default hyperparameters; only the seed (reproducibility) and silence are set.
    model = lgb.LGBMRegressor(random_state=seed, verbose=-1) if task == "regression" \
        else lgb.LGBMClassifier(random_state=seed, verbose=-1)
    start = time.perf_counter()
    model.fit(xtr, y)
    fit_seconds = time.perf_counter() - start
    return (lambda: predictions_frame(model, xte, task)), {
        "fit_seconds": fit_seconds, "model": "LGBM defaults", "versions": {"lightgbm": lgb.__version__}}


def run_flaml(train: pd.DataFrame, y: pd.Series, test: pd.DataFrame, task: str, metric: str,
              budget: float, seed: int) -> Fitted:
    import flaml
    import lightgbm as lgb
    from flaml import AutoML

    automl = AutoML()
    flaml_task = "regression" if task == "regression" else "classification"
    start = time.perf_counter()
    # FLAML does its own preprocessing (text -> category, datetime -> parts), so it gets the raw frame.
    automl.fit(train, y, task=flaml_task, metric=metric, time_budget=budget, seed=seed, verbose=0)
    fit_seconds = time.perf_counter() - start
    info = {"fit_seconds": fit_seconds, "model": automl.best_estimator,
            "best_config": _jsonable(automl.best_config),
            "versions": {"flaml": flaml.__version__, "lightgbm": lgb.__version__}}
    return (lambda: predictions_frame(automl, test, task)), info


# The benchmark's metric names in AutoGluon's words.
AUTOGLUON_METRIC = {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "root_mean_squared_error"}
# The model types that AutoGluon's medium_quality and best_quality presets ask for, with the import check
# AutoGluon itself runs before fitting each; a type whose package is missing is skipped by the preset.
AUTOGLUON_MODEL_TYPES = {"GBM": "lightgbm", "CAT": "catboost", "XGB": "xgboost", "NN_TORCH": "torch",
                         "FASTAI": "fastai", "RF": None, "XT": None}  # RF and XT are scikit-learn's


def autogluon_model_types() -> dict[str, str]:
    """Each preset model type -> "ok" or why it cannot be fitted in this interpreter."""
    from autogluon.common.utils import try_import

    found = {}
    for model_type, package in AUTOGLUON_MODEL_TYPES.items():
        try:
            if package is not None:
                getattr(try_import, f"try_import_{package}")()
            found[model_type] = "ok"
        except Exception as exc:  # ImportError, or a broken install that fails differently
            found[model_type] = f"missing: {(str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]}"
    return found


def _versions(*packages: str) -> dict[str, str | None]:
    from importlib import metadata

    found: dict[str, str | None] = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def run_autogluon(train: pd.DataFrame, y: pd.Series, test: pd.DataFrame, task: str, metric: str,
                  budget: float, seed: int, preset: str, workdir: Path) -> Fitted:
    from autogluon.tabular import TabularPredictor

    label = "__target__" if "__target__" not in train.columns else "__target_bench__"
    data = train.assign(**{label: y.to_numpy()})
    model_dir = Path(tempfile.mkdtemp(prefix=f"autogluon-{preset}-", dir=workdir))
    # learner random_state seeds the holdout split (medium) and the bagging folds (best); model_random_seed
    # the bagged models. Single models keep AutoGluon's own seed (0): its fit has no option for them.
    predictor = TabularPredictor(label=label, eval_metric=AUTOGLUON_METRIC[metric], problem_type=task,
                                 path=str(model_dir), verbosity=0, learner_kwargs={"random_state": seed})
    start = time.perf_counter()
    # num_cpus stays "auto" (all cores), as AutoGluon runs by default; the time limit is AutoGluon's own
    # (soft: it plans within it but may overrun), so the wall time recorded is the fit call's.
    predictor.fit(data, time_limit=budget, presets=preset, ag_args_ensemble={"model_random_seed": seed})
    fit_seconds = time.perf_counter() - start
    board = predictor.leaderboard(silent=True)
    head = [{"model": str(r["model"]), "score_val": _jsonable(r["score_val"]),
             "fit_time": _jsonable(r["fit_time"])} for _, r in board.head(5).iterrows()]
    info = {"fit_seconds": fit_seconds, "model": predictor.model_best, "preset": preset,
            "models_fitted": len(board), "leaderboard_head": head,
            "model_types": autogluon_model_types(),
            "versions": _versions("autogluon.tabular", "lightgbm", "catboost", "xgboost-cpu", "xgboost",
                                  "torch", "fastai", "ray")}

    def predict() -> pd.DataFrame:
        try:
            out = pd.DataFrame({"prediction": predictor.predict(test).to_numpy()})
            if task != "regression":
                proba = predictor.predict_proba(test)  # one column per class, named by the label
                for cls in proba.columns:
                    out[f"proba_{cls}"] = proba[cls].to_numpy(dtype="float64")
            return out
        finally:
            # best_quality keeps every bagged fold on disk; the benchmark needs none of it afterwards.
            shutil.rmtree(model_dir, ignore_errors=True)

    return predict, info


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


SYSTEMS = ("flaml", "floor", "autogluon", "autogluon_best")
AUTOGLUON_PRESET = {"autogluon": "medium_quality", "autogluon_best": "best_quality"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--system", choices=SYSTEMS)
    p.add_argument("--train", type=Path, help="training CSV, target included")
    p.add_argument("--test", type=Path, help="test CSV, features only")
    p.add_argument("--target")
    p.add_argument("--task", choices=["binary", "multiclass", "regression"])
    p.add_argument("--metric", choices=sorted(AUTOGLUON_METRIC), help="benchmark metric name")
    p.add_argument("--budget", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pred-out", type=Path)
    p.add_argument("--meta-out", type=Path)
    p.add_argument("--list-autogluon-models", action="store_true",
                   help="print which of the presets' model types this interpreter's AutoGluon can fit, and stop")
    args = p.parse_args(argv)
    if args.list_autogluon_models:
        for model_type, state in autogluon_model_types().items():
            print(f"{model_type:9s} {state}")
        # Not a model type: best_quality runs its DyStack sub-fit and parallel folds through it.
        print(f"{'ray':9s} {_versions('ray')['ray'] or 'missing: best_quality fits in-process and sequentially'}")
        return 0
    needed = ["system", "train", "test", "target", "task", "metric", "budget", "pred_out", "meta_out"]
    missing = [f"--{name.replace('_', '-')}" for name in needed if getattr(args, name) is None]
    if missing:
        p.error(f"missing {', '.join(missing)} (all are needed to fit a system)")

    train = pd.read_csv(args.train)
    test = pd.read_csv(args.test)
    y = train.pop(args.target)
    test = test[train.columns]
    train, test, dates = parse_dates(train, test)

    if args.system == "floor":
        predict, meta = run_floor(train, y, test, args.task, args.seed)
    elif args.system == "flaml":
        predict, meta = run_flaml(train, y, test, args.task, args.metric, args.budget, args.seed)
    else:
        predict, meta = run_autogluon(train, y, test, args.task, args.metric, args.budget, args.seed,
                                      AUTOGLUON_PRESET[args.system], args.pred_out.parent)
    start = time.perf_counter()
    preds = predict()
    meta["predict_seconds"] = time.perf_counter() - start
    meta["datetime_columns"] = dates
    meta["versions"].update({"pandas": pd.__version__, "numpy": np.__version__,
                             "python": sys.version.split()[0]})
    preds.to_csv(args.pred_out, index=False)
    args.meta_out.write_text(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
