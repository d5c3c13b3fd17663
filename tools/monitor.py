"""Checking a new batch against a run's reference: feature drift weighed by importance, prediction
drift, data quality and, when the batch carries the target, performance against the holdout.

This module measures; the verdict (ok / warn / retrain) is a decision made by the agent from these
figures. Feature drift is weighted by each feature's share of the model's permutation importance, so a
shift in a column the model ignores counts for little.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tools.drift import ColumnCheck, check_column
from tools.evaluate import usable_labels
from tools.metrics import get_metric, report_metrics
from tools.reference import bootstrap_spread, level_shares, numeric_summary

PSI_FULL = 0.25
SIGNIFICANT_SE = 2.5
SEVERE_SE = 3.0


@dataclass
class Performance:
    """The batch's score on the plan's metric beside the holdout's, with their noise."""

    metric: str
    rows: int
    batch: float
    holdout: float
    baseline: float | None
    difference: float          # oriented: negative means worse than on the holdout
    standard_error: float
    significant: bool          # worse by more than 2.5 times the combined standard error
    lift_lost: float           # share of the holdout's gain over the baseline that is gone (0..1+)
    metrics: dict[str, float] = field(default_factory=dict)
    severe: bool = False       # worse by more than 3 times it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchCheck:
    """Everything measured on one batch."""

    rows: int
    columns: list[ColumnCheck]
    weights: dict[str, float]
    weights_note: str
    weighted_drift: float
    prediction: ColumnCheck | None
    performance: Performance | None
    notes: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[ColumnCheck]:
        return sorted((c for c in self.columns if c.drifted), key=lambda c: -self.weights.get(c.column, 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": [c.to_dict() for c in self.columns], "weights": self.weights,
                "weights_note": self.weights_note, "weighted_drift": self.weighted_drift,
                "prediction": self.prediction.to_dict() if self.prediction else None,
                "performance": self.performance.to_dict() if self.performance else None, "notes": self.notes}


def importance_weights(reference: dict) -> tuple[dict[str, float], str]:
    """Each feature's share of the model's (positive) permutation importance."""
    features = list(reference.get("features", {}))
    raw = {r["feature"]: max(float(r["mean"]), 0.0) for r in reference.get("importances", []) if r["feature"] in features}
    total = sum(raw.values())
    if total <= 0:
        equal = 1.0 / max(len(features), 1)
        return {f: equal for f in features}, "no importances were recorded: every feature weighs the same"
    return {f: raw.get(f, 0.0) / total for f in features}, "share of the model's permutation importance"


def check_batch(reference: dict, frame: pd.DataFrame, predictions: pd.DataFrame, *, labels: pd.Series | None = None,
                seed: int = 0) -> BatchCheck:
    """Measure drift, data quality and (with labels) performance of one batch.

    Args:
        reference: the run's reference.json.
        frame: the batch, conformed to the training schema.
        predictions: the run model's predictions for ``frame`` (tools.model.predict_table).
        labels: the batch's target values, when it has them.
        seed: for the bootstrap.
    """
    features = reference["features"]
    present = [f for f in features if f in frame.columns]
    checks = [check_column(features[f], frame[f].rename(f), n_columns=len(present) + 1) for f in present]
    weights, note = importance_weights(reference)
    weighted = float(sum(weights.get(c.column, 0.0) * min((c.psi or 0.0) / PSI_FULL, 1.0) for c in checks if c.drifted))
    prediction = _prediction_check(reference, predictions, len(present) + 1)
    performance = None
    notes: list[str] = []
    if labels is not None:
        performance, more = _performance(reference, predictions, labels, seed)
        notes += more
    return BatchCheck(len(frame), checks, weights, note, round(weighted, 4), prediction, performance, notes)


def _prediction_check(reference: dict, predictions: pd.DataFrame, n_columns: int) -> ColumnCheck | None:
    ref = reference.get("prediction", {})
    task = reference["task"]
    if task == "regression" and "quantiles" in ref:
        entry = {"kind": "numeric", "count": reference["holdout"]["rows"], "missing_share": 0.0, **ref}
        values = predictions["prediction"]
    elif task == "binary" and "positive_proba" in ref:
        entry = {"kind": "numeric", "count": reference["holdout"]["rows"], "missing_share": 0.0, **ref["positive_proba"]}
        positive = reference["classes"][1]
        values = predictions[f"proba_{positive}"] if f"proba_{positive}" in predictions else predictions.iloc[:, -1]
    elif "levels" in ref:
        entry = {"kind": "categorical", "count": reference["holdout"]["rows"], "missing_share": 0.0, **ref}
        values = predictions["prediction"].astype(str)
    else:
        return None
    return check_column(entry, values.rename("prediction").reset_index(drop=True), n_columns=n_columns)


def _performance(reference: dict, predictions: pd.DataFrame, labels: pd.Series, seed: int) -> tuple[Performance | None, list[str]]:
    task, metric = reference["task"], get_metric(reference["metric"])
    notes = []
    y, mask = usable_labels(labels, task, reference.get("classes"))
    if task == "regression":
        pred = predictions["prediction"].to_numpy(dtype=float)
    else:
        unseen = int(labels.notna().sum() - mask.sum())
        if unseen:
            notes.append(f"{unseen} rows have a target class the model never saw; "
                         "they are left out of the performance check")
        pred = predictions[[f"proba_{c}" for c in reference["classes"]]].to_numpy(dtype=float)
    if mask.sum() < 30:
        notes.append(f"only {int(mask.sum())} rows have a usable target: too few to judge performance")
        return None, notes
    y, pred = y[mask], pred[mask]
    value = metric(y, pred)
    holdout = reference["holdout"]
    ref_value = float(holdout["metrics"][metric.name])
    baseline = holdout["baseline"].get(metric.name)
    spread = bootstrap_spread(metric, y, pred, seed=seed)
    se = float(np.hypot(spread.get("sd", 0.0), (holdout.get("spread") or {}).get("sd", 0.0)))
    diff = metric.oriented(value) - metric.oriented(ref_value)
    lift = abs(ref_value - baseline) if baseline is not None else abs(ref_value)
    lost = max(0.0, -diff) / lift if lift > 0 else 0.0
    names = report_metrics(task, task == "regression" and bool(np.all(np.abs(y) > 1e-9)))
    every = {}
    for name in names:
        try:
            every[name] = round(float(get_metric(name)(y, pred)), 6)
        except ValueError:
            continue
    # Every batch is compared with the same holdout, whose own luck is shared by all checks of a run: the
    # bars are set high (2.5 and 3 standard errors, one-sided p of about 0.006 and 0.001) to keep a
    # lucky holdout from raising alarms batch after batch.
    return Performance(metric.name, int(mask.sum()), round(float(value), 6), ref_value, baseline, round(diff, 6),
                       round(se, 6), bool(diff < -SIGNIFICANT_SE * se), round(lost, 4), every,
                       severe=bool(diff < -SEVERE_SE * se)), notes


def prediction_summary(task: str, predictions: pd.DataFrame, classes: list) -> dict:
    """The batch's prediction distribution, in the reference's form (for the record)."""
    if task == "regression":
        return numeric_summary(predictions["prediction"].to_numpy(dtype=float))
    return level_shares(predictions["prediction"].astype(str))
