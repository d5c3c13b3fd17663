"""Temperature scaling: chosen only where it improves out-of-fold predictions, saved as plain scikit-learn."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from unittest import mock

import joblib
import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import FixedThresholdClassifier, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tools.calibrate import calibrated, choose_temperature, fit_temperature, scale
from tools.intake import read_table
from tools.metrics import get_metric
from tools.model import Member, ModelSpec, fit_model
from tools.preprocess import ColumnPlan


def _segment(datasets_dir: Path) -> tuple[pd.DataFrame, np.ndarray, list]:
    frame = read_table(datasets_dir / "segment.csv").frame
    labels = frame.pop("class")
    classes = sorted(labels.unique())
    return frame, np.array([classes.index(v) for v in labels]), classes


def _modules(obj: object) -> set[str]:
    """The top-level packages whose classes or functions loading ``obj`` imports (joblib's unpickler is
    pickle's pure-Python one, so its ``find_class`` sees every global)."""
    data = _dump(obj)
    seen: set[str] = set()
    original = pickle._Unpickler.find_class

    def spy(self: pickle._Unpickler, module: str, name: str) -> object:
        seen.add(module.split(".")[0])
        return original(self, module, name)

    with mock.patch.object(pickle._Unpickler, "find_class", spy):
        joblib.load(io.BytesIO(data))
    return seen


def test_an_over_confident_model_is_softened_and_its_out_of_fold_log_loss_drops(datasets_dir: Path) -> None:
    X, y, _ = _segment(datasets_dir)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    # Many rounds at a high rate: probabilities near 0 and 1, the over-confidence tuning can leave behind.
    oof = cross_val_predict(LGBMClassifier(n_estimators=300, learning_rate=0.2, verbose=-1), X, y, cv=folds,
                            method="predict_proba")
    metric = get_metric("log_loss")
    cal = choose_temperature(oof, y, folds, metric)
    assert cal.worth_it and cal.temperature > 1.2, cal
    assert cal.after < cal.before and log_loss(y, scale(oof, cal.temperature)) < metric(y, oof)
    assert np.allclose(scale(oof, cal.temperature).sum(axis=1), 1)
    assert (scale(oof, cal.temperature).argmax(axis=1) == oof.argmax(axis=1)).all(), "the ranking is unchanged"


def test_well_calibrated_probabilities_are_left_alone() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 4000)
    y = (rng.random(4000) < p).astype(int)  # the probabilities are the truth
    folds = list(StratifiedKFold(4, shuffle=True, random_state=0).split(p.reshape(-1, 1), y))
    cal = choose_temperature(np.column_stack([1 - p, p]), y, folds, get_metric("log_loss"))
    assert not cal.worth_it and abs(cal.temperature - 1) < 0.1


def test_the_calibrated_model_is_plain_scikit_learn_and_scales_what_the_model_gives(datasets_dir: Path) -> None:
    X, y, classes = _segment(datasets_dir)
    labels = np.array(classes, dtype=object)[y]
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, labels)
    wrapped = calibrated(linear, 1.7, X, labels)
    assert isinstance(wrapped, CalibratedClassifierCV) and list(wrapped.classes_) == list(linear.classes_)
    expected = scale(linear.predict_proba(X.iloc[:50]), 1.7)
    assert np.allclose(wrapped.predict_proba(X.iloc[:50]), expected), "probabilities, not decision values"
    assert (wrapped.predict(X.iloc[:50]) == linear.predict(X.iloc[:50])).all()
    loaded = joblib.load(io.BytesIO(_dump(wrapped)))
    assert np.allclose(loaded.predict_proba(X.iloc[:5]), expected[:5])
    assert not _modules(wrapped) & {"tools", "agent"}, "nothing of mlpilot is needed to load it"


def test_a_calibrated_spec_fits_into_the_threshold_wrapper(datasets_dir: Path) -> None:
    frame = read_table(datasets_dir / "titanic.csv").frame
    labels = frame.pop("survived")
    plan = ColumnPlan(numeric=["age", "fare", "pclass", "sibsp", "parch"], categorical=["sex", "embarked"])
    spec = ModelSpec([Member("lightgbm", {"n_estimators": 100}, 1, [100])], "binary", [0, 1], threshold=0.4,
                     temperature=1.5)
    model = fit_model(spec, plan, frame, labels, seed=0, n_jobs=1).estimator
    assert isinstance(model, FixedThresholdClassifier)
    assert isinstance(model.estimator.estimator, CalibratedClassifierCV)
    assert ModelSpec.from_dict(spec.to_dict()).temperature == 1.5
    proba = model.predict_proba(frame.iloc[:20])[:, 1]
    assert ((proba >= 0.4).astype(int) == model.predict(frame.iloc[:20])).all()
    raw = fit_model(ModelSpec(spec.members, "binary", [0, 1]), plan, frame, labels, seed=0, n_jobs=1).estimator
    assert np.allclose(proba, scale(raw.predict_proba(frame.iloc[:20]), 1.5)[:, 1])


def _dump(obj: object) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_fit_and_scale_agree(temperature: float) -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3000, 3)) * 2
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in truth])
    shown = scale(truth, 1 / temperature)  # the truth made over- or under-confident
    assert fit_temperature(shown, y) == pytest.approx(temperature, rel=0.15)


def test_a_calibrated_ensemble_with_catboost_and_xgboost_needs_nothing_of_mlpilot_to_load(datasets_dir: Path,
                                                                                         tmp_path: Path) -> None:
    frame = read_table(datasets_dir / "titanic.csv").frame
    labels = frame.pop("survived")
    plan = ColumnPlan(numeric=["age", "fare", "pclass", "sibsp", "parch"], categorical=["sex", "embarked"])
    members = [Member("lightgbm", {"n_estimators": 50}, 2, [50]), Member("catboost", {"depth": 4}, 1, [80]),
               Member("hist_gb", {}, 1, [40]), Member("xgboost", {"max_depth": 4}, 1, [60])]
    fitted = fit_model(ModelSpec(members, "binary", [0, 1], threshold=0.45, temperature=1.2), plan, frame, labels,
                       seed=0, n_jobs=1)
    assert not fitted.cut
    modules = _modules(fitted.estimator)
    assert not modules & {"tools", "agent"} and {"sklearn", "lightgbm", "catboost", "xgboost"} <= modules
    proba = fitted.estimator.predict_proba(frame.iloc[:30])
    assert proba.shape == (30, 2) and np.allclose(proba.sum(axis=1), 1)
    assert not (tmp_path / "catboost_info").exists() and not Path("catboost_info").exists()
