"""Configurations known to work, tried before the search: a short budget gets strong, diverse models.

Optuna's TPE starts with random configurations; on a 60 s budget a candidate may get only a handful of
trials, so those random starts are most of its search. Each candidate here has a few hand-picked
configurations instead, written for mlpilot's own search spaces after the pattern of the zero-shot
portfolios of FLAML and AutoGluon (their published lesson: a few diverse, regularised configurations beat
random starts across many tabular datasets): a small-tree regularised one for small data, a large-tree
one with column sampling for bigger data, a strongly regularised one against noise, and a fast one. They
run first in each candidate's study (`optuna.Study.enqueue_trial`), after its default configuration, and
TPE learns from them like any other trial.
"""

from __future__ import annotations

from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from tools.candidates import get_candidate

PORTFOLIO: dict[str, list[dict[str, Any]]] = {
    "lightgbm": [
        {"learning_rate": 0.05, "num_leaves": 8, "min_child_samples": 10, "subsample": 0.8,
         "colsample_bytree": 0.8, "reg_alpha": 1e-8, "reg_lambda": 1.0},
        {"learning_rate": 0.03, "num_leaves": 128, "min_child_samples": 5, "subsample": 0.9,
         "colsample_bytree": 0.5, "reg_alpha": 1e-8, "reg_lambda": 0.1},
        {"learning_rate": 0.05, "num_leaves": 16, "min_child_samples": 50, "subsample": 0.7,
         "colsample_bytree": 0.6, "reg_alpha": 0.1, "reg_lambda": 5.0},
        {"learning_rate": 0.15, "num_leaves": 31, "min_child_samples": 5, "subsample": 0.9,
         "colsample_bytree": 0.9, "reg_alpha": 1e-8, "reg_lambda": 1e-3},
    ],
    "hist_gb": [
        {"learning_rate": 0.05, "max_leaf_nodes": 8, "min_samples_leaf": 10, "l2_regularization": 1.0,
         "max_features": 0.8},
        {"learning_rate": 0.03, "max_leaf_nodes": 64, "min_samples_leaf": 5, "l2_regularization": 0.1,
         "max_features": 0.5},
    ],
    "xgboost": [
        {"learning_rate": 0.05, "max_depth": 4, "min_child_weight": 2.0, "subsample": 0.8,
         "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 1e-8},
        {"learning_rate": 0.03, "max_depth": 10, "min_child_weight": 1.0, "subsample": 0.9,
         "colsample_bytree": 0.5, "reg_lambda": 0.1, "reg_alpha": 1e-8},
        {"learning_rate": 0.05, "max_depth": 6, "min_child_weight": 10.0, "subsample": 0.7,
         "colsample_bytree": 0.6, "reg_lambda": 5.0, "reg_alpha": 0.1},
    ],
    "random_forest": [
        {"max_features": 0.5, "min_samples_leaf": 2, "n_estimators": 300},
    ],
    "extra_trees": [
        {"max_features": 0.7, "min_samples_leaf": 1, "n_estimators": 300},
    ],
}


def portfolio(candidate: str, n_rows: int, n_features: int, task: str) -> list[dict[str, Any]]:
    """The candidate's portfolio, each configuration brought inside its search space for this data (a
    value outside a range is clipped to it; a parameter the space lacks is left out, one it has and the
    configuration lacks is taken from the defaults), without repeats."""
    cand = get_candidate(candidate)
    space = cand.search_space(n_rows, n_features, task)
    defaults = cand.defaults(n_rows, n_features, task)
    out: list[dict[str, Any]] = []
    for config in PORTFOLIO.get(candidate, []):
        params = {name: _inside(config.get(name, defaults.get(name)), dist) for name, dist in space.items()}
        if params != defaults and params not in out:
            out.append(params)
    return out


def _inside(value: Any, dist: BaseDistribution) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return value if value in dist.choices else dist.choices[0]
    if isinstance(dist, IntDistribution):
        value = int(min(dist.high, max(dist.low, int(value))))
        return dist.low + (value - dist.low) // dist.step * dist.step
    if isinstance(dist, FloatDistribution):
        return float(min(dist.high, max(dist.low, float(value))))
    return value
