"""Cross-validation on fixed folds of the training part, shared by selection and tuning.

Every candidate and every trial is scored on the same folds, so their scores are comparable. The
preprocessor is fitted on each training fold only; as its settings are not tuned, its output per
(encoding, fold) is cached and reused by every trial, which saves most of the cleaning time.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold

from tools.candidates import Candidate
from tools.metrics import Metric
from tools.preprocess import ColumnPlan, build_preprocessor

# Above this many cached cells the cache stops growing (8 bytes each: about 1.6 GB).
CACHE_CELL_LIMIT = 200_000_000


@dataclass
class TrainingData:
    """The training part, encoded, with its folds.

    Attributes:
        X: raw feature columns of the training rows.
        y: encoded target: class index 0..k-1 (binary: 1 is the positive class) or float values.
        task: ``binary``, ``multiclass`` or ``regression``.
        classes: original class labels in encoded order (empty for regression).
        plan: the column plan.
        folds: (train indices, validation indices) pairs into X.
        seed: seed for preprocessing randomness.
    """

    X: pd.DataFrame
    y: np.ndarray
    task: str
    classes: list
    plan: ColumnPlan
    folds: list[tuple[np.ndarray, np.ndarray]]
    seed: int = 0
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_features(self) -> int:
        return len(self.plan.features)

    def fold_matrices(self, encoding: str, fold: int) -> tuple[pd.DataFrame, pd.DataFrame, float]:
        """Transformed (train, validation) frames of one fold and the seconds it took to build them."""
        key = (encoding, fold)
        if key in self._cache:
            return (*self._cache[key], 0.0)
        start = time.monotonic()
        train_idx, val_idx = self.folds[fold]
        prep = build_preprocessor(self.plan, encoding=encoding, task=self.task, seed=self.seed)
        X_train = prep.fit_transform(self.X.iloc[train_idx], self.y[train_idx])
        X_val = prep.transform(self.X.iloc[val_idx])
        if sum(a.size for pair in self._cache.values() for a in pair) + X_train.size + X_val.size \
                <= CACHE_CELL_LIMIT:
            self._cache[key] = (X_train, X_val)
        return X_train, X_val, time.monotonic() - start


def make_folds(y: np.ndarray, task: str, *, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K folds for classification, shuffled K folds for regression."""
    splitter = (KFold(n_folds, shuffle=True, random_state=seed) if task == "regression"
                else StratifiedKFold(n_folds, shuffle=True, random_state=seed))
    return [(tr, va) for tr, va in splitter.split(np.zeros(len(y)), y)]


@dataclass
class CVResult:
    """Scores of one configuration on the folds.

    Attributes:
        candidate: registry name.
        params: the configuration.
        scores: metric per completed fold.
        fit_seconds: wall time of the folds (fits, preprocessing, predictions); with folds fitted side
            by side, less than the sum of their fits: what the machine took, which is what time plans need.
        oof: out-of-fold predictions (probabilities or values), None unless every fold completed.
        iterations: best boosting rounds per fold (iterative models).
        complete: True when every fold ran to the end without the deadline cutting a fit.
    """

    candidate: str
    params: dict
    scores: list[float]
    fit_seconds: float
    oof: np.ndarray | None
    iterations: list[int]
    complete: bool

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores)) if self.scores else float("nan")

    @property
    def sd(self) -> float:
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else 0.0

    def summary(self) -> dict:
        return {"candidate": self.candidate, "mean": round(self.mean, 6), "sd": round(self.sd, 6),
                "folds": len(self.scores), "scores": [round(float(s), 6) for s in self.scores],
                "fit_seconds": round(self.fit_seconds, 3),
                "complete": self.complete, "params": self.params}


