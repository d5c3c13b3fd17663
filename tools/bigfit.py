"""The final LightGBM on every training row of a big table, through LightGBM's Dask interface.

Cleaning is fitted on the in-memory sample (its levels, medians and target encodings are as good from
a few hundred thousand rows as from millions) and applied to each partition on the workers. Categorical
columns go to LightGBM as ordinal codes with ``categorical_feature``, not as pandas categories: each
partition would otherwise carry only the levels it happens to hold, and their codes would disagree.

The result is a plain scikit-learn `Pipeline` (cleaning + `LGBMClassifier` / `LGBMRegressor`), loadable
and usable without Dask or mlpilot. Classification labels are trained as class indices, because each
worker would otherwise encode the labels it holds on its own (a class missing from one worker's rows
would shift every code there); the local model is then given the original labels back.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder

from tools.preprocess import ColumnPlan, build_preprocessor
from tools.target import labels_as_written

NETWORK_MINUTES = 2
# The sklearn wrapper's label encoder (a LabelEncoder, or LightGBM's own subclass in newer releases).
_LabelEncoder = getattr(lgb.sklearn, "_LGBMLabelEncoder", None) or LabelEncoder


@dataclass
class BigFit:
    """The fitted pipeline, its boosting rounds and the seconds it took."""

    pipeline: Pipeline
    rounds: int
    seconds: float


def fit_preprocessor(plan: ColumnPlan, task: str, X: pd.DataFrame, y: np.ndarray, *, seed: int) -> Any:
    """Cleaning fitted on the in-memory rows; ordinal codes for categoricals (see the module doc)."""
    prep = build_preprocessor(plan, encoding="ordinal", task=task, seed=seed)
    prep.fit(X[plan.features], y)
    return prep


def categorical_positions(prep: Any) -> list[int]:
    """Positions of the ordinal-coded categorical columns in the cleaned output."""
    names = list(prep.get_feature_names_out())
    return [i for i, n in enumerate(names) if str(n).startswith("cat__")]


LABEL = "__mlpilot_label__"


def _features(part: pd.DataFrame, prep: Any, features: list[str]) -> pd.DataFrame:
    if not len(part):  # scikit-learn refuses no rows, and a partition may hold none after filtering
        return pd.DataFrame({str(n): pd.Series(dtype="float32") for n in prep.get_feature_names_out()},
                            index=part.index)
    # float32 halves what each worker holds (LightGBM bins the values; its thresholds sit between them).
    return prep.transform(part[features]).astype("float32")


def _matrix(part: pd.DataFrame, prep: Any, features: list[str], target: str, classes: list | None,
            specs: tuple) -> pd.DataFrame:
    """A partition as LightGBM takes it: the cleaned features and the label (class index or value), as
    float32, for the rows with a usable target (known, and a class the sample saw).

    One small float32 block per partition is all a worker keeps: features and labels taken from the typed
    rows separately kept every typed partition (text columns and all) alive until both were done, and a
    worker with 4 million rows ran out of 1.5 GB."""
    labels = labels_as_written(part[target], specs)
    if classes is None:
        values = pd.to_numeric(labels, errors="coerce").astype("float64")
        keep = np.isfinite(values.to_numpy())
    else:
        values = pd.Series(pd.Categorical(labels, categories=classes).codes, index=part.index)
        keep = (values >= 0).to_numpy()
    out = _features(part.loc[keep], prep, features)
    out[LABEL] = values[keep].to_numpy(dtype="float32")
    return out


def fit_big_lightgbm(client: Any, train: Any, *, plan: ColumnPlan, prep: Any, target: str, task: str,
                     classes: list, specs: tuple, params: dict, rounds: int, seed: int) -> BigFit:
    """Fit LightGBM with ``params`` for ``rounds`` rounds on the Dask frame ``train`` (typed rows with the
    target), cleaned by the fitted ``prep``. Rows without a usable target (missing, or a class the sample
    never saw) are left out. ``specs``: intake's column specs (labels as the file writes them)."""
    start = time.monotonic()
    labels = None if task == "regression" else list(classes)
    meta = _features(train._meta, prep, plan.features)
    meta[LABEL] = pd.Series(dtype="float32")
    matrix = train.map_partitions(_matrix, prep, plan.features, target, labels, specs, meta=meta)
    # As arrays: LightGBM concatenates a worker's parts and, from a DataFrame, copies them once more.
    names = [str(c) for c in meta.columns[:-1]]
    X = matrix[names].to_dask_array()
    y = matrix[LABEL].to_dask_array()
    if labels is not None:
        y = y.astype("int32")
    model_params = {k: v for k, v in params.items() if k != "n_estimators"}
    bagging = model_params.get("subsample", 1.0) < 1.0
    cls = lgb.DaskLGBMRegressor if task == "regression" else lgb.DaskLGBMClassifier
    extra = {"objective": "multiclass", "num_class": len(classes)} if task == "multiclass" else {}
    # time_out (minutes): a worker that dies mid-fit leaves the others waiting on its socket for this long
    # (LightGBM's default is two hours), after which the fit fails and the run keeps its sample model.
    model = cls(client=client, n_estimators=int(rounds), subsample_freq=1 if bagging else 0, random_state=seed,
                verbose=-1, deterministic=True, force_row_wise=True, time_out=NETWORK_MINUTES, **extra,
                **model_params)
    # lightgbm.dask prints its port search to stdout, which would break `mlpilot run --json`.
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(X, y, feature_name=names, categorical_feature=categorical_positions(prep) or "auto")
    local = model.to_local()
    if labels is not None:
        _give_labels(local, labels)
    return BigFit(Pipeline([("prep", prep), ("model", local)]), int(rounds), time.monotonic() - start)


def _give_labels(model: Any, classes: list) -> None:
    """Make a classifier trained on class indices answer with the labels: index i is ``classes[i]``.

    The sklearn wrapper keeps its labels in a fitted label encoder; one whose ``classes_`` are the labels
    in index order turns indices back into labels (``inverse_transform`` only indexes ``classes_``)."""
    encoder = _LabelEncoder()
    encoder.classes_ = np.asarray(classes, dtype=object if not _numeric(classes) else None)
    model._le = encoder
    model._classes = encoder.classes_
    model._n_classes = len(classes)
    model._class_map = {c: i for i, c in enumerate(classes)}


def _numeric(values: list) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values)
