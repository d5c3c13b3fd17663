"""Metrics registry and threshold choice."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from tools.errors import ToolArgumentError
from tools.goalcheck import check_goal
from tools.metrics import binary_roc_auc, get_metric, labels_from_proba, metrics_for
from tools.threshold import choose_threshold, validate_rule


@pytest.fixture
def binary_scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    score = np.clip(y * 0.35 + rng.normal(0.35, 0.2, 2000), 0, 1)
    return y, score


def test_metrics_agree_with_sklearn(binary_scores: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = binary_scores
    proba = np.column_stack([1 - s, s])
    assert get_metric("roc_auc")(y, proba) == pytest.approx(skm.roc_auc_score(y, s))
    assert get_metric("pr_auc")(y, proba) == pytest.approx(skm.average_precision_score(y, s))
    assert get_metric("accuracy")(y, proba) == pytest.approx(skm.accuracy_score(y, s >= 0.5))
    assert get_metric("brier")(y, proba) == pytest.approx(skm.brier_score_loss(y, s))
    assert get_metric("rmse")(np.array([1.0, 2.0]), np.array([1.0, 4.0])) == pytest.approx(np.sqrt(2))


def test_multiclass_roc_auc_survives_a_missing_class() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    proba = np.array([[.8, .1, .1], [.7, .2, .1], [.2, .7, .1], [.1, .8, .1], [.6, .3, .1], [.3, .6, .1]])
    assert get_metric("roc_auc")(y, proba) == pytest.approx(1.0)


def test_get_metric_rejects_a_metric_of_another_task() -> None:
    with pytest.raises(ToolArgumentError, match="does not fit a regression task.*rmse"):
        get_metric("roc_auc", "regression")
    with pytest.raises(ToolArgumentError, match="Unknown metric 'rsme'"):
        get_metric("rsme", "regression")
    assert "mape" in metrics_for("regression") and "log_loss" in metrics_for("multiclass")


def test_direction() -> None:
    assert get_metric("rmse").better(1.0, 2.0) and not get_metric("roc_auc").better(0.6, 0.7)
    assert labels_from_proba(np.array([[0.7, 0.3], [0.4, 0.6]]), 0.25).tolist() == [1, 1]


def test_min_recall_rule_reaches_the_recall(binary_scores: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = binary_scores
    choice = choose_threshold(y, s, {"kind": "min_recall", "value": 0.9})
    assert choice.feasible and choice.recall >= 0.9
    looser = choose_threshold(y, s, {"kind": "min_recall", "value": 0.6})
    assert looser.threshold > choice.threshold and looser.precision >= choice.precision


def test_min_precision_and_f1_rules(binary_scores: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = binary_scores
    strict = choose_threshold(y, s, {"kind": "min_precision", "value": 0.9})
    assert strict.precision >= 0.9
    f1 = choose_threshold(y, s, {"kind": "max_f1"})
    for t in (0.3, 0.5, 0.7):
        assert f1.f1 >= skm.f1_score(y, s >= t) - 1e-9


def test_infeasible_rule_says_so() -> None:
    y = np.array([0, 1, 0, 1])
    s = np.array([0.9, 0.1, 0.8, 0.2])
    choice = choose_threshold(y, s, {"kind": "min_precision", "value": 0.99})
    assert not choice.feasible and "reaches precision 0.99" in choice.note


def test_validate_rule_rejects_nonsense() -> None:
    with pytest.raises(ToolArgumentError, match="valid kinds"):
        validate_rule({"kind": "max_magic"})
    with pytest.raises(ToolArgumentError, match="between 0 and 1"):
        validate_rule({"kind": "min_recall", "value": 1.5})


def test_the_fast_binary_roc_auc_equals_scikit_learn_s_ties_included() -> None:
    rng = np.random.default_rng(3)
    for n, digits in [(7, 1), (300, 2), (20_000, 3)]:
        y = rng.integers(0, 2, n)
        score = np.round(rng.random(n) + 0.3 * y, digits)  # rounding makes ties
        assert binary_roc_auc(y == 1, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
    with pytest.raises(ValueError, match="Only one class"):
        binary_roc_auc(np.ones(5, dtype=bool), np.arange(5.0))


def test_a_precision_target_met_only_by_the_top_rows_is_not_feasible() -> None:
    """Two positives at the very top reach precision 1.0, but a threshold flagging two rows honours no goal:
    the target must hold while flagging at least MIN_FLAGGED_POSITIVES positives."""
    y = np.array([1, 1] + [0, 1, 0, 0] * 50)
    scores = np.linspace(1.0, 0.0, len(y))
    chosen = choose_threshold(y, scores, {"kind": "min_precision", "value": 0.8})
    assert not chosen.feasible and "at least 5 positives" in chosen.note
    assert chosen.recall > 0.05, "the fallback flags enough rows to mean something"


def test_the_goal_check_reads_the_holdout_against_the_target() -> None:
    rule = {"kind": "min_precision", "value": 0.8}
    missed = check_goal(rule, {"precision": 0.625, "recall": 0.096}, {"matrix": [[795, 6], [94, 10]]},
                        out_of_fold={"feasible": True})
    assert not missed.met and missed.flagged == 16 and missed.rows == 905
    assert "precision on the holdout is 0.625, below the goal's 0.80" in missed.problems
    met = check_goal({"kind": "min_recall", "value": 0.8}, {"precision": 0.4, "recall": 0.85},
                     {"matrix": [[50, 30], [3, 17]]})
    assert met.met and met.target == {"recall": 0.8} and not met.problems
    nothing = check_goal({"kind": "max_f1"}, {"precision": 0.0, "recall": 0.0}, {"matrix": [[80, 0], [20, 0]]})
    assert not nothing.met and "flags none of the 100 held-out rows" in nothing.problems[0]
    assert check_goal({"kind": "max_f1"}, {"precision": 0.5, "recall": 0.5}, {"matrix": [[70, 10], [10, 10]]}) is None


def test_a_threshold_that_flags_everything_is_never_feasible() -> None:
    """A model that ranks nothing (every score equal) reaches any recall target by flagging every row."""
    y = np.array([1, 0] * 50)
    flat = choose_threshold(y, np.full(100, 0.5), {"kind": "min_recall", "value": 0.5})
    assert flat.recall == 1.0 and flat.precision == 0.5
    assert not flat.feasible and "flags all of the 100 rows" in flat.note