def cross_validate(candidate: Candidate, params: dict, data: TrainingData, metric: Metric, *,
                   n_jobs: int = 2, deadline: float | None = None,
                   on_fold: Callable[[int, float], None] | None = None, side_by_side: bool = True) -> CVResult:
    """Score ``candidate`` with ``params`` on every fold of ``data``.

    With ``n_jobs`` of 2 or more the folds are fitted side by side, one thread each (the models release
    the interpreter while they fit): on the small and mid-sized tables mlpilot meets, one fit does not
    keep two cores busy, two folds at once do.

    Args:
        candidate: the model family.
        params: its configuration (from `Candidate.defaults` or a trial).
        data: training part with folds.
        metric: the metric to score.
        n_jobs: threads: folds fitted at once, each with one thread.
        deadline: `time.monotonic()` after which fits stop early and no new fold starts.
        on_fold: called after each fold with (fold, running mean); may raise to prune (folds still
            running finish, none starts).
        side_by_side: False fits the folds one after another, each with ``n_jobs`` threads (what
            `benchmarks/bench_cores.py` compares the default with).
    """
    k = len(data.classes)
    oof: np.ndarray = np.zeros((len(data.y), k)) if data.task != "regression" else np.zeros(len(data.y))
    workers = max(1, min(n_jobs, len(data.folds))) if side_by_side else 1
    template = candidate.make(data.task, params, seed=data.seed, n_jobs=1 if workers > 1 else n_jobs)
    stop = threading.Event()

    def run_fold(fold: int) -> _Fold | None:
        if stop.is_set() or (deadline is not None and time.monotonic() > deadline):
            return None
        train_idx, val_idx = data.folds[fold]
        X_train, X_val, _ = data.fold_matrices(candidate.encoding, fold)
        model = clone(template)
        y_train, y_val = data.y[train_idx], data.y[val_idx]
        info = candidate.fit(model, X_train, y_train, X_val=X_val if candidate.iterative else None,
                             y_val=y_val if candidate.iterative else None, deadline=deadline)
        prediction = predict_encoded(model, X_val, data.task, k, rows_seen=len(train_idx))
        return _Fold(fold, prediction, safe_score(metric, y_val, prediction), info.iterations, info.cut_by_deadline)

    done: list[_Fold] = []
    complete = True
    began = time.monotonic()
    for result in _fold_results(run_fold, len(data.folds), workers, stop):
        if result is None:
            complete = False
            break
        done.append(result)
        oof[data.folds[result.fold][1]] = result.prediction
        if result.cut:
            complete = False
            break
        if on_fold is not None:
            on_fold(result.fold, float(np.nanmean([f.score for f in done])))
    complete = complete and len(done) == len(data.folds)
    return CVResult(candidate.name, dict(params), [f.score for f in done], time.monotonic() - began,
                    oof if complete else None, [f.iterations for f in done if f.iterations is not None],
                    complete)


@dataclass
class _Fold:
    fold: int
    prediction: np.ndarray
    score: float
    iterations: int | None
    cut: bool


def _fold_results(run_fold: Callable[[int], _Fold | None], n_folds: int, workers: int,
                  stop: threading.Event) -> Iterator[_Fold | None]:
    """Each fold's result in fold order (so pruning sees the same sequence whatever finishes first, and a
    capped run repeats); the caller stops early by leaving the loop, which sets ``stop`` so that no
    queued fold starts."""
    if workers == 1:
        for fold in range(n_folds):
            yield run_fold(fold)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_fold, fold) for fold in range(n_folds)]
        try:
            for future in futures:
                yield future.result()
        finally:
            stop.set()
            for future in futures:
                future.cancel()


def predict_encoded(model: Any, X: pd.DataFrame, task: str, n_classes: int, *, rows_seen: int = 0) -> np.ndarray:
    """Predictions in the module convention: an (n, k) probability matrix, or values for regression.

    Models here were fitted on encoded labels 0..k-1. A fold whose training rows lacked a class (a rare
    class's few rows all fell in its validation part) yields fewer columns: the missing class gets the
    probability of a class never seen in ``rows_seen`` rows, about 1 / (rows_seen + 2), not 0, which
    log loss would punish without limit and no model in use would predict.
    """
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    proba = np.asarray(model.predict_proba(X), dtype=float)
    if proba.shape[1] == n_classes:
        return proba
    unseen = 1.0 / (max(rows_seen, 0) + 2)
    present = np.asarray(model.classes_, dtype=int)
    full = np.full((len(X), n_classes), unseen)
    full[:, present] = proba * (1.0 - unseen * (n_classes - len(present)))
    return full


def safe_score(metric: Metric, y_true: np.ndarray, prediction: np.ndarray) -> float:
    """The metric, or NaN where it is undefined (e.g. ROC AUC on a fold with one class)."""
    try:
        return metric(y_true, prediction)
    except ValueError:
        return float("nan")
