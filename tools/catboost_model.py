"""CatBoost as a candidate: its search space, defaults, estimator and deadline-aware fit.

CatBoost grows symmetric (oblivious) trees with ordered boosting, which makes it strong and hard to
overfit on small tables. It reads mlpilot's ordinal encoding (categories as numbers, gaps as NaN), so the
saved pipeline needs nothing but scikit-learn and CatBoost. `catboost` is imported when a CatBoost model
is made, not when mlpilot starts.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

# Deep symmetric trees at a low rate cost many times a LightGBM fit: the space stops at depth 8 and
# rate 0.02, and rounds at 2,000 (early stopping ends most fits far sooner).
MAX_ROUNDS = 2000


def space(n: int, p: int, task: str) -> dict[str, BaseDistribution]:
    return {
        "learning_rate": FloatDistribution(0.02, 0.3, log=True),
        "depth": IntDistribution(3, 8),
        "l2_leaf_reg": FloatDistribution(1.0, 30.0, log=True),
        "random_strength": FloatDistribution(1e-3, 10.0, log=True),
        "bagging_temperature": FloatDistribution(0.0, 1.0),
    }


def defaults(n: int, p: int, task: str) -> dict:
    return {"learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0, "random_strength": 1.0,
            "bagging_temperature": 1.0}


def make(task: str, params: dict, seed: int, n_jobs: int) -> Any:
    from catboost import CatBoostClassifier, CatBoostRegressor

    cls = CatBoostRegressor if task == "regression" else CatBoostClassifier
    params.setdefault("iterations", MAX_ROUNDS)
    # allow_writing_files=False: no catboost_info folder in the user's working directory.
    return cls(**params, random_seed=seed, thread_count=max(1, n_jobs), verbose=False, allow_writing_files=False)


def is_catboost(estimator: Any) -> bool:
    return type(estimator).__module__.startswith("catboost")


class _Deadline:
    """A CatBoost callback that ends boosting once the deadline has passed."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.cut = False

    def after_iteration(self, info: Any) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.cut = True
            return False
        return True


def fit(est: Any, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame | None, y_val: np.ndarray | None,
        deadline: float | None, *, patience: int) -> tuple[int, bool]:
    """Fit in place, early-stopping on the validation rows after ``patience`` rounds without gain when they
    are given; returns (rounds kept, cut)."""
    stop = _Deadline(deadline)
    kwargs: dict[str, Any] = {}
    if X_val is not None and len(X_val):
        kwargs = {"eval_set": (X_val, y_val), "early_stopping_rounds": patience,
                  "use_best_model": True}
    est.fit(X, y, callbacks=[stop], **kwargs)
    best = est.get_best_iteration() if kwargs else None
    return int(best + 1 if best is not None else est.tree_count_), stop.cut
