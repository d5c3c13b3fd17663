"""Probabilities that hold on new data: temperature scaling, chosen out of fold.

Boosted trees tuned for a ranking or fitted on few rows are often over-confident; a single temperature
``T`` (probabilities become softmax(log p / T)) corrects that without changing which class ranks first.
Whether it helps is measured honestly: each fold's predictions are scaled with a temperature fitted on
the other folds' out-of-fold predictions, and the result is compared with the unscaled ones on the plan's
metric. The saved model stays plain scikit-learn: a `CalibratedClassifierCV` around the fitted model with
the temperature fitted on all out-of-fold predictions (`calibrated`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.calibration import CalibratedClassifierCV, _CalibratedClassifier, _TemperatureScaling
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator

from tools.metrics import Metric

# Metrics that judge the probabilities themselves, where calibration is worth choosing.
CALIBRATED_METRICS = ("log_loss", "brier")
# Scaling is kept only when it improves the cross-fitted out-of-fold score by at least this share.
MIN_GAIN = 0.005


@dataclass(frozen=True)
class Calibration:
    """The temperature fitted on all out-of-fold predictions, and the cross-fitted evidence for it."""

    temperature: float
    before: float
    after: float
    worth_it: bool

    def to_dict(self) -> dict:
        return asdict(self)


def fit_temperature(proba: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the log loss of ``proba`` (columns in class-index order) for the
    class indices ``y``."""
    scaler = _TemperatureScaling().fit(_two_columns(proba), y)
    return float(1.0 / scaler.beta_)


def scale(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``proba`` at ``temperature``: softmax(log p / T), as the saved model computes it."""
    scaler = _TemperatureScaling()
    scaler.beta_ = 1.0 / temperature
    return np.asarray(scaler.predict(_two_columns(proba)), dtype=float)


def choose_temperature(oof: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                       metric: Metric) -> Calibration:
    """Whether temperature scaling improves the out-of-fold ``metric`` of ``oof``, measured with each
    fold scaled by a temperature fitted on the other folds."""
    crossed = np.array(oof, dtype=float, copy=True)
    for train, valid in folds:
        crossed[valid] = scale(oof[valid], fit_temperature(oof[train], y[train]))
    before, after = metric(y, oof), metric(y, crossed)
    worth = metric.better(after, before) and abs(after - before) >= MIN_GAIN * max(abs(before), 1e-12)
    return Calibration(fit_temperature(oof, y), float(before), float(after), bool(worth))


def calibrated(model: object, temperature: float, X: object, y: np.ndarray) -> CalibratedClassifierCV:
    """``model`` (fitted) with its probabilities scaled by ``temperature``, as a fitted scikit-learn
    `CalibratedClassifierCV`; ``X``, ``y`` are its training rows (only the classes are read from them).

    The temperature comes from out-of-fold predictions, so the calibrator is set rather than fitted on
    the model's own training rows (where its predictions are over-confident by construction). A single
    pipeline goes into a one-member soft vote, so that the calibrator reads probabilities (a pipeline
    ending in a linear model would otherwise hand it decision values).
    """
    if not isinstance(model, VotingClassifier):
        model = VotingClassifier([("model", FrozenEstimator(model))], voting="soft").fit(X, y)
    scaler = _TemperatureScaling()
    scaler.beta_ = 1.0 / temperature
    wrapper = CalibratedClassifierCV(FrozenEstimator(model), method="temperature")
    wrapper.calibrated_classifiers_ = [_CalibratedClassifier(model, [scaler], classes=model.classes_,
                                                             method="temperature")]
    wrapper.classes_ = model.classes_
    return wrapper


def _two_columns(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=float)
    return proba if proba.ndim == 2 else np.column_stack([1 - proba, proba])
