"""Reading goals offline: targets, metrics and threshold rules, budgets."""

from __future__ import annotations

import pytest

from agent.decide.goal import match_target, metric_intent, parse_budget, stem

TITANIC = "survived,pclass,name,sex,age,sibsp,parch,ticket,fare,cabin,embarked".split(",")
HOUSING = ("longitude,latitude,housing_median_age,total_rooms,total_bedrooms,population,households,"
           "median_income,median_house_value,ocean_proximity").split(",")
TAXIS = ("pickup,dropoff,passengers,distance,fare,tip,tolls,total,color,payment,pickup_zone,dropoff_zone,"
         "pickup_borough,dropoff_borough").split(",")


@pytest.mark.parametrize("goal,columns,expected", [
    ("predict who survived; missing a survivor is worse than a false alarm", TITANIC, "survived"),
    ("which passengers survive?", TITANIC, "survived"),
    ("predict the median house value from income and location", HOUSING, "median_house_value"),
    ("predict the tip from distance and fare", TAXIS, "tip"),
    ("how many rings does an abalone have", ["sex", "length", "shell_weight", "rings"], "rings"),
    ("forecast ChurnFlag for our customers", ["customer_id", "tenure", "ChurnFlag"], "ChurnFlag"),
])
def test_match_target_names_the_column_to_predict(goal: str, columns: list[str], expected: str) -> None:
    matches = match_target(goal, columns)
    assert matches and matches[0].column == expected
    assert matches[0].why


def test_match_target_finds_nothing_in_an_unrelated_goal() -> None:
    assert match_target("build me something good", TITANIC) == []


def test_stem_joins_word_forms() -> None:
    assert stem("survived") == stem("survivor") == stem("survival") == stem("survive")


@pytest.mark.parametrize("goal,expected", [
    ("predict churn; recall matters most; 5 minutes", 300.0),
    ("in 90 seconds please", 90.0),
    ("within half an hour", 1800.0),
    ("a model in 2 min", 120.0),
    ("quick: 45s", 45.0),
    ("build a model for a client", None),
])
def test_parse_budget(goal: str, expected: float | None) -> None:
    assert parse_budget(goal)[0] == expected


@pytest.mark.parametrize("goal,task,metric,rule_kind", [
    ("missing a survivor is worse than a false alarm", "binary", "pr_auc", "min_recall"),
    ("predict churn; recall matters most", "binary", "pr_auc", "min_recall"),
    ("false alarms are worse than missing a case", "binary", "pr_auc", "min_precision"),
    ("flag fraud but avoid false alarms", "binary", "pr_auc", "min_precision"),
    ("we need good probabilities for pricing", "binary", "log_loss", "fixed"),
    ("ranking the leads matters", "binary", "roc_auc", "max_f1"),
    ("get most predictions right", "binary", "accuracy", "max_accuracy"),
    ("optimise F1", "binary", "f1", "max_f1"),
    ("every class matters equally", "multiclass", "balanced_accuracy", None),
    ("the error in dollars is what counts", "regression", "mae", None),
    ("percentage error matters", "regression", "mape", None),
    ("big mistakes are costly", "regression", "rmse", None),
])
def test_metric_intent_maps_phrases(goal: str, task: str, metric: str, rule_kind: str | None) -> None:
    intent = metric_intent(goal, task)
    assert intent is not None and intent.metric == metric
    if rule_kind is None:
        assert intent.threshold_rule is None
    else:
        assert intent.threshold_rule["kind"] == rule_kind


def test_metric_intent_reads_a_recall_level() -> None:
    intent = metric_intent("we need a recall of at least 90%", "binary")
    assert intent.threshold_rule == {"kind": "min_recall", "value": 0.9}


@pytest.mark.parametrize("goal,rule", [
    ("precision matters; 15 seconds", {"kind": "min_precision", "value": 0.8}),
    ("recall matters most, 3 minutes", {"kind": "min_recall", "value": 0.8}),
    ("recall 95 percent; 2 minutes", {"kind": "min_recall", "value": 0.95}),
    ("precision of 0.7 at least, in 30 s", {"kind": "min_precision", "value": 0.7}),
])
def test_a_budget_is_not_read_as_the_threshold_level(goal: str, rule: dict) -> None:
    assert metric_intent(goal, "binary").threshold_rule == rule


def test_metric_intent_is_none_without_a_hint() -> None:
    assert metric_intent("predict survival", "binary") is None
    assert metric_intent("recall matters", "regression") is None


def test_a_goal_that_calls_the_problem_hard_is_noticed() -> None:
    from agent.decide.goal import says_hard

    assert says_hard("predict fraud; it is a hard problem, labels are noisy") == "hard"
    assert says_hard("predict churn; 5 minutes") is None
    assert says_hard("") is None
