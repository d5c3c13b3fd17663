"""Honest evaluation on the untouched holdout: every metric beside a dummy baseline, the confusion matrix
at the chosen threshold, and permutation importance of the raw columns.

The holdout is used here and only here; the threshold was chosen before, on out-of-fold predictions.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.inspection import permutation_importance
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score

from tools.crossval import safe_score
from tools.metrics import get_metric, labels_from_proba, report_metrics
from tools.model import ModelSpec, class_probabilities
from tools.reference import resamples


@dataclass
class Evaluation:
    """Holdout results.

    Attributes:
        n_rows: holdout rows.
        metrics: name -> value for the model.
        baseline: name -> value for the dummy baseline (class prior / mean).
        primary: the plan's metric name.
        threshold: the decision threshold used for labels (binary), else None.
        at_threshold: precision, recall, F1 of the labels at the threshold (macro for multiclass).
        confusion: {"labels": [...], "matrix": [[...]]} (rows true, columns predicted).
        importances: [{"feature", "mean", "sd"}] by decreasing mean drop of the primary metric.
        importance_note: how importances were computed (or why they were skipped).
        seconds: time spent.
    """

    n_rows: int
    metrics: dict[str, float]
    baseline: dict[str, float]
    primary: str
    threshold: float | None = None
    at_threshold: dict[str, float] = field(default_factory=dict)
    confusion: dict = field(default_factory=dict)
    importances: list[dict] = field(default_factory=list)
    importance_note: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def encode_labels(labels: pd.Series | np.ndarray, classes: list) -> np.ndarray:
    """Original labels -> indices in ``classes``.

    Raises:
        KeyError: a label that is not one of ``classes``.
    """
    codes = pd.Categorical(np.asarray(labels), categories=classes).codes.astype(int)
    if (codes < 0).any():
        raise KeyError(f"labels not among the classes {classes}: "
                       f"{sorted(map(str, set(np.asarray(labels)[codes < 0])))[:5]}")
    return codes


def usable_labels(labels: pd.Series, task: str, classes: list | None) -> tuple[np.ndarray, np.ndarray]:
    """A batch's target ready for a metric, and which rows can be scored.

    Returns (y, usable): for regression the values as floats, usable where finite; for classification the
    index of each row's class in ``classes`` (compared as text; -1 for a class the model never saw),
    usable where the label is present and known.
    """
    usable = labels.notna().to_numpy().copy()
    if task == "regression":
        y = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float)
        return y, usable & np.isfinite(y)
    index = {str(c): i for i, c in enumerate(classes or [])}
    y = np.array([index.get(v, -1) for v in labels.astype(str).str.strip()], dtype=int)
    return y, usable & (y >= 0)


def evaluate_holdout(model: Any, spec: ModelSpec, X_train: pd.DataFrame, y_train: pd.Series,
                     X_hold: pd.DataFrame, y_hold: pd.Series, *, primary: str, seed: int,
                     importance_seconds: float = 10.0, prediction: np.ndarray | None = None) -> Evaluation:
    """Score a model fitted on the training part against the holdout, beside a dummy baseline.

    Args:
        model: fitted estimator (from `tools.model.fit_model`).
        spec: its spec (task, classes, threshold).
        X_train, y_train: training part (only to fit the baseline).
        X_hold, y_hold: the holdout, original labels / values.
        primary: the plan's metric, used for permutation importance.
        seed: seed of the permutations.
        importance_seconds: time allowed for permutation importance (0 skips it).
        prediction: the model's `holdout_predictions` on ``X_hold``, when the caller has them already.
    """
    start = time.monotonic()
    task = spec.task
    allows_mape = task == "regression" and bool(np.all(np.abs(np.asarray(y_train, dtype=float)) > 1e-9))
    names = report_metrics(task, allows_mape)
    if primary not in names:
        names.append(primary)
    if task == "regression":
        y = np.asarray(y_hold, dtype=float)
        pred = holdout_predictions(model, spec, X_hold) if prediction is None else prediction
        dummy = DummyRegressor().fit(X_train.iloc[:, :1], np.asarray(y_train, dtype=float))
        base = dummy.predict(X_hold.iloc[:, :1])
        ev = Evaluation(len(y), _scores(names, y, pred), _scores(names, y, base), primary)
    else:
        y = encode_labels(y_hold, spec.classes)
        proba = holdout_predictions(model, spec, X_hold) if prediction is None else prediction
        dummy = DummyClassifier(strategy="prior").fit(X_train.iloc[:, :1], encode_labels(y_train, spec.classes))
        base = np.zeros_like(proba)
        base[:, np.asarray(dummy.classes_, dtype=int)] = dummy.predict_proba(X_hold.iloc[:, :1])
        scores = _scores(names, y, proba, spec.threshold)
        ev = Evaluation(len(y), scores, _scores(names, y, base), primary, threshold=spec.threshold)
        predicted = labels_from_proba(proba, spec.threshold)
        average = "binary" if task == "binary" else "macro"
        ev.at_threshold = {
            "precision": round(float(precision_score(y, predicted, average=average, zero_division=0)), 6),
            "recall": round(float(recall_score(y, predicted, average=average, zero_division=0)), 6),
            "f1": round(float(f1_score(y, predicted, average=average, zero_division=0)), 6),
        }
        ev.confusion = {"labels": [str(c) for c in spec.classes],
                        "matrix": confusion_matrix(y, predicted, labels=list(range(len(spec.classes)))).tolist()}
    if importance_seconds > 0:
        ev.importances, ev.importance_note = _importances(model, spec, X_hold, y, primary, seed,
                                                          importance_seconds)
    else:
        ev.importance_note = "skipped: no time left in the budget"
    ev.seconds = round(time.monotonic() - start, 3)
    return ev


def paired_gap(metric: Any, y: np.ndarray, new: np.ndarray, old: np.ndarray, *, n: int = 300,
               seed: int = 0, seconds: float = 3.0) -> dict:
    """How much better ``new`` predictions score than ``old`` on the same rows (oriented so that positive
    favours ``new``), with the 5-95% interval of that difference over paired bootstrap resamples (``n``,
    or as many as ``seconds`` allow on a big holdout, but at least 50)."""
    diff = metric.oriented(metric(y, new)) - metric.oriented(metric(y, old))
    diffs: list[float] = []
    for idx in resamples(len(y), n=n, seed=seed, seconds=seconds):
        try:
            diffs.append(metric.oriented(metric(y[idx], new[idx])) - metric.oriented(metric(y[idx], old[idx])))
        except ValueError:
            continue
    low, high = (float(np.quantile(diffs, 0.05)), float(np.quantile(diffs, 0.95))) if diffs else (diff, diff)
    return {"difference": float(diff), "p05": low, "p95": high, "n": len(diffs)}


def holdout_predictions(model: Any, spec: ModelSpec, X: pd.DataFrame) -> np.ndarray:
    """Values (regression) or class probabilities in the spec's class order, as metrics take them."""
    if spec.task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    return class_probabilities(model, X, spec)


