"""A class with a handful of rows is kept: the plan says so, the model knows it, and its rows get a
probability above zero (dropped, they would get 0 in use and an unbounded log loss)."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from agent import run
from agent.record.reader import RunRecord
from tests.cli_helpers import DATASETS
from tools.crossval import predict_encoded
from tools.split import holdout_split


def _with_rare_class(tmp_path: Path, rows: int = 5) -> tuple[Path, pd.DataFrame]:
    frame = pd.read_csv(DATASETS / "segment.csv")
    rare = frame.index[frame["class"] == "sky"][:rows]
    frame.loc[rare, "class"] = "rare"
    path = tmp_path / "segment_rare.csv"
    frame.to_csv(path, index=False)
    return path, frame.loc[rare]


def test_a_five_row_class_is_kept_and_predicted_with_a_probability(tmp_path: Path) -> None:
    path, rare_rows = _with_rare_class(tmp_path)
    outcome = run(path, goal="predict class", budget=12, max_trials=2, runs_dir=tmp_path / "runs")
    assert outcome.status == "completed", outcome.error
    record = RunRecord(outcome.run_dir)
    kept = record.decision("rare_class:rare")
    assert kept["choice"] == "keep" and kept["evidence"]["rows"] == 5
    model = joblib.load(outcome.run_dir / "model.joblib")
    proba = model.predict_proba(rare_rows.drop(columns=["class"]))
    column = list(model.classes_).index("rare") if "rare" in list(model.classes_) else None
    assert column is not None, f"the model knows every class; it has {list(model.classes_)}"
    assert np.all(proba[:, column] > 0), "every row of the rare class gets a probability"
    assert np.isfinite(outcome.metrics["metrics"]["log_loss"]) and outcome.metrics["metrics"]["log_loss"] < 1.0


def test_a_class_with_one_row_stays_in_the_training_part() -> None:
    y = np.array([0] * 50 + [1] * 50 + [2])
    train, hold = holdout_split(y, 0.2, task="multiclass", seed=3)
    assert 100 in train and 100 not in hold and len(hold) == 20
    assert sorted(np.concatenate([train, hold]).tolist()) == list(range(101))
    again = holdout_split(y[:100], 0.2, task="multiclass", seed=3)
    assert np.array_equal(np.sort(again[1]), np.sort(hold)), "without a single-row class the split is unchanged"


def test_a_fold_that_never_saw_a_class_gives_it_a_small_probability_not_zero() -> None:
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"x": np.r_[np.zeros(20), np.ones(20)]})
    model = LogisticRegression().fit(X, np.r_[np.zeros(20, int), np.ones(20, int)])
    proba = predict_encoded(model, X, "multiclass", 3, rows_seen=40)
    assert proba.shape == (40, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.allclose(proba[:, 2], 1 / 42), "an unseen class: about one in (rows seen + 2)"
