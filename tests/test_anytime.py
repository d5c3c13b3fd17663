"""The pieces that keep a run anytime on any table: the first model, its samples, the feature screen."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

from tools.evaluate import encode_labels
from tools.intake import read_table
from tools.model import class_probabilities
from tools.preprocess import ColumnPlan
from tools.quick import START_ROWS, fit_first_model, sample_rows
from tools.screen import screen_features


def _table(path: Path, target: str) -> tuple[pd.DataFrame, pd.Series, ColumnPlan]:
    frame = read_table(path).frame
    frame = frame[frame[target].notna()].reset_index(drop=True)
    labels = frame.pop(target)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in frame.columns if c not in numeric]
    return frame, labels, ColumnPlan(numeric=numeric, categorical=categorical)


def test_samples_keep_every_class(datasets_dir: Path) -> None:
    labels = read_table(datasets_dir / "hypothyroid.csv").frame["Class"].dropna().reset_index(drop=True)
    rare = labels.value_counts().idxmin()
    picked = sample_rows(labels, 300, task="multiclass", seed=0)
    assert len(picked) == 300 and (np.diff(picked) > 0).all()
    assert set(labels.iloc[picked]) == set(labels), f"the rarest class ({rare}) is in the sample"
    assert (sample_rows(labels, 10**9, task="multiclass", seed=0) == np.arange(len(labels))).all()


def test_the_first_model_grows_while_its_time_allows(datasets_dir: Path) -> None:
    X, values, plan = _table(datasets_dir / "diamonds.csv", "price")
    quick = fit_first_model(plan, "regression", [], X, values, threshold_rule=None, seconds=0.3, seed=0, n_jobs=1)
    assert quick.rows == START_ROWS and quick.of_rows == len(X), "a fraction of a second: the smallest sample only"
    start = time.monotonic()
    grown = fit_first_model(plan, "regression", [], X, values, threshold_rule=None, seconds=6.0, seed=0, n_jobs=1)
    assert time.monotonic() - start < 6.0 * 1.5
    assert grown.rows > quick.rows and grown.seconds_per_row > 0 and grown.threshold is None
    error = np.abs(grown.model.predict(X.iloc[-2000:]) - values.iloc[-2000:]).mean()
    assert error < 0.5 * np.abs(values - values.mean()).mean(), "far better than the mean"


def test_the_first_model_sets_the_goal_s_threshold(datasets_dir: Path) -> None:
    X, labels, plan = _table(datasets_dir / "bank_marketing.csv", "y")
    classes = sorted(labels.unique())
    fit = fit_first_model(plan, "binary", classes, X, labels, threshold_rule={"kind": "min_recall", "value": 0.8},
                          seconds=5.0, seed=0, n_jobs=1)
    assert fit.rows == len(X), "a small table is fitted whole"
    assert fit.threshold is not None and fit.threshold.recall >= 0.8 and fit.spec.threshold == fit.threshold.threshold
    proba = class_probabilities(fit.model, X.iloc[-2000:], fit.spec)
    assert proba.shape == (2000, 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(fit.model.predict(X.iloc[-50:])) <= set(classes), "predicts the file's own labels"


def test_the_first_model_knows_every_class(datasets_dir: Path) -> None:
    X, labels, plan = _table(datasets_dir / "hypothyroid.csv", "Class")
    counts = labels.value_counts()
    keep = labels.isin(counts[counts >= 10].index)
    X, labels = X[keep].reset_index(drop=True), labels[keep].reset_index(drop=True)
    classes = sorted(labels.unique())
    fit = fit_first_model(plan, "multiclass", classes, X, labels, threshold_rule=None, seconds=5.0, seed=0, n_jobs=1)
    proba = class_probabilities(fit.model, X, fit.spec)
    assert proba.shape[1] == len(classes)
    accuracy = float((proba.argmax(axis=1) == encode_labels(labels, classes)).mean())
    assert accuracy > counts.max() / counts.sum(), "better than always guessing the commonest class"


def test_the_screen_keeps_real_features_among_noise() -> None:
    data = load_breast_cancer(as_frame=True)
    rng = np.random.default_rng(0)
    noise = pd.DataFrame(rng.normal(size=(len(data.frame), 400)), columns=[f"noise_{i}" for i in range(400)])
    X = pd.concat([data.data, noise], axis=1)
    X["noise_cat"] = rng.choice(list("abc"), size=len(X))
    X.loc[X.index[::9], "mean radius"] = np.nan
    screen = screen_features(X, data.target.to_numpy(), "binary", keep=20, numeric=list(X.columns[:-1]),
                             always=["noise_7"])
    real = [c for c in screen.kept if not c.startswith("noise")]
    assert len(screen.kept) == 21 and "noise_7" in screen.kept, "what must stay, stays on top of the 20"
    assert len(real) == 20, f"kept noise instead of real features: {screen.kept}"
    assert screen.scores["worst perimeter"] > 0.5 > max(v for c, v in screen.scores.items() if c.startswith("noise"))
    assert "mean radius" in screen.scores and screen.scores["mean radius"] > 0.3, "missing values get their own bin"
    assert len(screen.dropped()) == X.shape[1] - 21


def test_the_screen_sees_a_link_that_is_not_monotone() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(4000, 50)), columns=[f"x{i}" for i in range(50)])
    y = (X["x3"].abs() > 1).astype(int).to_numpy()  # no correlation, a strong link
    screen = screen_features(X, y, "binary", keep=1, numeric=list(X.columns))
    assert screen.kept == ["x3"] and abs(np.corrcoef(X["x3"], y)[0, 1]) < 0.05
    y3 = np.digitize(X["x5"], [-0.5, 0.5])
    assert screen_features(X, y3, "multiclass", keep=1, numeric=list(X.columns)).kept == ["x5"]
