"""Ensembles from the pool of scored configurations, k-fold bagging, and tuning that stops at the folds' noise."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from tests.cli_helpers import without_mlpilot
from tools.candidates import get_candidate
from tools.crossval import CVResult, TrainingData, cross_validate, make_folds
from tools.ensemble import Pool, blend, select_ensemble
from tools.metrics import get_metric
from tools.model import Member, ModelSpec, class_probabilities, fit_model
from tools.preprocess import ColumnPlan
from tools.tune import tune

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="module")
def segment() -> tuple[pd.DataFrame, pd.Series, ColumnPlan, TrainingData]:
    frame = pd.read_csv(DATASETS / "segment.csv").sample(600, random_state=0).reset_index(drop=True)
    labels = frame.pop("class")
    classes = sorted(labels.unique())
    y = labels.map({c: i for i, c in enumerate(classes)}).to_numpy()
    plan = ColumnPlan(numeric=list(frame.columns))
    data = TrainingData(frame, y, "multiclass", list(range(len(classes))), plan,
                        make_folds(y, "multiclass", n_folds=4, seed=0), seed=0)
    return frame, labels, plan, data


def _scored(data: TrainingData, name: str, params: dict | None = None) -> CVResult:
    cand = get_candidate(name)
    base = cand.defaults(len(data.y), data.n_features, data.task)
    return cross_validate(cand, {**base, **(params or {})}, data, get_metric("log_loss"), n_jobs=2)


def test_the_pool_keeps_each_candidates_best_few(segment: tuple) -> None:
    *_, data = segment
    metric = get_metric("log_loss")
    pool = Pool(per_candidate=2)
    rates = [0.3, 0.1, 0.03]
    results = {f"lightgbm#{i}": _scored(data, "lightgbm", {"learning_rate": r, "n_estimators": 60})
               for i, r in enumerate(rates)}
    for name, result in results.items():
        pool.offer(name, result, metric)
    worst = max(results, key=lambda n: results[n].mean)
    assert len(pool) == 2 and worst not in pool.entries
    assert not pool.offer("lightgbm#9", CVResult("lightgbm", {}, [0.1], 1.0, None, [], False), metric), \
        "a configuration without out-of-fold predictions cannot be blended"


def test_ensemble_selection_never_scores_worse_than_its_best_member(segment: tuple) -> None:
    *_, data = segment
    metric = get_metric("log_loss")
    pool = {"lightgbm": _scored(data, "lightgbm"), "linear": _scored(data, "linear"),
            "extra_trees": _scored(data, "extra_trees"),
            "lightgbm#3": _scored(data, "lightgbm", {"num_leaves": 4, "learning_rate": 0.05})}
    choice = select_ensemble(pool, data.y, metric)
    best = min(r.mean for r in pool.values())
    assert choice is not None, "on segment the forest and the boosters blend better than either"
    assert choice.score <= choice.best_single_score and choice.score < best
    assert abs(metric(data.y, blend(pool, choice.weights)) - choice.score) < 1e-9
    capped = select_ensemble(pool, data.y, metric, max_members=2)
    assert capped is not None and len(capped.weights) == 2 and capped.score >= choice.score - 1e-12
    costs = {n: 1.0 for n in pool}
    cheap = select_ensemble(pool, data.y, metric, costs=costs, max_cost=1.5)
    assert cheap is None, "only one member fits in the time the final fits have"


def test_a_bagged_member_is_the_models_cross_validation_scored(segment: tuple, tmp_path: Path) -> None:
    frame, labels, plan, data = segment
    params = get_candidate("lightgbm").defaults(len(data.y), data.n_features, "multiclass")
    cv = cross_validate(get_candidate("lightgbm"), params, data, get_metric("log_loss"), n_jobs=2)
    spec = ModelSpec([Member("lightgbm", params, 1, cv.iterations)], "multiclass", sorted(labels.unique()),
                     bagging=len(data.folds))
    model = fit_model(spec, plan, frame, labels, seed=0, n_jobs=2, folds=data.folds).estimator
    assert len(model.estimators_) == len(data.folds)
    for (_, val), fold_model in zip(data.folds, model.estimators_):
        proba = class_probabilities(fold_model, frame.iloc[val], spec)
        assert np.allclose(proba, cv.oof[val], atol=1e-9), "each fold model is the one scored on that fold"
    # Made without the folds given, they are the same seeded folds.
    again = fit_model(spec, plan, frame, labels, seed=0, n_jobs=1).estimator
    assert np.allclose(again.predict_proba(frame), model.predict_proba(frame))
    assert abs(float(without_mlpilot(model, frame, "m.predict_proba(X).sum()", tmp_path)) - len(frame)) < 1e-6


def test_an_ensemble_of_bagged_configurations_predicts_every_class(segment: tuple) -> None:
    frame, labels, plan, data = segment
    spec = ModelSpec([Member("lightgbm", {"n_estimators": 40}, 2), Member("lightgbm", {"num_leaves": 4,
                      "n_estimators": 40}, 1), Member("linear", {"C": 1.0, "class_weight": None}, 1)],
                     "multiclass", sorted(labels.unique()), bagging=3)
    assert spec.member_names() == ["lightgbm", "lightgbm_2", "linear"]
    assert spec.label == "ensemble of lightgbm x3 (2 configurations) + linear x1 (each bagged over 3 folds)"
    model = fit_model(spec, plan, frame.iloc[:450], labels.iloc[:450], seed=0, n_jobs=2).estimator
    proba = class_probabilities(model, frame.iloc[450:], spec)
    assert proba.shape == (150, labels.nunique()) and np.allclose(proba.sum(axis=1), 1)
    assert (model.predict(frame.iloc[450:]) == labels.iloc[450:]).mean() > 0.8
    assert ModelSpec.from_dict(spec.to_dict()) == spec


def test_tuning_stops_where_the_folds_cannot_tell_configurations_apart(tmp_path: Path) -> None:
    wine = load_wine(as_frame=True)
    frame, y = wine.data.iloc[::2].reset_index(drop=True), wine.target.to_numpy()[::2]
    plan = ColumnPlan(numeric=list(frame.columns))
    data = TrainingData(frame, y, "multiclass", [0, 1, 2], plan, make_folds(y, "multiclass", n_folds=5, seed=0))
    metric = get_metric("log_loss")
    kept: list[str] = []
    result = tune({"linear": 1.0}, data, metric, seeds={}, storage=tmp_path / "s.journal", seed=0,
                  deadline=time.monotonic() + 300, on_result=lambda name, cv: kept.append(name))
    assert result.stopped == "converged", "89 rows: the folds' noise ends the search, not the budget"
    assert len(result.trials) < 60
    dropped = result.replans[-1]["dropped"]["linear"]
    assert "noise" in dropped and "20 trials" in dropped
    assert kept and all(name.startswith("linear#") for name in kept)
