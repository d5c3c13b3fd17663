"""The registry of candidate models.

Each candidate declares, in one place: how to build its estimator from parameters, its Optuna search
space for a given data size, the defaults it starts from (always inside that space, so selection results
can seed the tuning study), which preprocessing encoding it wants, and how to fit it with early stopping
and a deadline. The tuning objective stays generic.

Fits honour a deadline: boosting stops adding rounds, forests stop adding trees, and what was built so far
is kept, so one slow fit can never break the run's time budget.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge

from tools import catboost_model, xgboost_model
from tools.errors import ToolArgumentError

Space = dict[str, BaseDistribution]
_LGB_EVAL_XY = "eval_X" in inspect.signature(lgb.LGBMModel.fit).parameters
EARLY_STOPPING_ROUNDS = 50
MAX_BOOSTING_ROUNDS = 3000
FIRST_CHUNK = 20
LOGISTIC_CHUNK = 50


@dataclass
class FitInfo:
    """What one fit did: its wall time, rounds or trees built, and whether the deadline cut it short."""

    seconds: float
    iterations: int | None = None
    cut_by_deadline: bool = False


@dataclass(frozen=True)
class Candidate:
    """A model family mlpilot can select and tune.

    Attributes:
        name: registry key (``lightgbm``, ``hist_gb``, ...).
        label: for people.
        encoding: preprocessing it needs (``native``, ``ordinal`` or ``onehot``, see tools.preprocess).
        cost: rough relative cost of one fit (1 cheap .. 3 dear), used to plan the budget.
        iterative: True when it stops early on a validation set and records its best iteration count.
    """

    name: str
    label: str
    encoding: str
    cost: int
    iterative: bool
    _space: Callable[[int, int, str], Space] = field(repr=False)
    _defaults: Callable[[int, int, str], dict] = field(repr=False)
    _make: Callable[[str, dict, int, int], Any] = field(repr=False)

    def search_space(self, n_rows: int, n_features: int, task: str) -> Space:
        """Optuna distributions of the tuned parameters for data of this size."""
        return self._space(n_rows, n_features, task)

    def defaults(self, n_rows: int, n_features: int, task: str) -> dict:
        """A strong starting configuration, inside the search space."""
        return self._defaults(n_rows, n_features, task)

    def suggest(self, trial: optuna.Trial, n_rows: int, n_features: int, task: str) -> dict:
        """Sample one configuration from the search space through ``trial``."""
        params: dict[str, Any] = {}
        for name, dist in self.search_space(n_rows, n_features, task).items():
            if isinstance(dist, FloatDistribution):
                params[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
            elif isinstance(dist, IntDistribution):
                params[name] = trial.suggest_int(name, dist.low, dist.high, log=dist.log)
            else:
                params[name] = trial.suggest_categorical(name, dist.choices)
        return params

    def make(self, task: str, params: dict, *, seed: int, n_jobs: int) -> Any:
        """An unfitted estimator for ``task`` with ``params``."""
        return self._make(task, dict(params), seed, n_jobs)

    def fit(self, estimator: Any, X: pd.DataFrame, y: np.ndarray, *, X_val: pd.DataFrame | None = None,
            y_val: np.ndarray | None = None, deadline: float | None = None) -> FitInfo:
        """Fit in place, early-stopping on (X_val, y_val) when given and never running past ``deadline``.

        ``deadline`` is a `time.monotonic()` value.
        """
        start = time.monotonic()
        if isinstance(estimator, (lgb.LGBMClassifier, lgb.LGBMRegressor)):
            info = _fit_lightgbm(estimator, X, y, X_val, y_val, deadline)
        elif isinstance(estimator, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
            info = _fit_hist_gb(estimator, X, y, X_val, y_val, deadline)
        elif isinstance(estimator, (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier,
                                    ExtraTreesRegressor)):
            info = _fit_forest(estimator, X, y, deadline)
        elif catboost_model.is_catboost(estimator):
            rounds, cut = catboost_model.fit(estimator, X, y, X_val, y_val, deadline,
                                             patience=EARLY_STOPPING_ROUNDS)
            info = FitInfo(0.0, rounds, cut)
        elif xgboost_model.is_xgboost(estimator):
            rounds, cut = xgboost_model.fit(estimator, X, y, X_val, y_val, deadline,
                                            patience=EARLY_STOPPING_ROUNDS)
            info = FitInfo(0.0, rounds, cut)
        elif isinstance(estimator, LogisticRegression) and deadline is not None:
            info = _fit_logistic(estimator, X, y, deadline)
        else:
            estimator.fit(X, y)
            info = FitInfo(0.0)
        info.seconds = time.monotonic() - start
        return info

    def final_params(self, params: dict, iterations: list[int]) -> dict:
        """Parameters for a refit without a validation set, from the best iterations seen in CV."""
        if not self.iterative or not iterations:
            return dict(params)
        # Slightly more rounds than the folds needed: the refit sees more rows than each fold did.
        rounds = max(1, int(round(float(np.mean(iterations)) * 1.1)))
        key = {"lightgbm": "n_estimators", "xgboost": "n_estimators", "catboost": "iterations"}.get(self.name,
                                                                                                    "max_iter")
        return {**params, key: rounds}


def _fit_lightgbm(est: Any, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame | None,
                  y_val: np.ndarray | None, deadline: float | None) -> FitInfo:
    cut = {"flag": False}

    def stop_at_deadline(env: lgb.callback.CallbackEnv) -> None:
        if deadline is not None and time.monotonic() > deadline:
            cut["flag"] = True
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    callbacks: list[Callable] = [stop_at_deadline]
    kwargs: dict[str, Any] = {}
    if X_val is not None:
        callbacks.append(lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False))
        # LightGBM 4.7 renamed eval_set to eval_X / eval_y; older releases know only eval_set. The new
        # route does not encode a classifier's validation labels as it encodes the training labels
        # (sorted classes -> 0..k-1), so that is done here.
        if _LGB_EVAL_XY:
            if isinstance(est, lgb.LGBMClassifier):
                y_val = np.searchsorted(np.unique(y), np.asarray(y_val))
            kwargs = {"eval_X": (X_val,), "eval_y": (y_val,)}
        else:
            kwargs = {"eval_set": [(X_val, y_val)]}
    est.fit(X, y, callbacks=callbacks, **kwargs)
    best = est.best_iteration_ if X_val is not None and est.best_iteration_ else est.n_estimators_
    return FitInfo(0.0, int(best), cut["flag"])


def _fit_hist_gb(est: Any, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame | None,
                 y_val: np.ndarray | None, deadline: float | None) -> FitInfo:
    val = {"X_val": X_val, "y_val": y_val} if X_val is not None else {}
    if X_val is not None:
        est.set_params(early_stopping=True)
    if deadline is None:
        est.fit(X, y, **val)
        return FitInfo(0.0, int(est.n_iter_))
    _, cut = _grow(est, "max_iter", int(est.max_iter), FIRST_CHUNK, lambda: est.fit(X, y, **val), deadline,
                   stopped_early=lambda: est.n_iter_ < est.max_iter)
    return FitInfo(0.0, int(est.n_iter_), cut)


def _fit_forest(est: Any, X: pd.DataFrame, y: np.ndarray, deadline: float | None) -> FitInfo:
    if deadline is None:
        est.fit(X, y)
        return FitInfo(0.0, int(est.n_estimators))
    built, cut = _grow(est, "n_estimators", int(est.n_estimators), FIRST_CHUNK, lambda: est.fit(X, y), deadline,
                       stopped_early=lambda: False)
    return FitInfo(0.0, built, cut)


def _fit_logistic(est: LogisticRegression, X: pd.DataFrame, y: np.ndarray, deadline: float) -> FitInfo:
    """L-BFGS in chunks of iterations, warm-started, until it converges or the deadline comes."""
    limit = int(est.max_iter)
    est.set_params(warm_start=True, max_iter=LOGISTIC_CHUNK)
    done, cut = 0, False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        while True:
            est.fit(X, y)
            done += int(np.max(est.n_iter_))
            if np.max(est.n_iter_) < LOGISTIC_CHUNK or done >= limit:
                break
            if time.monotonic() > deadline:
                cut = True
                break
    est.set_params(warm_start=False, max_iter=limit)
    return FitInfo(0.0, None, cut)


def _grow(est: Any, param: str, target: int, first: int, fit: Callable[[], object], deadline: float, *,
          stopped_early: Callable[[], bool]) -> tuple[int, bool]:
    """Fit with warm start, adding trees or rounds in chunks sized from the measured pace so that the
    deadline is checked often without paying for many tiny fits. Returns (size built, cut by deadline)."""
    size = min(first, target)
    est.set_params(warm_start=True, **{param: size})
    start = time.monotonic()
    fit()
    pace = (time.monotonic() - start) / size
    cut = False
    while size < target and not stopped_early():
        step = min(target - size, int((deadline - time.monotonic()) * 0.8 / max(pace, 1e-6)))
        if step < 1:
            cut = True
            break
        size += step
        est.set_params(**{param: size})
        start = time.monotonic()
        fit()
        pace = (time.monotonic() - start) / step
    est.set_params(warm_start=False)
    return size, cut


# ---- LightGBM ---------------------------------------------------------------------------------------

def _lgb_space(n: int, p: int, task: str) -> Space:
    max_leaves = int(min(256, max(8, n // 10)))
    return {
        "learning_rate": FloatDistribution(0.01, 0.3, log=True),
        "num_leaves": IntDistribution(4, max_leaves, log=True),
        "min_child_samples": IntDistribution(2, 100, log=True),
        "subsample": FloatDistribution(0.5, 1.0),
        "colsample_bytree": FloatDistribution(0.3, 1.0),
        "reg_alpha": FloatDistribution(1e-8, 10.0, log=True),
        "reg_lambda": FloatDistribution(1e-8, 10.0, log=True),
    }


def _lgb_defaults(n: int, p: int, task: str) -> dict:
    return {"learning_rate": 0.05, "num_leaves": min(31, int(min(256, max(8, n // 10)))),
            "min_child_samples": 20, "subsample": 1.0, "colsample_bytree": 1.0,
            "reg_alpha": 1e-8, "reg_lambda": 1e-8}


def _lgb_make(task: str, params: dict, seed: int, n_jobs: int) -> Any:
    cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    params.setdefault("n_estimators", MAX_BOOSTING_ROUNDS)
    bagging = params.get("subsample", 1.0) < 1.0
    return cls(**params, subsample_freq=1 if bagging else 0, random_state=seed, n_jobs=n_jobs,
               verbose=-1, deterministic=True, force_row_wise=True)


# ---- HistGradientBoosting ---------------------------------------------------------------------------

def _hgb_space(n: int, p: int, task: str) -> Space:
    return {
        "learning_rate": FloatDistribution(0.01, 0.3, log=True),
        "max_leaf_nodes": IntDistribution(4, 128, log=True),
        "min_samples_leaf": IntDistribution(2, 100, log=True),
        "l2_regularization": FloatDistribution(1e-8, 10.0, log=True),
        "max_features": FloatDistribution(0.3, 1.0),
    }


def _hgb_defaults(n: int, p: int, task: str) -> dict:
    return {"learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20,
            "l2_regularization": 1e-8, "max_features": 1.0}


def _hgb_make(task: str, params: dict, seed: int, n_jobs: int) -> Any:
    cls = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    params.setdefault("max_iter", 1000)
    # Without a validation set (the final refit) max_iter comes from CV and early stopping is off.
    return cls(**params, early_stopping=False, n_iter_no_change=EARLY_STOPPING_ROUNDS // 2,
               categorical_features="from_dtype", random_state=seed)


# ---- forests ----------------------------------------------------------------------------------------

def _forest_space(n: int, p: int, task: str) -> Space:
    return {
        "max_features": FloatDistribution(0.05, 1.0),
        "min_samples_leaf": IntDistribution(1, 20, log=True),
        "n_estimators": IntDistribution(100, 500, step=50),
    }


def _forest_defaults(n: int, p: int, task: str) -> dict:
    p = max(p, 1)
    if task == "regression":
        share = 1.0 if p <= 10 else 0.5
    else:
        share = max(0.05, min(1.0, math.sqrt(p) / p))
    return {"max_features": round(share, 3), "min_samples_leaf": 1 if task != "regression" else 2,
            "n_estimators": 200}


def _forest_maker(classifier: type, regressor: type) -> Callable[[str, dict, int, int], Any]:
    def make(task: str, params: dict, seed: int, n_jobs: int) -> Any:
        cls = regressor if task == "regression" else classifier
        return cls(**params, n_jobs=n_jobs, random_state=seed)

    return make


# ---- linear -----------------------------------------------------------------------------------------

def _linear_space(n: int, p: int, task: str) -> Space:
    if task == "regression":
        return {"alpha": FloatDistribution(1e-3, 1e3, log=True)}
    return {"C": FloatDistribution(1e-3, 1e2, log=True),
            "class_weight": CategoricalDistribution([None, "balanced"])}


def _linear_defaults(n: int, p: int, task: str) -> dict:
    return {"alpha": 1.0} if task == "regression" else {"C": 1.0, "class_weight": None}


def _linear_make(task: str, params: dict, seed: int, n_jobs: int) -> Any:
    if task == "regression":
        return Ridge(**params)
    return LogisticRegression(**params, max_iter=1000)


CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in [
        Candidate("lightgbm", "LightGBM", "native", 2, True, _lgb_space, _lgb_defaults, _lgb_make),
        Candidate("hist_gb", "HistGradientBoosting", "native", 2, True, _hgb_space, _hgb_defaults, _hgb_make),
        Candidate("catboost", "CatBoost", "ordinal", 3, True, catboost_model.space, catboost_model.defaults,
                  catboost_model.make),
        Candidate("xgboost", "XGBoost", "ordinal", 2, True, xgboost_model.space, xgboost_model.defaults,
                  xgboost_model.make),
        Candidate("random_forest", "Random forest", "ordinal", 3, False, _forest_space, _forest_defaults,
                  _forest_maker(RandomForestClassifier, RandomForestRegressor)),
        Candidate("extra_trees", "Extra trees", "ordinal", 3, False, _forest_space, _forest_defaults,
                  _forest_maker(ExtraTreesClassifier, ExtraTreesRegressor)),
        Candidate("linear", "Regularised linear (logistic / ridge)", "onehot", 1, False, _linear_space,
                  _linear_defaults, _linear_make),
    ]
}


def get_candidate(name: str) -> Candidate:
    """The registered candidate ``name``.

    Raises:
        ToolArgumentError: unknown name; the message lists the registry.
    """
    if name not in CANDIDATES:
        raise ToolArgumentError(f"Unknown candidate model '{name}'. Valid candidates: {', '.join(CANDIDATES)}.")
    return CANDIDATES[name]
