"""The modelling tools on real data: cleaning, candidates, cross-validation, tuning, ensembles, evaluation."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import optuna
import pandas as pd
import pytest

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
    with pytest.raises(ToolArgumentError, match="lightgbm"):
        get_candidate("xgboost")


def test_tune_records_trials_in_the_journal_and_respects_the_cap(data: TrainingData, tmp_path: Path) -> None:
    metric = get_metric("roc_auc")
    seeds = {n: cross_validate(get_candidate(n), get_candidate(n).defaults(len(data.y), data.n_features, "binary"),
                               data, metric) for n in ("lightgbm", "linear")}
    seen = []
    result = tune({"lightgbm": 0.5, "linear": 0.5}, data, metric, seeds=seeds, storage_path=tmp_path / "s.journal",
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
    result = tune({"lightgbm": 1.0}, data, get_metric("roc_auc"), seeds={}, storage_path=tmp_path / "s.journal",
                  seed=0, deadline=time.monotonic() + 600, max_trials=len(configs) + 1)
    tried = [t.params for t in result.trials]
    assert tried[: len(configs)] == configs and tried[-1] not in configs, "then TPE's own"
    assert all(t.note == "a portfolio configuration" for t in result.trials[: len(configs)] if t.state == "complete")


def test_a_failing_trial_is_recorded_not_raised(data: TrainingData, tmp_path: Path) -> None:
    broken = TrainingData(data.X.assign(fare=np.inf), data.y, "binary", [0, 1], data.plan, data.folds)
    result = tune({"linear": 1.0}, broken, get_metric("roc_auc"), seeds={}, storage_path=tmp_path / "s.journal",
                  seed=0, deadline=time.monotonic() + 30, max_trials=2)
    assert [t.state for t in result.trials] == ["failed", "failed"]
    assert "ValueError" in result.trials[0].note


def test_tuning_same_seed_same_trials(data: TrainingData, tmp_path: Path) -> None:
    metric = get_metric("roc_auc")
    runs = []
    for i in range(2):
        r = tune({"lightgbm": 1.0}, data, metric, seeds={}, storage_path=tmp_path / f"{i}.journal", seed=7,
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
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    hold.to_pickle(tmp_path / "rows.pkl")
    # The saved pipeline must load and predict with joblib, scikit-learn and LightGBM alone.
    code = ("import sys, joblib, pandas as pd; sys.modules['tools'] = None; sys.modules['agent'] = None; "
            f"m = joblib.load({str(path)!r}); X = pd.read_pickle({str(tmp_path / 'rows.pkl')!r}); "
            "print(m.predict_proba(X)[:, 1].round(6).tolist())")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert np.allclose(eval(out.stdout), table.proba_1.round(6).to_numpy())
