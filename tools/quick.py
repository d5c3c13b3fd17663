"""A run's first model: LightGBM with good defaults, on as many training rows as its time allows, so that
a saved, evaluated model exists early and every later step only has to beat it.

On a table of more than `SMALL` rows the model grows: it is fitted on a small sample first, then on
samples `GROWTH` times bigger for as long as the last fit's pace says the next one ends within its
share (the total is then about a third more than the last fit alone). Each fit early-stops on a
held-back part of its sample, whose predictions also set a binary model's decision threshold for the
goal. The last fit's seconds per row tell later steps how big their own samples may be.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from tools.candidates import get_candidate
from tools.evaluate import encode_labels
from tools.model import Member, ModelSpec, class_probabilities, with_threshold
from tools.preprocess import ColumnPlan, build_preprocessor
from tools.threshold import ThresholdChoice, choose_threshold

CANDIDATE = "lightgbm"
SMALL = 20_000
START_ROWS = 2_000
GROWTH = 4
# Fixed costs per fit (binning, rounds) make small fits dearer per row, so scaling the last fit's time
# by the rows is already a pessimistic forecast of the next.
PACE_MARGIN = 1.0
VALIDATION_SHARE = 0.15
MIN_PER_CLASS = 20


@dataclass
class FirstFit:
    """The first model and what its fit measured.

    Attributes:
        model: the fitted pipeline (cleaning + LightGBM), in a threshold wrapper when one was chosen.
        spec: its spec (one LightGBM member with the rounds early stopping kept).
        rows: training rows it was fitted on (the early-stopping part included).
        of_rows: training rows there were.
        seconds: wall time of the whole fit, probe and cleaning included.
        seconds_per_row: model-fit seconds per fitted row, at these settings.
        cut: True when the deadline stopped boosting before early stopping did.
        threshold: the threshold chosen on the held-back part (binary), else None.
    """

    model: Any
    spec: ModelSpec
    rows: int
    of_rows: int
    seconds: float
    seconds_per_row: float
    cut: bool
    threshold: ThresholdChoice | None = None


def sample_rows(labels: pd.Series | np.ndarray, size: int, *, task: str, seed: int) -> np.ndarray:
    """Sorted positions of ``size`` rows drawn at random; for classes, every class keeps at least a few
    rows (all of them when it has fewer than `MIN_PER_CLASS`)."""
    n = len(labels)
    if size >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if task == "regression":
        return np.sort(rng.choice(n, size=size, replace=False))
    values = pd.Series(np.asarray(labels)).astype(str).to_numpy()
    chosen = []
    for cls in np.unique(values):
        where = np.flatnonzero(values == cls)
        chosen.append(rng.choice(where, size=min(len(where), MIN_PER_CLASS), replace=False))
    must = np.unique(np.concatenate(chosen))
    rest = np.setdiff1d(np.arange(n), must, assume_unique=True)
    extra = rng.choice(rest, size=max(0, min(len(rest), size - len(must))), replace=False)
    return np.sort(np.concatenate([must, extra]))


def fit_first_model(plan: ColumnPlan, task: str, classes: list, X: pd.DataFrame, labels: pd.Series, *,
                    threshold_rule: dict | None, seconds: float, seed: int, n_jobs: int) -> FirstFit:
    """Fit the first model within about ``seconds``.

    Args:
        plan: the column plan.
        task: binary, multiclass or regression.
        classes: original class labels in encoded order (empty for regression).
        X: raw training rows.
        labels: their original labels (or values).
        threshold_rule: the plan's threshold rule (binary).
        seconds: the time it may take.
        seed: seed of the samples and the model.
        n_jobs: threads for the model.
    """
    start = time.monotonic()
    deadline = start + max(seconds, 0.5)
    cand = get_candidate(CANDIDATE)
    params = cand.defaults(len(X), len(plan.features), task)
    n = len(X)
    rows = n if n <= SMALL else START_ROWS
    while True:
        chosen = sample_rows(labels, rows, task=task, seed=seed + 1)
        fit_idx, val_idx = _split(labels.iloc[chosen], task, seed)
        fit_rows, val_rows = chosen[fit_idx], chosen[val_idx]
        t0 = time.monotonic()
        pipe, info = _fit(plan, task, cand, params, X.iloc[fit_rows], labels.iloc[fit_rows], X.iloc[val_rows],
                          labels.iloc[val_rows], seed, n_jobs, deadline)
        fit_seconds = time.monotonic() - t0
        bigger = min(n, rows * GROWTH)
        if rows >= n or info.cut_by_deadline or \
                time.monotonic() + fit_seconds * bigger / rows * PACE_MARGIN > deadline:
            break
        rows = bigger
    spec = ModelSpec([Member(CANDIDATE, params, 1, [int(info.iterations or 1)])], task, list(classes))
    choice = None
    if task == "binary" and threshold_rule is not None:
        proba = class_probabilities(pipe, X.iloc[val_rows], spec)[:, 1]
        choice = choose_threshold(encode_labels(labels.iloc[val_rows], classes), proba, threshold_rule)
        spec.threshold = choice.threshold
    model = with_threshold(pipe, spec, X.iloc[fit_rows][plan.features], np.asarray(labels.iloc[fit_rows]))
    return FirstFit(model, spec, len(chosen), n, time.monotonic() - start, fit_seconds / max(len(fit_rows), 1),
                    bool(info.cut_by_deadline), choice)


def _split(labels: pd.Series, task: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the fitting part and the early-stopping part (every class in both when it can be)."""
    n = len(labels)
    rng = np.random.default_rng(seed)
    n_val = max(1, int(round(n * VALIDATION_SHARE)))
    if task == "regression":
        order = rng.permutation(n)
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    values = labels.astype(str).to_numpy()
    val = []
    for cls in np.unique(values):
        where = rng.permutation(np.flatnonzero(values == cls))
        if len(where) >= 2:
            val.append(where[: max(1, int(round(len(where) * VALIDATION_SHARE)))])
    val_idx = np.sort(np.concatenate(val)) if val else np.array([], dtype=int)
    fit_idx = np.setdiff1d(np.arange(n), val_idx, assume_unique=True)
    return fit_idx, val_idx


def _fit(plan: ColumnPlan, task: str, cand: Any, params: dict, X: pd.DataFrame, labels: pd.Series,
         X_val: pd.DataFrame | None, labels_val: pd.Series | None, seed: int, n_jobs: int,
         deadline: float) -> tuple[Pipeline, Any]:
    y = np.asarray(labels)
    prep = build_preprocessor(plan, encoding=cand.encoding, task=task, seed=seed)
    Xt = prep.fit_transform(X[plan.features], y)
    Xv = prep.transform(X_val[plan.features]) if X_val is not None and len(X_val) else None
    model = cand.make(task, params, seed=seed, n_jobs=n_jobs)
    info = cand.fit(model, Xt, y, X_val=Xv, y_val=np.asarray(labels_val) if Xv is not None else None,
                    deadline=deadline)
    return Pipeline([("prep", prep), ("model", model)]), info
