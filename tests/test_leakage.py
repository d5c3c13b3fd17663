"""Leakage detection: the two known traps in the shared datasets are found, strong features are not."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.cli_helpers import DATASETS
from tools.errors import ToolArgumentError
from tools.leakage import find_leakage


def _read(name: str, **kwargs) -> pd.DataFrame:
    return pd.read_csv(DATASETS / name, **kwargs)


def test_bank_duration_is_flagged() -> None:
    report = find_leakage(_read("bank_marketing.csv", sep=";"), "y", "binary")
    assert [s.column for s in report.suspects] == ["duration"]
    suspect = report.suspects[0]
    assert suspect.severity == "suspect" and suspect.rule == "dominates_alone"
    assert suspect.score_alone == pytest.approx(0.80, abs=0.03)
    assert suspect.evidence["second_best_score"] < 0.7
    assert suspect.evidence["score_without"] < report.full_score - 0.1
    assert "duration" in report.summary() and report.complete


def test_taxis_total_is_flagged() -> None:
    frame = _read("taxis.csv", parse_dates=["pickup", "dropoff"])
    report = find_leakage(frame, "tip", "regression")
    assert [s.column for s in report.suspects] == ["total"]
    suspect = report.suspects[0]
    assert suspect.rule == "reconstructs_target"
    assert report.linear_score > 0.8 and report.linear_scores_without["total"] < 0.4
    assert "pickup" in report.single_column_scores  # datetimes are scored as epoch seconds


@pytest.mark.parametrize(
    ("name", "target", "task"),
    [("titanic.csv", "survived", "binary"),
     ("diamonds.csv", "price", "regression"),  # carat/x/y/z are strong but twins
     ("california_housing.csv", "median_house_value", "regression"),  # median_income is strong
     ("hypothyroid.csv", "Class", "multiclass")],  # TSH alone has AUC ~0.99 and is legitimate
)
def test_no_false_alarm_on_strong_features(name: str, target: str, task: str) -> None:
    report = find_leakage(_read(name), target, task)
    assert report.suspects == (), report.summary()
    assert report.complete and report.full_score is not None
    json.loads(json.dumps(report.to_dict(), allow_nan=False))


def _synthetic(task: str, n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(4)})
    frame["group"] = pd.Series(rng.choice(["a", "b", "c"], n), dtype="str")
    signal = frame["x0"] + 0.5 * rng.normal(size=n)
    frame["target"] = (signal > 0).astype("int64") if task == "binary" else signal
    frame["copy"] = frame["target"] + rng.normal(scale=0.01, size=n)
    frame["customer"] = pd.Series([f"c{i:05d}" for i in range(n)], dtype="str")
    frame["constant"] = 1.0
    return frame


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_target_plus_noise_is_strong(task: str) -> None:
    report = find_leakage(_synthetic(task), "target", task)
    strong = [s for s in report.suspects if s.severity == "strong"]
    assert [s.column for s in strong] == ["copy"]
    assert strong[0].rule == "near_perfect_alone" and strong[0].score_alone > 0.95
    assert "x0" not in [s.column for s in report.suspects]
    assert report.skipped == {"customer": "identifier-like text (almost one value per row)",
                              "constant": "constant or empty"}


def test_time_limit_is_respected() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(5000, 400)), columns=[f"c{i}" for i in range(400)])
    frame["target"] = rng.integers(0, 2, 5000)
    report = find_leakage(frame, "target", "binary", time_limit=1.0)
    assert report.seconds < 2.5
    assert not report.complete and report.full_score is None
    assert any("time limit" in note for note in report.notes)


def test_columns_and_sampling() -> None:
    frame = _read("bank_marketing.csv", sep=";")
    report = find_leakage(frame, "y", "binary", columns=["age", "balance", "month"], max_rows=1000, seed=3)
    assert set(report.single_column_scores) == {"age", "balance", "month"}
    assert report.n_rows_used == 1000 and report.suspects == ()


def test_argument_errors() -> None:
    frame = _synthetic("binary", n=100)
    with pytest.raises(ToolArgumentError, match="task must be one of"):
        find_leakage(frame, "target", "classification")
    with pytest.raises(ToolArgumentError, match="No target column"):
        find_leakage(frame, "tgt", "binary")
    with pytest.raises(ToolArgumentError, match="numeric target"):
        find_leakage(frame, "group", "regression")
    with pytest.raises(ToolArgumentError, match="multiclass"):
        find_leakage(frame, "group", "binary")


def _titanic() -> pd.DataFrame:
    return pd.read_csv(DATASETS / "titanic.csv")


def test_an_outcome_record_whose_presence_is_the_outcome_is_flagged() -> None:
    """A follow-up note filled in for 90% of survivors and missing otherwise: as a text column alone it is
    weak evidence, but whether it is there says who survived."""
    frame = _titanic()
    rng = np.random.default_rng(1)
    filled = (frame["survived"] == 1).to_numpy() & (rng.random(len(frame)) < 0.9)
    frame["followup_note"] = np.where(filled, rng.choice(["called", "letter", "visit"], len(frame)), None)
    report = find_leakage(frame, "survived", "binary", seed=0)
    hit = next(s for s in report.suspects if s.column == "followup_note")
    assert hit.rule == "presence_encodes_target" and hit.evidence["indicator"] == "present"
    assert hit.evidence["indicator_auc"] >= 0.93
    assert report.presence["cabin"]["auc"] < 0.8, "an honest, mostly missing column stays far below"
    assert {s.column for s in report.suspects} == {"followup_note"}


def test_an_amount_paid_only_in_positive_cases_is_flagged_even_as_a_pair() -> None:
    """Two amounts that are non-zero exactly when the target is yes mask each other in the rules that compare
    columns; the presence rule sees each."""
    frame = _titanic()
    rng = np.random.default_rng(2)
    positive = (frame["survived"] == 1).to_numpy()
    frame["refund"] = np.where(positive & (rng.random(len(frame)) < 0.97), rng.gamma(2, 30, len(frame)), 0.0)
    frame["voucher"] = np.where(positive & (rng.random(len(frame)) < 0.97), rng.gamma(2, 10, len(frame)), 0.0)
    report = find_leakage(frame, "survived", "binary", seed=0)
    flagged = {s.column: s for s in report.suspects}
    assert {"refund", "voucher"} <= set(flagged)
    assert all(flagged[c].severity == "strong" for c in ("refund", "voucher"))


@pytest.mark.parametrize("formula", ["sum", "ratio"])
def test_columns_that_rebuild_a_regression_target_by_arithmetic_are_dropped(formula: str) -> None:
    frame = pd.read_csv(DATASETS / "abalone.csv")
    rng = np.random.default_rng(3)
    rings = frame["rings"].to_numpy(dtype=float)
    if formula == "sum":
        before = np.floor(rings * rng.uniform(0.2, 0.8, len(frame)))
        frame["rings_before"], frame["rings_added"] = before, rings - before
        planted = ["rings_before", "rings_added"]
    else:
        frame["rings_per_gram"] = rings / frame["whole_weight"].to_numpy(dtype=float)
        planted = ["rings_per_gram"]
    report = find_leakage(frame, "rings", "regression", seed=0)
    rules = {s.column: (s.rule, s.severity) for s in report.suspects}
    for column in planted:
        assert rules[column] == ("arithmetic_of_target", "strong"), rules
    assert report.arithmetic and report.arithmetic[0]["share"] >= 0.99
    assert set(rules) <= set(planted) | {"whole_weight"}, "honest columns are not parts, but the ratio's divisor is"


def test_a_column_named_as_an_after_the_fact_record_is_questioned_when_it_carries_signal() -> None:
    frame = _titanic()
    rng = np.random.default_rng(4)
    survived = (frame["survived"] == 1).to_numpy()
    frame["refund_status"] = np.where(rng.random(len(frame)) < 0.7, survived, ~survived).astype(int)
    frame["cancellation_code"] = rng.integers(0, 5, len(frame))   # the name, but no signal
    report = find_leakage(frame, "survived", "binary", seed=0)
    flagged = {s.column: s for s in report.suspects}
    assert flagged["refund_status"].rule == "named_after_the_fact" and flagged["refund_status"].severity == "suspect"
    assert flagged["refund_status"].evidence["word"] == "refund"
    assert "cancellation_code" not in flagged