def _scores(names: list[str], y: np.ndarray, pred: np.ndarray, threshold: float | None = None) -> dict[str, float]:
    out = {}
    for name in names:
        metric = get_metric(name)
        if not metric.threshold_free and threshold is not None and pred.ndim == 2 and pred.shape[1] == 2:
            # Hard-label metrics are reported at the chosen threshold, as the model will be used.
            value = safe_score(metric, y, np.column_stack([1 - (pred[:, 1] >= threshold), pred[:, 1] >= threshold]))
        else:
            value = safe_score(metric, y, pred)
        out[name] = round(float(value), 6) if np.isfinite(value) else float("nan")
    return out


def _importances(model: Any, spec: ModelSpec, X: pd.DataFrame, y: np.ndarray, primary: str, seed: int,
                 seconds: float) -> tuple[list[dict], str]:
    metric = get_metric(primary)
    features = list(X.columns)

    def scorer(est: Any, X_: pd.DataFrame, y_: np.ndarray) -> float:
        if spec.task == "regression":
            pred = np.asarray(est.predict(X_), dtype=float)
        else:
            pred = class_probabilities(est, X_, spec)
            if not metric.threshold_free and spec.threshold is not None and pred.shape[1] == 2:
                hard = pred[:, 1] >= spec.threshold
                pred = np.column_stack([1 - hard, hard]).astype(float)
        return metric.oriented(safe_score(metric, y_, pred))

    # Time one scoring pass to size the work: repeats x features passes must fit the allowance.
    t0 = time.monotonic()
    scorer(model, X, y)
    one = max(time.monotonic() - t0, 1e-3)
    rows = len(X)
    repeats = 5
    while repeats > 1 and one * repeats * len(features) > seconds:
        repeats -= 1
    if one * repeats * len(features) > seconds:
        rows = max(200, int(rows * seconds / (one * len(features))))
        rows = min(rows, len(X))
    if one * (rows / len(X)) * len(features) > seconds * 1.5:
        return [], f"skipped: about {one * len(features):.0f} s needed, {seconds:.0f} s left"
    result = permutation_importance(model, X, y, scoring=scorer, n_repeats=repeats, random_state=seed,
                                    max_samples=rows if rows < len(X) else 1.0)
    order = np.argsort(-result.importances_mean)
    rows_note = f" on {rows} sampled rows" if rows < len(X) else ""
    note = (f"drop in holdout {metric.label} when one column is shuffled, {repeats} repeats{rows_note}; "
            "larger means the model relies on it more")
    return [{"feature": features[i], "mean": round(float(result.importances_mean[i]), 6),
             "sd": round(float(result.importances_std[i]), 6)} for i in order], note
