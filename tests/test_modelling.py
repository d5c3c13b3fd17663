"""The modelling tools on real data: cleaning, candidates, cross-validation, tuning, ensembles, evaluation."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from tests.cli_helpers import without_mlpilot
from tools.candidates import CANDIDATES, get_candidate
from tools.crossval import TrainingData, cross_validate, make_folds
from tools.ensemble import select_ensemble
from tools.errors import ToolArgumentError
from tools.evaluate import evaluate_holdout
from tools.metrics import get_metric
from tools.model import Member, ModelSpec, fit_model, predict_table
from tools.portfolio import portfolio
from tools.preprocess import ColumnPlan, build_preprocessor
from tools.tune import tune


@pytest.fixture(scope="module")
def titanic(request: pytest.FixtureRequest) -> tuple[pd.DataFrame, pd.Series, ColumnPlan]:
    path = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "titanic.csv"
    frame = pd.read_csv(path)
    labels = frame.pop("survived")
    frame["boarded"] = pd.Timestamp("1912-04-10") + pd.to_timedelta(np.arange(len(frame)) % 3, unit="D")
    plan = ColumnPlan(numeric=["pclass", "age", "sibsp", "parch", "fare"], categorical=["sex", "embarked"],
                      high_cardinality=["cabin"], datetime=["boarded"],
                      datetime_parts={"boarded": ["day", "day_of_week"]}, missing_indicators=["age"],
                      dropped={"name": "identifier", "ticket": "identifier"})
    return frame, labels, plan


@pytest.fixture(scope="module")
def data(titanic: tuple[pd.DataFrame, pd.Series, ColumnPlan]) -> TrainingData:
    frame, labels, plan = titanic
    y = labels.to_numpy()
    return TrainingData(frame[plan.features], y, "binary", [0, 1], plan,
                        make_folds(y, "binary", n_folds=3, seed=0), seed=0)


@pytest.mark.parametrize("encoding", ["onehot", "ordinal", "native"])
def test_preprocessor_handles_gaps_unknown_levels_and_dates(titanic: tuple, encoding: str) -> None:
    frame, labels, plan = titanic
    prep = build_preprocessor(plan, encoding=encoding, task="binary")
    out = prep.fit_transform(frame, labels)
    assert len(out) == len(frame)
    new = frame.head(3).copy()
    new.loc[new.index[0], "sex"] = "unknown-level"
    new.loc[new.index[1], "cabin"] = "ZZ99"
    new.loc[new.index[2], "boarded"] = pd.NaT
    again = prep.transform(new)
    assert list(again.columns) == list(out.columns)
    if encoding == "onehot":
        assert not again.isna().any().any(), "the linear model's input must have no gaps"
        assert "num_ind__missingindicator_age" in out.columns
    else:
        assert again.filter(like="cat__sex").isna().iloc[0].all(), "an unseen level becomes missing for trees"


def test_every_candidate_scores_defaults_inside_its_space(data: TrainingData) -> None:
    metric = get_metric("roc_auc")
    for name, cand in CANDIDATES.items():
        params = cand.defaults(len(data.y), data.n_features, "binary")
        space = cand.search_space(len(data.y), data.n_features, "binary")
        for key, dist in space.items():
            assert dist._contains(dist.to_internal_repr(params[key])), f"{name}.{key} default outside its space"
        result = cross_validate(cand, params, data, metric, deadline=time.monotonic() + 60)
        assert result.complete and len(result.scores) == 3
        assert 0.75 < result.mean < 0.95, f"{name} scored {result.mean}"
        assert result.oof.shape == (len(data.y), 2)


def test_deadline_cuts_a_fit_short(data: TrainingData) -> None:
    cand = get_candidate("random_forest")
    params = {**cand.defaults(len(data.y), data.n_features, "binary"), "n_estimators": 500}
    start = time.monotonic()
    result = cross_validate(cand, params, data, get_metric("roc_auc"), deadline=time.monotonic() + 0.3)
    assert time.monotonic() - start < 5
    assert not result.complete and result.oof is None


def test_unknown_candidate_lists_the_registry() -> None:
    with pytest.raises(ToolArgumentError, match="xgboost"):
        get_candidate("svm")


def test_tune_records_trials_in_the_journal_and_respects_the_cap(data: TrainingData, tmp_path: Path) -> None:
    metric = get_metric("roc_auc")
    seeds = {n: cross_validate(get_candidate(n), get_candidate(n).defaults(len(data.y), data.n_features, "binary"),
                               data, metric) for n in ("lightgbm", "linear")}
    seen = []
    result = tune({"lightgbm": 0.5, "linear": 0.5}, data, metric, seeds=seeds, storage=tmp_path / "s.journal",
                  seed=1, deadline=time.monotonic() + 600, max_trials=8, on_trial=seen.append)
    assert result.stopped == "max_trials" and len(result.trials) == 8 == len(seen)
    assert {t.candidate for t in result.trials} == {"lightgbm", "linear"}
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "s.journal")))
    study = optuna.load_study(study_name="tune-lightgbm", storage=storage)
    assert study.trials[0].user_attrs.get("source") == "selection"
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == 1 + sum(t.candidate == "lightgbm" for t in result.trials)
    assert not metric.better(seeds["lightgbm"].mean, result.best["lightgbm"].mean)


def test_tuning_tries_the_portfolio_first_inside_the_space(data: TrainingData, tmp_path: Path) -> None:
    configs = portfolio("lightgbm", len(data.y), data.n_features, "binary")
    space = get_candidate("lightgbm").search_space(len(data.y), data.n_features, "binary")
    assert len(configs) >= 3 and all(space[k]._contains(space[k].to_internal_repr(v))
                                     for c in configs for k, v in c.items())
    assert max(c["num_leaves"] for c in configs) == space["num_leaves"].high, "128 leaves clipped to the space"
    result = tune({"lightgbm": 1.0}, data, get_metric("roc_auc"), seeds={}, storage=tmp_path / "s.journal",
                  seed=0, deadline=time.monotonic() + 600, max_trials=len(configs) + 1)
    tried = [t.params for t in result.trials]
    assert tried[: len(configs)] == configs and tried[-1] not in configs, "then TPE's own"
    assert all(t.note == "a portfolio configuration" for t in result.trials[: len(configs)] if t.state == "complete")


def test_a_failing_trial_is_recorded_not_raised(data: TrainingData, tmp_path: Path) -> None:
    broken = TrainingData(data.X.assign(fare=np.inf), data.y, "binary", [0, 1], data.plan, data.folds)
    result = tune({"linear": 1.0}, broken, get_metric("roc_auc"), seeds={}, storage=tmp_path / "s.journal",
                  seed=0, deadline=time.monotonic() + 30, max_trials=2)
    assert [t.state for t in result.trials] == ["failed", "failed"]
    assert "ValueError" in result.trials[0].note


def test_tuning_same_seed_same_trials(data: TrainingData, tmp_path: Path) -> None:
    metric = get_metric("roc_auc")
    runs = []
    for i in range(2):
        r = tune({"lightgbm": 1.0}, data, metric, seeds={}, storage=tmp_path / f"{i}.journal", seed=7,
                 deadline=time.monotonic() + 600, max_trials=4)
        runs.append([(t.params, t.value) for t in r.trials])
    assert runs[0] == runs[1]


def test_ensemble_and_final_model_round_trip(titanic: tuple, data: TrainingData, tmp_path: Path) -> None:
    frame, labels, plan = titanic
    metric = get_metric("log_loss")
    results = {n: cross_validate(get_candidate(n), get_candidate(n).defaults(len(data.y), data.n_features, "binary"),
                                 data, metric) for n in ("lightgbm", "linear", "random_forest")}
    choice = select_ensemble(results, data.y, metric)
    assert choice is None or (len(choice.weights) >= 2 and choice.score < choice.best_single_score)
    members = [Member(n, results[n].params, 1, results[n].iterations) for n in ("lightgbm", "linear")]
    spec = ModelSpec(members, "binary", [0, 1], threshold=0.4)
    train, hold = frame.iloc[:700], frame.iloc[700:]
    model = fit_model(spec, plan, train, labels.iloc[:700], seed=0, n_jobs=2).estimator
    table = predict_table(model, hold, spec)
    assert list(table.columns) == ["prediction", "proba_0", "proba_1"]
    assert ((table.proba_1 >= 0.4).astype(int) == table.prediction).all()
    ev = evaluate_holdout(model, spec, train[plan.features], labels.iloc[:700], hold[plan.features],
                          labels.iloc[700:], primary="roc_auc", seed=0, importance_seconds=20)
    assert ev.metrics["roc_auc"] > ev.baseline["roc_auc"] == 0.5
    assert ev.importances[0]["feature"] == "sex"
    assert sum(map(sum, ev.confusion["matrix"])) == len(hold)
    # The saved pipeline must load and predict with joblib, scikit-learn and LightGBM alone.
    printed = without_mlpilot(model, hold, "m.predict_proba(X)[:, 1].round(6).tolist()", tmp_path)
    assert np.allclose(eval(printed), table.proba_1.round(6).to_numpy())


@pytest.fixture(scope="module")
def segment() -> tuple[pd.DataFrame, pd.Series, ColumnPlan]:
    """About 520 rows of segment (7 classes, named), one of them with 3 rows."""
    frame = pd.read_csv(Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "segment.csv")
    frame = frame.sample(600, random_state=0)
    frame = frame.drop(index=frame.index[frame["class"] == "sky"][3:]).reset_index(drop=True)
    labels = frame.pop("class")
    return frame, labels, ColumnPlan(numeric=list(frame.columns))


def test_xgboost_keeps_a_class_whose_rows_all_fall_in_one_validation_fold(segment: tuple) -> None:
    frame, labels, plan = segment
    classes = sorted(labels.unique())
    y = np.searchsorted(classes, labels.to_numpy())
    rare = np.flatnonzero(labels.to_numpy() == "sky")
    fold_of = np.arange(len(y)) % 5
    fold_of[rare] = 0  # fold 0 trains without the 3-row class and validates on all of it
    folds = [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(5)]
    data = TrainingData(frame, y, "multiclass", list(range(len(classes))), plan, folds, seed=0)
    cand = get_candidate("xgboost")
    params = {**cand.defaults(len(y), data.n_features, "multiclass"), "learning_rate": 0.3, "max_depth": 4}
    result = cross_validate(cand, params, data, get_metric("log_loss"), deadline=time.monotonic() + 60)
    assert result.complete and len(result.iterations) == 5 and result.mean < 0.6
    assert result.oof.shape == (len(y), len(classes)) and np.allclose(result.oof.sum(axis=1), 1.0)
    sky = classes.index("sky")
    assert np.allclose(result.oof[rare, sky], 1 / (len(folds[0][0]) + 2)), "unseen in training: a small share"
    assert (result.oof[folds[1][1], sky] > 0).all(), "seen in training: a probability of its own"


def test_a_lone_xgboost_pipeline_uses_the_cv_rounds_and_loads_without_mlpilot(segment: tuple,
                                                                                tmp_path: Path) -> None:
    frame, labels, plan = segment
    cand = get_candidate("xgboost")
    configs = portfolio("xgboost", len(labels), len(plan.features), "multiclass")
    space = cand.search_space(len(labels), len(plan.features), "multiclass")
    assert len(configs) == 3 and max(c["max_depth"] for c in configs) == space["max_depth"].high == 6
    spec = ModelSpec([Member("xgboost", configs[0], 1, [40, 60])], "multiclass", sorted(labels.iloc[:400].unique()))
    model = fit_model(spec, plan, frame.iloc[:400], labels.iloc[:400], seed=0, n_jobs=1).estimator
    booster = model[-1].estimators_[0].estimator
    assert booster.n_estimators == 55 and booster.get_booster().num_boosted_rounds() == 55
    assert booster.callbacks is None and booster.early_stopping_rounds is None
    assert list(model.classes_) == spec.classes
    hold = frame.iloc[400:]
    table = predict_table(model, hold, spec)
    assert set(table.prediction) <= set(spec.classes) and (table.prediction == labels.iloc[400:]).mean() > 0.8
    assert eval(without_mlpilot(model, hold, "list(m.predict(X))", tmp_path)) == list(table.prediction)


def test_a_deadline_stops_xgboost_between_rounds(datasets_dir: Path) -> None:
    frame = pd.read_csv(datasets_dir / "phoneme.csv")
    y = frame.pop("class").to_numpy()
    cand = get_candidate("xgboost")
    model = cand.make("binary", {**cand.defaults(len(y), frame.shape[1], "binary"), "max_depth": 10,
                                 "learning_rate": 0.01}, seed=0, n_jobs=1)
    start = time.monotonic()
    info = cand.fit(model, frame, y, deadline=start + 0.3)
    assert info.cut_by_deadline and time.monotonic() - start < 1.5
    assert 0 < info.iterations < 2000 == model.estimators_[0].estimator.n_estimators
    assert model.predict_proba(frame.head(3)).shape == (3, 2)


@pytest.mark.parametrize("candidate", ["lightgbm", "xgboost", "catboost"])
def test_columns_named_with_characters_models_refuse_still_train(titanic: tuple, candidate: str,
                                                                 tmp_path: Path) -> None:
    """LightGBM stopped the whole run on a column named 'fare (assistant: ...)': JSON's special characters
    are refused in its feature names, brackets and '<' in XGBoost's."""
    frame, labels, plan = titanic
    odd = {"fare": 'fare (a: "b") [c], {d} <e>', "sex": "sex: m/f", "age": "age_3a_ [years]"}
    renamed = frame.rename(columns=odd)
    odd_plan = ColumnPlan(numeric=[odd.get(c, c) for c in plan.numeric],
                          categorical=[odd.get(c, c) for c in plan.categorical], high_cardinality=["cabin"])
    spec = ModelSpec([Member(candidate, {}, 1, [30])], "binary", [0, 1])
    model = fit_model(spec, odd_plan, renamed, labels, seed=0, n_jobs=1).estimator
    names = list(model.named_steps["prep"].transform(renamed.head(5)).columns)
    assert len(names) >= 6 and all(not set('",:[]{}<>') & set(n) for n in names)
    assert len(set(names)) == len(names), "two columns never share a name"
    assert "num__fare (a_3a_ _22_b_22_) _5b_c_5d__2c_ _7b_d_7d_ _3c_e_3e_" in names
    table = predict_table(model, renamed.head(20), spec)
    assert len(table) == 20 and table["proba_1"].between(0, 1).all()
    assert eval(without_mlpilot(model, renamed.head(20), "list(m.predict(X))", tmp_path)) == list(table.prediction)
