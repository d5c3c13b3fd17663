"""The rule policy, the guard and the decider: decisions with reasons, checked, logged, with fallback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from agent.decide.decider import Decider
from agent.decide.goal import goal_columns
from agent.decide.guard import check
from agent.decide.policy import ColumnBrief, Decision, FinalBrief, GoalBrief, SelectionBrief
from agent.decide.rules import RulePolicy
from agent.record.events import EventLog
from agent.record.reader import read_events
from tools.errors import DataError
from tools.leakage import find_leakage
from tools.profile import profile_frame
from tools.target import check_target, infer_task

rules = RulePolicy()


def brief(goal: str, columns: list[str], **kw: object) -> GoalBrief:
    return GoalBrief(goal=goal, columns=columns, profile_summary="", column_kinds={}, n_rows=100, **kw)


def test_budget_from_option_goal_or_default() -> None:
    assert rules.choose_budget("in 5 minutes", 30.0).choice == 30.0
    from_goal = rules.choose_budget("predict churn in 5 minutes", None)
    assert from_goal.choice == 300.0 and "5 minutes" in from_goal.reason
    assert rules.choose_budget("predict churn", None).choice == 120.0


def test_target_from_goal_convention_or_error() -> None:
    cols = ["age", "income", "churned"]
    assert rules.choose_target(brief("who churns next month?", cols)).choice == "churned"
    assert rules.choose_target(brief("", ["a", "b", "class"])).choice == "class"
    credit = rules.choose_target(brief("predict bad credit risk", ["credit_amount", "credit_history", "class"]))
    assert credit.choice == "class" and credit.alternatives[0]["choice"].startswith("credit_")
    with pytest.raises(DataError, match="Pass --target with one of: age, income, churned"):
        rules.choose_target(brief("make money", cols))
    with pytest.raises(DataError, match="Did you mean 'churned'"):
        rules.choose_target(brief("", cols, forced_target="churn"))


def test_task_evidence_and_metric_defaults(datasets_dir: Path) -> None:
    wine = pd.read_csv(datasets_dir / "wine_quality_white.csv")
    task, evidence = infer_task(wine["quality"])
    d = rules.choose_task(brief("", list(wine.columns)), "quality", task, evidence)
    assert d.choice == "multiclass" and d.alternatives[0]["choice"] == "regression"
    metric, rule = rules.choose_metric(brief("", []), "binary", {})
    assert (metric.choice, rule.choice) == ("roc_auc", {"kind": "max_f1"})
    metric, rule = rules.choose_metric(brief("percentage error", []), "regression", {"all_positive": False})
    assert metric.choice == "rmse" and "zero or negative" in metric.reason
    forced = rules.choose_metric(brief("recall matters", [], forced_metric="accuracy"), "binary", {})
    assert forced[0].choice == "accuracy" and forced[1].choice == {"kind": "max_accuracy"}


def test_columns_drop_ids_constants_and_leaks(datasets_dir: Path) -> None:
    bank = pd.read_csv(datasets_dir / "bank_marketing.csv", sep=";").head(3000)
    bank["row_id"] = range(len(bank))
    bank["constant"] = 1
    prof = profile_frame(bank)
    leak = find_leakage(bank, "y", "binary", seed=0)
    column_brief = ColumnBrief(target="y", task="binary", profile=prof.to_dict(), leakage=leak.to_dict(),
                               missing_signal={}, datetime_info={})
    decisions = {d.question: d for d in rules.choose_columns(column_brief)}
    assert decisions["drop:duration"].choice == "drop" and "--keep duration" in decisions["drop:duration"].reason
    assert decisions["drop:row_id"].choice == "drop" and "identifier" in decisions["drop:row_id"].reason
    assert decisions["drop:constant"].choice == "drop"
    plan = decisions["column_plan"].choice
    assert "y" not in sum((plan[k] for k in ("numeric", "categorical", "boolean")), [])
    assert "job" in plan["categorical"] and "balance" in plan["numeric"]
    kept = rules.choose_columns(ColumnBrief("y", "binary", prof.to_dict(), leak.to_dict(), {}, {}, keep=["duration"]))
    keep_decision = next(d for d in kept if d.question == "drop:duration")
    assert keep_decision.choice == "keep" and keep_decision.actor == "user"


def test_every_candidate_left_untuned_is_given_its_true_reason() -> None:
    """Within reach but over the cap of tuned candidates is not "too far behind"; a candidate cut by time
    before a fold finished is named too (it used to vanish from the log)."""
    board = [{"candidate": name, "mean": mean, "sd": 0.03, "folds": 5, "complete": True}
             for name, mean in (("catboost", 0.864), ("lightgbm", 0.862), ("linear", 0.860), ("extra_trees", 0.8377),
                                ("knn", 0.70))]
    board.append({"candidate": "random_forest", "mean": None, "sd": None, "folds": 0, "complete": False})
    cut = [{"candidate": "xgboost", "mean": None, "folds": 0, "complete": False, "failed": "XGBoostError: bad"}]
    d = rules.choose_tuning(SelectionBrief("binary", "roc_auc", True, board, 30.0, 1000, cut=cut, folds=5))
    assert list(d.choice["shares"]) == ["catboost", "lightgbm", "linear"]
    why = {a["choice"]: a["why_not"] for a in d.alternatives}
    margin = d.evidence["margin"]
    assert 0.864 - 0.8377 <= margin and "cap of 3 tuned candidates" in why["extra_trees"]
    assert "behind the leader, more than the margin" in why["knn"] and f"{0.864 - 0.70:.4f}" in why["knn"]
    assert "cut by time" in why["random_forest"]
    assert why["xgboost"] == "it failed in selection (XGBoostError: bad)"
    # A candidate the clock cut after 2 of 5 folds is compared on those folds; here it leads, so it is tuned.
    board.append({"candidate": "hist_gb", "mean": 0.871, "sd": 0.01, "folds": 2, "complete": False})
    d = rules.choose_tuning(SelectionBrief("binary", "roc_auc", True, board, 30.0, 1000, cut=cut, folds=5))
    assert list(d.choice["shares"]) == ["hist_gb", "catboost", "lightgbm"]
    assert "The clock cut the selection of hist_gb (2 of 5 folds)" in d.reason, d.reason
    why = {a["choice"]: a["why_not"] for a in d.alternatives}
    assert "cap of 3 tuned candidates" in why["linear"]
    board[-1]["mean"] = 0.75
    d = rules.choose_tuning(SelectionBrief("binary", "roc_auc", True, board, 30.0, 1000, cut=cut, folds=5))
    why = {a["choice"]: a["why_not"] for a in d.alternatives}
    assert "behind the leader" in why["hist_gb"] and "(its selection was cut by time: 2 of 5 folds)" in why["hist_gb"]
    board[-1].update(folds=5, mean=0.87)
    d = rules.choose_tuning(SelectionBrief("binary", "roc_auc", True, board, 30.0, 1000, cut=cut, folds=5))
    assert "hist_gb (fits stopped early)" in d.reason, d.reason
    assert why["xgboost"] == "it failed in selection (XGBoostError: bad)"


def test_a_goal_naming_the_columns_to_use_restricts_the_plan(datasets_dir: Path) -> None:
    titanic = pd.read_csv(datasets_dir / "titanic.csv")
    columns = list(titanic.columns)
    named = goal_columns("predict who survived; use age, sex and fare", columns, "survived")
    assert named.columns == ["age", "sex", "fare"] and not named.unknown
    assert goal_columns("predict who survived with high recall", columns, "survived") is None
    assert goal_columns("use the best model to predict survived", columns, "survived") is None
    typo = goal_columns("predict survived using age, sex and ticket_price", columns, "survived")
    assert typo.columns == ["age", "sex"] and typo.unknown == ["ticket_price"]

    prof = profile_frame(titanic)
    leak = find_leakage(titanic, "survived", "binary", seed=0)
    brief = ColumnBrief("survived", "binary", prof.to_dict(), leak.to_dict(), {}, {}, only=named.columns,
                        only_phrase=named.phrase)
    decisions = {d.question: d for d in rules.choose_columns(brief)}
    plan = decisions["column_plan"].choice
    roles = ("numeric", "boolean", "categorical", "high_cardinality", "datetime")
    used = sorted(c for role in roles for c in plan[role])
    assert used == ["age", "fare", "sex"]
    assert "the goal says which columns to use ('use age, sex and fare')" in decisions["drop:pclass"].reason


def test_tuning_shares_follow_the_leaderboard() -> None:
    board = [{"candidate": "lightgbm", "mean": 0.90, "sd": 0.01, "folds": 5, "complete": True},
             {"candidate": "hist_gb", "mean": 0.895, "sd": 0.01, "folds": 5, "complete": True},
             {"candidate": "linear", "mean": 0.80, "sd": 0.01, "folds": 5, "complete": True}]
    d = rules.choose_tuning(SelectionBrief("binary", "roc_auc", True, board, 30.0, 1000))
    assert d.choice["shares"] == {"lightgbm": 0.5, "hist_gb": 0.5}
    assert d.alternatives[0]["choice"] == "linear"
    assert "tuning the 2 candidate(s) within" in d.reason and "runner-up" not in d.reason
    apart = rules.choose_tuning(SelectionBrief("binary", "roc_auc", True, [board[0], board[2]], 30.0, 1000))
    assert apart.choice["shares"] == {"lightgbm": 0.5, "linear": 0.5}
    assert "tuning the 1 candidate(s) within 0.0090 of it" in apart.reason, apart.reason
    assert "the runner-up linear (0.1000 behind)" in apart.reason
    final = rules.choose_final(FinalBrief("roc_auc", board, None, target="y", columns=["a", "y"]))
    assert final.choice == {"kind": "single", "candidate": "lightgbm"} and "no blend" in final.reason
    blend = {"weights": {"lightgbm": 2, "hist_gb": 1}, "score": 0.95, "best_single_score": 0.90,
             "best_single": "lightgbm"}
    assert rules.choose_final(FinalBrief("roc_auc", board, blend)).choice == {"kind": "ensemble",
                                                                             "weights": blend["weights"]}
    pooled = {**blend, "weights": {"lightgbm#12": 3, "lightgbm": 1, "hist_gb#4": 1}}
    chosen = rules.choose_final(FinalBrief("roc_auc", board, pooled))
    assert chosen.choice["weights"] == pooled["weights"]
    assert "3 configurations (lightgbm trial 12, lightgbm defaults, hist_gb trial 4)" in chosen.reason
    facts = {"evaluated": ["lightgbm", "hist_gb"], "pool": list(pooled["weights"])}
    assert check(chosen, facts) is None
    assert "evaluated candidates" in check(Decision("final_model", {"kind": "single", "candidate": "lightgbm#12"},
                                                    ""), facts), "a single model names a candidate"


@pytest.mark.parametrize("rows, smallest, seconds, folds", [
    (800, 40, 2.0, 5),       # small table, time for it: bagged
    (50_000, 400, 2.0, 0),   # big table: one fit on all rows is as good and cheaper
    (800, 1, 2.0, 0),        # a class with one row: a fold model would never see it
    (800, 40, 60.0, 0),      # the fold models would not fit in the final fit's time
])
def test_bagging_for_small_tables_when_time_allows(rows: int, smallest: int, seconds: float, folds: int) -> None:
    d = rules.choose_bagging(rows, rows, smallest, 5, seconds, 10.0)
    assert d.question == "bagging" and d.choice == folds and d.alternatives
    assert ("averages the 5 fold models" in d.reason) == bool(folds)


def test_guard_rejects_invalid_decisions() -> None:
    facts = {"columns": ["a", "b", "y"], "target": "y", "task": "binary", "evaluated": ["lightgbm"]}
    assert "no column 'z'" in check(Decision("target", "z", ""), facts)
    assert "does not fit a binary task" in check(Decision("metric", "rmse", ""), facts)
    assert "cannot be dropped" in check(Decision("drop:y", "drop", ""), facts)
    assert "valid kinds" in check(Decision("threshold_rule", {"kind": "magic"}, ""), facts)
    assert "subset of" in check(Decision("candidates", ["svm"], ""), facts)
    assert "evaluated" in check(Decision("tuning", {"shares": {"linear": 1}}, ""), facts)
    plan = {"numeric": ["a", "y"], "dropped": {}}
    assert "cannot be a feature" in check(Decision("column_plan", plan, ""), facts)
    assert check(Decision("metric", "pr_auc", ""), facts) is None


def test_the_rules_hold_out_a_small_share_of_millions_of_rows_and_the_guard_lets_them() -> None:
    rows = 2_157_600
    validation = RulePolicy().choose_validation(rows, "regression", 5.0, None)
    assert validation.choice["holdout_share"] * rows >= 49_000 and validation.choice["holdout_share"] < 0.05
    assert check(validation, {"usable_rows": rows}) is None
    assert "between" in check(Decision("validation", {"holdout_share": 0.001, "folds": 3}, ""), {"usable_rows": rows})
    assert "between 0.05" in check(Decision("validation", {"holdout_share": 0.02, "folds": 3}, ""), {})


class _BadPolicy(RulePolicy):
    name = "llm"

    def choose_metric(self, brief: GoalBrief, task: str, target_info: dict) -> list[Decision]:
        return [Decision("metric", "rmse", "the model thought so", actor="llm"),
                Decision("threshold_rule", {"kind": "max_f1"}, "", actor="llm")]

    def choose_candidates(self, *args: object) -> Decision:
        raise TimeoutError("endpoint did not answer")


def test_decider_falls_back_to_rules_and_logs_it(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    decider = Decider(_BadPolicy(), log)
    metric = decider.ask(lambda p: p.choose_metric(brief("", []), "binary", {}), {"task": "binary"}, step="plan")
    assert metric[0].choice == "roc_auc" and metric[0].actor == "rules"
    cands = decider.one(lambda p: p.choose_candidates("binary", 100, 5, 60.0), {}, step="plan")
    assert cands.actor == "rules" and "lightgbm" in cands.choice
    events = read_events(tmp_path / "events.jsonl")
    fallbacks = [e for e in events if e["kind"] == "fallback"]
    assert fallbacks[0]["rejected"] == "rmse" and "does not fit" in fallbacks[0]["problem"]
    assert "TimeoutError" in fallbacks[1]["problem"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_target_checks_and_positive_class(datasets_dir: Path) -> None:
    credit = pd.read_csv(datasets_dir / "credit_g.csv")
    info = check_target(credit, "class", "binary", goal="predict bad credit")
    assert info.classes == ["good", "bad"] and "mentions 'bad'" in info.positive_reason
    info = check_target(credit, "class", "binary")
    assert info.classes[1] == "bad" and "rarer" in info.positive_reason
    hypo = pd.read_csv(datasets_dir / "hypothyroid.csv")
    info = check_target(hypo, "Class", "multiclass")
    assert info.rare_classes == {"secondary_hypothyroid": 2}, "noted as rare"
    assert len(info.classes) == 4 and "secondary_hypothyroid" in info.classes, "and kept"
    with pytest.raises(DataError, match="cannot be a regression target"):
        check_target(credit, "class", "regression")
    with pytest.raises(DataError, match="looks like an identifier"):
        check_target(pd.read_csv(datasets_dir / "titanic.csv"), "name", "multiclass")


def test_a_dominant_column_without_an_after_the_fact_name_is_kept_with_a_warning() -> None:
    leakage = {"suspects": [{"column": "x0", "severity": "suspect", "rule": "dominates_alone",
                             "reason": "alone it does most of the work.", "evidence": {}, "score_alone": 0.8},
                            {"column": "call_duration", "severity": "suspect", "rule": "dominates_alone",
                             "reason": "alone it does most of the work.", "evidence": {}, "score_alone": 0.8}]}
    column = {"kind": "numeric", "missing_share": 0.0, "n_unique": 500, "unique_share": 0.5, "constant": False,
              "id_like": False, "free_text": False, "near_constant": False, "flags": [], "top_values": []}
    profile = {"n_rows": 1000, "columns": [{**column, "name": n} for n in ("x0", "call_duration", "x1", "y")]}
    decisions = {d.question: d for d in rules.choose_columns(ColumnBrief("y", "binary", profile, leakage, {}, {}))}
    assert decisions["drop:x0"].choice == "keep" and "--drop x0" in decisions["drop:x0"].reason
    assert decisions["drop:call_duration"].choice == "drop"
    assert "x0" in decisions["column_plan"].choice["numeric"]


def test_the_candidates_reason_names_what_a_short_budget_leaves_out() -> None:
    short = rules.choose_candidates("binary", 4_000, 16, 10.0)
    assert short.choice == ["lightgbm", "linear"]
    assert "less catboost, random_forest, extra_trees, hist_gb, xgboost" in short.reason
    assert "10 s left" in short.reason and "half of LightGBM's few fits" in short.reason
    full = rules.choose_candidates("binary", 4_000, 16, 100.0)
    assert len(full.choice) == 7 and "less" not in full.reason and full.alternatives == []
    assert "xgboost" in full.choice and "XGBoost" in full.reason
    big = rules.choose_candidates("binary", 150_000, 16, 100.0)
    assert "catboost" not in big.choice and "slow on this many rows" in big.reason
    short = rules.choose_candidates("binary", 4_000, 16, 20.0)
    assert "catboost" not in short.choice and {"hist_gb", "xgboost"} <= set(short.choice)


def test_a_budget_given_twice_alike_has_no_alternative() -> None:
    same = rules.choose_budget("predict churn in 20 seconds", 20.0)
    assert same.choice == 20.0 and same.alternatives == []
    other = rules.choose_budget("predict churn in 20 seconds", 60.0)
    assert other.choice == 60.0 and other.alternatives[0]["choice"] == 20.0
