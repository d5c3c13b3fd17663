"""The holdout charts' data (tools.curves) and the report's column histograms, on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from agent.record.html_data import histogram_from_quantiles
from tools.curves import holdout_curves, partial_dependence


def _breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(X[::2], y[::2])
    return y[1::2], model.predict_proba(X[1::2])


def test_binary_curves_describe_the_predictions() -> None:
    y, proba = _breast_cancer()
    c = holdout_curves("binary", y, proba, ["malignant", "benign"], 0.7)
    assert np.trapezoid(c["roc"]["tpr"], c["roc"]["fpr"]) == pytest_approx(roc_auc_score(y, proba[:, 1]), 0.01)
    assert c["gains"]["found"][-1] == 1.0 and c["gains"]["called"][0] == 0.0
    point = c["operating_point"]
    assert point["flagged"] == int((proba[:, 1] >= 0.7).sum()) and point["threshold"] == 0.7
    assert sum(c["calibration"]["rows"]) == len(y) and len(c["calibration"]["rows"]) == 10
    assert [r["class"] for r in c["per_class"]] == ["malignant", "benign"]
    assert sum(r["support"] for r in c["per_class"]) == len(y)
    assert len(c["roc"]["fpr"]) <= 200


def pytest_approx(value: float, tol: float) -> object:
    import pytest

    return pytest.approx(value, abs=tol)


def test_regression_and_several_classes(datasets_dir: Path) -> None:
    y = np.linspace(0, 10, 1000)
    c = holdout_curves("regression", y, y + 1.0, [], None)
    assert c["residual_mean"] == -1.0 and len(c["scatter"]["actual"]) == 400
    assert sum(c["residuals"]["counts"]) == 1000
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]])
    m = holdout_curves("multiclass", np.array([0, 1, 0, 0]), proba, ["a", "b", "c"], None)
    assert [r["support"] for r in m["per_class"]] == [3, 1, 0]
    assert m["per_class"][0]["recall"] == round(2 / 3, 4)


def test_partial_dependence_follows_the_model(datasets_dir: Path) -> None:
    frame = pd.read_csv(datasets_dir / "titanic.csv")[["age", "fare", "sex"]].dropna()
    # A "model" whose prediction rises with age and ignores fare: its dependence shows exactly that.
    items = partial_dependence(lambda X: X["age"].to_numpy() / 100.0, frame, ["age", "fare", "sex"], seconds=10)
    by = {i["feature"]: i for i in items}
    ages = np.asarray(by["age"]["mean"], dtype=float).ravel()
    assert by["age"]["numeric"] and np.all(np.diff(ages) > 0)
    assert np.ptp(np.asarray(by["fare"]["mean"], dtype=float)) < 1e-9
    assert not by["sex"]["numeric"] and set(by["sex"]["grid"]) == {"male", "female"}


def test_a_histogram_from_quantiles_keeps_the_shares() -> None:
    values = np.random.default_rng(0).exponential(2.0, 5000)
    quantiles = np.quantile(values, np.linspace(0, 1, 101)).tolist()
    bars = histogram_from_quantiles(quantiles)
    shares = [s for _, s in bars]
    assert abs(sum(shares) - 1.0) < 1e-9 and shares[0] > shares[-1]
    counts, _ = np.histogram(values, bins=12, range=(quantiles[0], quantiles[-1]))
    assert np.allclose(shares, counts / counts.sum(), atol=0.02)
