"""What the report's holdout charts are drawn from, computed once at evaluation and saved as plain JSON
(curves.json), so a report can be rendered from the run folder alone without loading the model.

Curves are thinned to a few hundred points: enough for a chart, small in the run folder.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, precision_recall_fscore_support, roc_curve

MAX_POINTS = 200
CALIBRATION_BINS = 10
SCATTER_ROWS = 400
PD_ROWS = 200
PD_GRID = 12
PD_LEVELS = 12


def _thin(*columns: np.ndarray, keep: int = MAX_POINTS) -> list[list[float]]:
    """At most ``keep`` points of parallel arrays, always with the first and last."""
    n = len(columns[0])
    index = np.unique(np.linspace(0, n - 1, min(n, keep)).round().astype(int)) if n else np.array([], dtype=int)
    return [[round(float(c[i]), 5) for i in index] for c in columns]


def binary_curves(y: np.ndarray, positive: np.ndarray, threshold: float | None) -> dict:
    """ROC and precision-recall curves with the operating point at ``threshold``, calibration bins and
    cumulative gains (share of positives found against share of rows called, most likely first)."""
    y = np.asarray(y, dtype=int)
    out: dict[str, Any] = {}
    if 0 < y.sum() < len(y):
        fpr, tpr, _ = roc_curve(y, positive)
        precision, recall, _ = precision_recall_curve(y, positive)
        out["roc"] = dict(zip(("fpr", "tpr"), _thin(fpr, tpr)))
        out["pr"] = dict(zip(("recall", "precision"), _thin(recall[::-1], precision[::-1])))
        order = np.argsort(-positive, kind="stable")
        found = np.cumsum(y[order]) / y.sum()
        called = np.arange(1, len(y) + 1) / len(y)
        out["gains"] = dict(zip(("called", "found"), _thin(np.r_[0.0, called], np.r_[0.0, found])))
        out["base_rate"] = round(float(y.mean()), 5)
    cut = 0.5 if threshold is None else float(threshold)
    flagged = positive >= cut
    tp = int((flagged & (y == 1)).sum())
    out["operating_point"] = {
        "threshold": round(cut, 6), "flagged": int(flagged.sum()),
        "fpr": round(float((flagged & (y == 0)).sum() / max((y == 0).sum(), 1)), 5),
        "recall": round(tp / max(int(y.sum()), 1), 5),
        "precision": round(tp / max(int(flagged.sum()), 1), 5) if flagged.any() else None,
    }
    out["calibration"] = calibration_bins(y, positive)
    return out


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> dict:
    """Mean predicted probability against the observed rate, in bins of equal count."""
    order = np.argsort(p, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, max(len(p), 1))) if len(g)]
    return {"predicted": [round(float(p[g].mean()), 5) for g in groups],
            "observed": [round(float(y[g].mean()), 5) for g in groups],
            "rows": [int(len(g)) for g in groups]}


def per_class(y: np.ndarray, predicted: np.ndarray, classes: list) -> list[dict]:
    """Precision, recall, F1 and support of each class, at the labels the model gives."""
    labels = list(range(len(classes)))
    p, r, f, s = precision_recall_fscore_support(y, predicted, labels=labels, zero_division=0)
    return [{"class": str(c), "precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
             "f1": round(float(f[i]), 4), "support": int(s[i])} for i, c in enumerate(classes)]


def regression_curves(y: np.ndarray, pred: np.ndarray, seed: int = 0) -> dict:
    """A sample of predicted against actual values, and the residuals' distribution."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(y), size=min(len(y), SCATTER_ROWS), replace=False))
    residual = y - pred
    finite = residual[np.isfinite(residual)]
    # Residuals all alike (a constant error) fit in one bin; numpy cannot split a zero range into 30.
    spread = np.ptp(finite) if len(finite) else 0.0
    tiny = spread <= 1e-9 * max(1.0, float(np.abs(finite).max())) if len(finite) else True
    counts, edges = np.histogram(finite, bins=1 if tiny else 30) if len(finite) else ([], [0.0])
    return {"scatter": {"actual": [round(float(v), 5) for v in y[pick]],
                        "predicted": [round(float(v), 5) for v in pred[pick]]},
            "residuals": {"counts": [int(c) for c in counts], "edges": [round(float(e), 5) for e in edges]},
            "residual_mean": round(float(residual.mean()), 5), "rows": int(len(y))}


def partial_dependence(predict: Callable[[pd.DataFrame], np.ndarray], X: pd.DataFrame, features: list[str], *,
                       seconds: float, seed: int = 0) -> list[dict]:
    """The model's average prediction as one feature moves over its range, the others as they are
    (on a sample of rows). ``predict`` gives one value per row, or one column per class. Stops when
    ``seconds`` are spent; features not reached are left out."""
    start = time.monotonic()
    sample = X.sample(min(len(X), PD_ROWS), random_state=seed) if len(X) > PD_ROWS else X
    out = []
    for name in features:
        if time.monotonic() - start > seconds:
            break
        grid = _grid(X[name])
        if len(grid) < 2:
            continue
        means = []
        for value in grid:
            probe = sample.copy()
            probe[name] = pd.Series([value] * len(probe), index=probe.index).astype(X[name].dtype, errors="ignore")
            pred = np.asarray(predict(probe), dtype=float)
            means.append(pred.mean(axis=0).round(5).tolist())
        numeric = pd.api.types.is_numeric_dtype(X[name]) and not pd.api.types.is_bool_dtype(X[name])
        out.append({"feature": name, "numeric": bool(numeric),
                    "grid": [round(float(v), 5) if numeric else str(v) for v in grid], "mean": means})
    return out


def _grid(column: pd.Series) -> list:
    values = column.dropna()
    if values.empty:
        return []
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        grid = np.unique(np.quantile(values.astype(float), np.linspace(0.02, 0.98, PD_GRID)))
        return grid.tolist()
    return values.value_counts().index[:PD_LEVELS].tolist()


def holdout_curves(task: str, y: np.ndarray, prediction: np.ndarray, classes: list,
                   threshold: float | None) -> dict:
    """Every holdout chart's data for ``task``: ``y`` as metrics take it (values, or class indices) and
    the model's predictions (values, or probabilities in the classes' order)."""
    if task == "regression":
        return regression_curves(y, prediction)
    proba = np.asarray(prediction, dtype=float)
    y = np.asarray(y, dtype=int)
    if task == "binary":
        out = binary_curves(y, proba[:, 1], threshold)
        predicted = (proba[:, 1] >= (0.5 if threshold is None else threshold)).astype(int)
    else:
        predicted = np.argmax(proba, axis=1)
        # Several classes: is the class the model names right as often as its probability says?
        out = {"calibration": calibration_bins((predicted == y).astype(int), proba.max(axis=1))}
    out["per_class"] = per_class(y, predicted, classes)
    return out
