"""XGBoost as a candidate: its search space, defaults, estimator and deadline-aware fit.

XGBoost grows trees level by level (depth-wise, where LightGBM grows leaf by leaf) on histogram bins, so it
brings a second, differently biased booster of LightGBM's speed. It reads mlpilot's ordinal encoding
(categories as numbers, gaps as NaN, which XGBoost routes down a learnt default branch).

XGBoost's classifier takes labels 0..k-1 only and predicts those indices, while mlpilot's pipelines see the
original labels and must know every class even when a fold's training rows lack one. A classifier is
therefore made as scikit-learn's soft `VotingClassifier` around one `XGBClassifier` (the wrapper
`tools.calibrate` uses too): the booster is fitted here on the labels' indices, then frozen, and the
wrapper's own fit records the labels; its ``classes_`` and ``predict`` speak in them. The saved pipeline
needs nothing but scikit-learn and XGBoost. `xgboost` is imported when an XGBoost model is made, not when
mlpilot starts.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

import numpy as np
import pandas as pd
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator

# The learning rate goes down to 0.01, where a table may need well over 1,000 rounds; early stopping ends
# most fits far sooner.
MAX_ROUNDS = 2000
MEMBER = "xgboost"


def _max_depth(n: int) -> int:
    # As LightGBM's leaves are capped near n / 10: a depth-d tree has up to 2^d leaves. Never below 6,
    # XGBoost's own default, so that the defaults stay inside the space.
    return int(min(10, max(6, math.log2(max(n, 2) / 10))))


def space(n: int, p: int, task: str) -> dict[str, BaseDistribution]:
    return {
        "learning_rate": FloatDistribution(0.01, 0.3, log=True),
        "max_depth": IntDistribution(3, _max_depth(n)),
        "min_child_weight": FloatDistribution(0.5, 20.0, log=True),
        "subsample": FloatDistribution(0.5, 1.0),
        "colsample_bytree": FloatDistribution(0.4, 1.0),
        "reg_lambda": FloatDistribution(1e-3, 10.0, log=True),
        "reg_alpha": FloatDistribution(1e-8, 1.0, log=True),
    }


def defaults(n: int, p: int, task: str) -> dict:
    # XGBoost's own defaults but a rate of 0.1 (its 0.3 overshoots on small tables); no L1 is the
    # space's floor.
    return {"learning_rate": 0.1, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0,
            "colsample_bytree": 1.0, "reg_lambda": 1.0, "reg_alpha": 1e-8}


def make(task: str, params: dict, seed: int, n_jobs: int) -> Any:
    from xgboost import XGBClassifier, XGBRegressor

    params.setdefault("n_estimators", MAX_ROUNDS)
    options = {"tree_method": "hist", "n_jobs": max(1, n_jobs), "random_state": seed, "verbosity": 0}
    if task == "regression":
        return XGBRegressor(**params, **options)
    return VotingClassifier([(MEMBER, XGBClassifier(**params, **options))], voting="soft")


def _booster_model(estimator: Any) -> Any:
    """The XGBoost estimator itself, inside the classifier's wrapper (frozen once fitted) or not."""
    if isinstance(estimator, VotingClassifier) and len(estimator.estimators) == 1:
        estimator = estimator.estimators[0][1]
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


def is_xgboost(estimator: Any) -> bool:
    return type(_booster_model(estimator)).__module__.startswith("xgboost")


@functools.cache
def _deadline_type() -> type:
    # Built on first use, so that xgboost is imported only when an XGBoost model is fitted.
    from xgboost.callback import TrainingCallback

    class Deadline(TrainingCallback):
        """Ends boosting once the deadline has passed; ``cut`` says whether it did."""

        def __init__(self, deadline: float | None) -> None:
            super().__init__()
            self.deadline = deadline
            self.cut = False

        def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
            if self.deadline is not None and time.monotonic() > self.deadline:
                self.cut = True
            return self.cut

    return Deadline


def fit(est: Any, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame | None, y_val: np.ndarray | None,
        deadline: float | None, *, patience: int) -> tuple[int, bool]:
    """Fit in place, early-stopping on the validation rows after ``patience`` rounds without gain when they
    are given; returns (rounds kept, cut)."""
    model = _booster_model(est)
    classifier = isinstance(est, VotingClassifier)
    target, val_target = y, y_val
    if classifier:
        classes, target = np.unique(y, return_inverse=True)
        if X_val is not None and y_val is not None:
            # A class the training rows lack (a rare class all in this validation fold) has no index in
            # this model; the other validation rows still say when to stop.
            seen = np.isin(y_val, classes)
            X_val, val_target = X_val[seen], np.searchsorted(classes, np.asarray(y_val)[seen])
    validate = X_val is not None and len(X_val) > 0
    stop = _deadline_type()(deadline)
    model.set_params(callbacks=[stop], early_stopping_rounds=patience if validate else None)
    try:
        model.fit(X, target, eval_set=[(X_val, val_target)] if validate else None, verbose=False)
    finally:
        # The callback is mlpilot's class: left among the parameters it would be pickled with the model,
        # which must load without mlpilot. Prediction keeps using the best round, which the booster records.
        model.set_params(callbacks=None, early_stopping_rounds=None)
    if classifier:
        # The wrapper's fit only records the original labels around the fitted, frozen booster.
        est.set_params(estimators=[(MEMBER, FrozenEstimator(model))]).fit(X, y)
    booster = model.get_booster()
    # No best round is recorded when the deadline ended the very first round (the deadline callback runs
    # before early stopping's): then every round built counts, as prediction uses them all.
    best = booster.attr("best_iteration") if validate else None
    return (int(best) + 1 if best is not None else booster.num_boosted_rounds()), stop.cut
