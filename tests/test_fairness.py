"""Sensitive columns and the fairness audit (tools.sensitive, tools.fairness) on the shared real data sets,
checked against direct pandas computations and against fairlearn, plus planted disparities of known size."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.cli_helpers import DATASETS
from tools.fairness import FairnessAudit, audit_fairness, group_stats
from tools.sensitive import find_sensitive, group_labels, name_category


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATASETS / name, sep=";" if name == "bank_marketing.csv" else ",")


def by_column(candidates: list) -> dict:
    return {c.column: c for c in candidates}


# --- find_sensitive -------------------------------------------------------------------------------------------

def test_titanic_sex_and_age() -> None:
    found = by_column(find_sensitive(read("titanic.csv"), target="survived"))
    assert list(found) == ["sex", "age"]
    assert found["sex"].category == "sex" and "female" in found["sex"].evidence and "male" in found["sex"].evidence
    assert found["age"].category == "age" and not found["age"].caveat
    # The target is never a candidate, whatever it is called.
    assert "sex" not in by_column(find_sensitive(read("titanic.csv"), target="sex"))


def test_credit_g_personal_status_age_foreign_worker() -> None:
    frame = read("credit_g.csv")
    found = find_sensitive(frame, target="class")
    assert [c.column for c in found] == ["personal_status", "age", "foreign_worker"]
    status = found[0]
    # Sex and marital status in one column: one category, the other named as well.
    assert status.category == "sex" and status.also == ["marital_status"]
    assert "sex" in status.evidence and "marital status" in status.evidence
    assert [c.category for c in found[1:]] == ["age", "nationality"]
    assert all(len(c.to_dict()["evidence"]) < 200 for c in found)


def test_abalone_sex_is_a_candidate_with_a_caveat() -> None:
    found = find_sensitive(read("abalone.csv"), target="rings")
    assert [c.column for c in found] == ["sex"]
    # 'I' (infant) is no person's sex: the column is still named for sex, but the caveat says so.
    assert "I" in found[0].caveat and "not be people" in found[0].caveat
    assert not find_sensitive(read("titanic.csv"), target="survived")[0].caveat


def test_no_person_columns_in_california_housing() -> None:
    # 'housing_median_age' is the houses' age.
    assert find_sensitive(read("california_housing.csv"), target="median_house_value") == []


def test_bank_marketing_age_and_marital() -> None:
    found = by_column(find_sensitive(read("bank_marketing.csv"), target="y"))
    assert list(found) == ["age", "marital"]
    assert found["marital"].category == "marital_status"
    assert "married" in found["marital"].evidence


@pytest.mark.parametrize("name", ["page_views", "average", "usage", "mileage", "percentage", "housing_median_age",
                                  "vehicle_age", "agent", "sex_ratio", "race_time", "status"])
def test_names_that_are_not_person_attributes(name: str) -> None:
    assert name_category(name) is None
    frame = pd.DataFrame({name: np.arange(100) % 7})
    assert find_sensitive(frame) == []


@pytest.mark.parametrize(("name", "category"), [
    ("age", "age"), ("Age_Years", "age"), ("applicant_age", "age"), ("AgeGroup", "age"), ("GENDER", "sex"),
    ("marital status", "marital_status"), ("personal_status", "marital_status"), ("native-country", "nationality"),
    ("country_of_birth", "nationality"), ("foreign_worker", "nationality"), ("ethnicity", "race"),
    ("religion", "religion"), ("disabled", "disability"), ("civil_status", "marital_status")])
def test_names_that_are(name: str, category: str) -> None:
    assert name_category(name) == category


def test_values_speak_when_the_name_does_not() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "c1": rng.choice(["Male", "Female"], 300),
        "c2": rng.choice(["Married-civ-spouse", "Never-married", "Divorced", "Widowed"], 300),
        "c3": rng.choice(["White", "Black", "Asian-Pac-Islander", "Other"], 300),
        "car_colour": rng.choice(["white", "black"], 300),          # colours, not races
        "code": rng.integers(0, 2, 300),                            # a 0/1 number says nothing
        "month": rng.choice(["jan", "mar", "sep", "dec"], 300),     # 'mar' and 'sep' are not marital states
        "size": rng.choice(["S", "M", "L"], 300),
        "sex": rng.integers(0, 2, 300),                             # a coded number named for sex is one
    })
    found = by_column(find_sensitive(frame))
    assert {k: v.category for k, v in found.items()} == {"c1": "sex", "c2": "marital_status", "c3": "race",
                                                        "sex": "sex"}
    assert "says nothing" in found["c1"].evidence and "coded" in found["sex"].evidence


def test_evidence_stays_short() -> None:
    countries = [f"Country with a rather long name number {i}" for i in range(40)]
    frame = pd.DataFrame({"nationality": countries * 5})
    (candidate,) = find_sensitive(frame)
    assert candidate.category == "nationality"
    assert "+35 more" in candidate.evidence and candidate.evidence.count("...") == 5
    assert len(candidate.evidence) < 250


# --- group_labels ---------------------------------------------------------------------------------------------

def test_credit_g_age_bands() -> None:
    ages = read("credit_g.csv")["age"]
    labels, note = group_labels(ages, "age")
    counts = labels.value_counts()
    assert int(counts.sum()) == len(ages)
    expected = pd.cut(ages, [-np.inf, 25, 40, 60, np.inf], right=False,
                      labels=["<25", "25-39", "40-59", "60+"]).value_counts()
    # Every band that kept its name holds exactly the ages of its range; merged ones hold their parts' sum.
    for band, n in counts.items():
        if band in expected.index:
            assert n == expected[band]
        assert n >= 30
    assert list(labels.cat.categories) == [b for b in ["<25", "25-39", "40-59", "60+", "40+"] if b in counts.index]
    assert "age in bands" in note


def test_small_age_bands_merge_into_a_neighbour() -> None:
    rng = np.random.default_rng(0)
    ages = pd.Series(np.r_[rng.integers(18, 25, 40), rng.integers(25, 40, 50), rng.integers(40, 60, 40),
                           rng.integers(60, 90, 5), [np.nan] * 3])
    labels, note = group_labels(ages, "age")
    counts = labels.value_counts().to_dict()
    assert counts == {"<25": 40, "25-39": 50, "40+": 45, "(missing)": 3}
    assert "60+ (5 rows) into 40-59" in note and "3 missing" in note


def test_rare_values_pool_into_other() -> None:
    purpose = read("credit_g.csv")["purpose"]
    labels, note = group_labels(purpose, "nationality", min_size=30)
    counts = labels.value_counts()
    raw = purpose.value_counts()
    rare = raw[raw < 30]
    assert len(rare) >= 2
    # The data's own 'other' value joins the pooled ones.
    assert counts["other"] == rare.sum() and int(counts.sum()) == len(purpose)
    assert all(v not in counts.index for v in rare.index if v != "other")
    assert list(labels.cat.categories)[-1] == "other" and "pooled as 'other'" in note


def test_other_numbers_in_quartile_bands() -> None:
    amounts = read("credit_g.csv")["credit_amount"]
    labels, note = group_labels(amounts, "race")
    counts = labels.value_counts()
    assert len(counts) == 4 and int(counts.sum()) == len(amounts)
    assert counts.min() > 0.2 * len(amounts) and " to " in counts.index[0] and "quantile" in note


# --- audit: real data against direct computations and fairlearn -----------------------------------------------

@pytest.fixture(scope="module")
def titanic_holdout() -> dict:
    frame = read("titanic.csv")
    features = pd.DataFrame({"female": (frame["sex"] == "female").astype(int), "pclass": frame["pclass"],
                             "age": frame["age"].fillna(frame["age"].median()), "fare": frame["fare"],
                             "sibsp": frame["sibsp"]})
    train, test = train_test_split(np.arange(len(frame)), test_size=0.4, random_state=0,
                                   stratify=frame["survived"])
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(features.iloc[train],
                                                                      frame["survived"].iloc[train])
    holdout = frame.iloc[test].reset_index(drop=True)
    return {"frame": holdout, "y": holdout["survived"].to_numpy(), "proba": model.predict_proba(features.iloc[test])}


@pytest.mark.parametrize("threshold", [0.5, 0.35])
def test_binary_audit_matches_direct_computation(titanic_holdout: dict, threshold: float) -> None:
    frame, y, proba = titanic_holdout["frame"], titanic_holdout["y"], titanic_holdout["proba"]
    audit = audit_fairness("binary", y, proba, {"sex": frame["sex"]}, classes=[0, 1], threshold=threshold,
                           categories={"sex": "sex"})
    (column,) = audit.columns
    assert column.category == "sex" and audit.n_rows == len(y) and audit.threshold == threshold

    direct = pd.DataFrame({"g": frame["sex"], "y": y, "hat": (proba[:, 1] >= threshold).astype(int),
                           "score": proba[:, 1]})
    for group in column.groups:
        rows = direct[direct["g"] == group.group]
        assert group.n == len(rows) and group.share == pytest.approx(len(rows) / len(direct))
        assert group.selection_rate == pytest.approx(rows["hat"].mean())
        assert group.true_positive_rate == pytest.approx(rows.loc[rows["y"] == 1, "hat"].mean())
        assert group.false_positive_rate == pytest.approx(rows.loc[rows["y"] == 0, "hat"].mean())
        assert group.precision == pytest.approx(rows.loc[rows["hat"] == 1, "y"].mean())
        assert group.mean_score == pytest.approx(rows["score"].mean())
        assert group.observed_rate == pytest.approx(rows["y"].mean())
        assert group.accuracy == pytest.approx((rows["y"] == rows["hat"]).mean())

    per_group = direct.groupby("g").agg(sel=("hat", "mean"))
    tpr = direct[direct["y"] == 1].groupby("g")["hat"].mean()
    fpr = direct[direct["y"] == 0].groupby("g")["hat"].mean()
    found = {d.name: d for d in column.disparities}
    sel = per_group["sel"]
    assert found["demographic_parity_difference"].value == pytest.approx(sel.max() - sel.min())
    assert found["demographic_parity_ratio"].value == pytest.approx(sel.min() / sel.max())
    assert found["equalized_odds_difference"].value == pytest.approx(max(tpr.max() - tpr.min(), fpr.max() - fpr.min()))
    assert found["demographic_parity_difference"].between == (sel.idxmax(), sel.idxmin())
    # And fairlearn's own functions give the same numbers.
    args = (y, direct["hat"].to_numpy())
    assert found["demographic_parity_difference"].value == pytest.approx(
        demographic_parity_difference(*args, sensitive_features=frame["sex"]))
    assert found["demographic_parity_ratio"].value == pytest.approx(
        demographic_parity_ratio(*args, sensitive_features=frame["sex"]))
    assert found["equalized_odds_difference"].value == pytest.approx(
        equalized_odds_difference(*args, sensitive_features=frame["sex"]))
    for d in column.disparities:
        assert d.low is not None and d.low <= d.high and d.n_boot >= 50


def test_numpy_group_rates_agree_with_fairlearn(titanic_holdout: dict) -> None:
    """The numpy bincounts behind every point estimate and resample equal fairlearn's MetricFrame, on a
    column with several groups (age bands, missing ages included)."""
    frame, y, proba = titanic_holdout["frame"], titanic_holdout["y"], titanic_holdout["proba"]
    labels, _ = group_labels(frame["age"], "age")
    hard = (proba[:, 1] >= 0.5).astype(int)
    names = list(labels.cat.categories)
    codes = labels.cat.codes.to_numpy()
    ours = group_stats("binary", codes, {"y": y, "hard": hard, "correct": (y == hard).astype(float)}, len(names))
    frame_ = MetricFrame(metrics={"selection_rate": selection_rate,
                                  "true_positive_rate": lambda t, p: true_positive_rate(t, p, pos_label=1),
                                  "false_positive_rate": lambda t, p: false_positive_rate(t, p, pos_label=1)},
                         y_true=y, y_pred=hard, sensitive_features=labels.astype(str)).by_group
    assert len(names) >= 3
    for i, name in enumerate(names):
        for key in ("selection_rate", "true_positive_rate", "false_positive_rate"):
            assert ours[key][i] == pytest.approx(frame_.loc[name, key])
    audit = audit_fairness("binary", y, proba, {"age": labels}, classes=[0, 1])
    found = {d.name: d.value for d in audit.columns[0].disparities}
    sensitive = labels.astype(str)
    assert found["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y, hard, sensitive_features=sensitive))
    assert found["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(y, hard, sensitive_features=sensitive))
    assert found["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y, hard, sensitive_features=sensitive))
    assert [g.group for g in audit.columns[0].groups] == names      # the bands' order is kept


# --- audit: planted disparities -------------------------------------------------------------------------------

def planted_binary(rate_a: float, rate_b: float, *, n: int = 4000, small: int = 0, seed: int = 1) -> tuple:
    """Exactly ``rate_a`` of group A and ``rate_b`` of group B predicted positive; truth half positive in
    each group, independent of the prediction; ``small`` rows of a group C."""
    rng = np.random.default_rng(seed)
    half = n // 2
    groups, y, score = [], [], []
    for name, rate, size in (("A", rate_a, half), ("B", rate_b, half), ("C", 0.5, small)):
        chosen = np.zeros(size, dtype=bool)
        chosen[: int(round(rate * size))] = True
        score.append(np.where(chosen, rng.uniform(0.5, 1.0, size), rng.uniform(0.0, 0.5, size)))
        y.append(rng.permutation(np.arange(size) % 2))
        groups += [name] * size
    p = np.concatenate(score)
    order = rng.permutation(len(p))
    return np.concatenate(y)[order], np.c_[1 - p, p][order], pd.Series(np.array(groups)[order])


def test_planted_disparity_is_flagged_and_its_interval_holds_it() -> None:
    y, proba, groups = planted_binary(0.6, 0.3, small=12)
    audit = audit_fairness("binary", y, proba, {"group": groups}, classes=["no", "yes"], seed=3)
    (column,) = audit.columns
    found = {d.name: d for d in column.disparities}
    dp, ratio = found["demographic_parity_difference"], found["demographic_parity_ratio"]
    assert dp.value == pytest.approx(0.3) and dp.low <= 0.3 <= dp.high and dp.flagged
    assert ratio.value == pytest.approx(0.5) and ratio.low <= 0.5 <= ratio.high and ratio.flagged
    assert dp.between == ("A", "B")
    # The small group is shown, but kept out of every comparison.
    assert column.small_groups == ["C"] and "C" in [g.group for g in column.groups]
    assert all("C" not in d.between for d in column.disparities) and "under 20 rows" in column.note
    assert audit.positive_class == "yes"
    sentence = next(w for w in audit.warnings if "demographic parity difference" in w)
    assert "group" in sentence and "60%" in sentence and "30%" in sentence and "n=2000" in sentence
    # One sentence per flagged gap; the parity ratio of the same two groups restates the difference's.
    assert len(audit.warnings) == sum(d.flagged for d in column.disparities) - 1
    assert not any("demographic parity ratio" in w for w in audit.warnings)


def test_balanced_control_is_not_flagged() -> None:
    y, proba, groups = planted_binary(0.45, 0.45)
    audit = audit_fairness("binary", y, proba, {"group": groups}, seed=3)
    found = {d.name: d for d in audit.columns[0].disparities}
    assert found["demographic_parity_difference"].value == pytest.approx(0.0)
    assert found["demographic_parity_difference"].low <= 0 <= found["demographic_parity_difference"].high
    assert not any(d.flagged for d in found.values()) and audit.warnings == []


def test_a_gap_too_noisy_to_trust_is_large_but_not_flagged() -> None:
    # 25 rows a group: a 12-point gap is above the size rule, but a resample easily reverses it.
    y, proba, groups = planted_binary(0.56, 0.44, n=50)
    audit = audit_fairness("binary", y, proba, {"group": groups}, seed=0)
    dp = next(d for d in audit.columns[0].disparities if d.name == "demographic_parity_difference")
    assert dp.large and dp.low < 0 and not dp.flagged


@pytest.fixture(scope="module")
def california() -> dict:
    frame = read("california_housing.csv").dropna()
    features = frame.drop(columns=["median_house_value", "ocean_proximity"])
    train, test = train_test_split(np.arange(len(frame)), test_size=0.3, random_state=0)
    target = frame["median_house_value"].to_numpy() / 1e5
    model = LinearRegression().fit(features.iloc[train], target[train])
    rng = np.random.default_rng(0)
    return {"y": target[test], "pred": model.predict(features.iloc[test]),
            "groups": pd.Series(rng.choice(["A", "B", "C"], len(test)))}


def test_regression_planted_bias_is_flagged(california: dict) -> None:
    y, pred, groups = california["y"], california["pred"].copy(), california["groups"]
    overall_mae = np.mean(np.abs(pred - y))
    pred[groups.to_numpy() == "B"] += overall_mae        # group B over-predicted by one typical error
    audit = audit_fairness("regression", y, pred, {"group": groups}, categories={"group": "synthetic"})
    found = {d.name: d for d in audit.columns[0].disparities}
    assert found["mae_difference"].flagged and found["mean_error_difference"].flagged
    assert found["mean_error_difference"].between[0] == "B"
    err = pred - y
    direct = pd.DataFrame({"g": groups, "abs": np.abs(err), "err": err}).groupby("g").mean()
    assert found["mae_difference"].value == pytest.approx(direct["abs"].max() - direct["abs"].min())
    assert found["mae_difference"].limit == pytest.approx(0.2 * np.mean(np.abs(err)))
    for group in audit.columns[0].groups:
        rows = groups.to_numpy() == group.group
        assert group.mean_error == pytest.approx(err[rows].mean())
        assert group.mean_prediction == pytest.approx(pred[rows].mean())
        assert group.mean_actual == pytest.approx(y[rows].mean())
    assert any("mean error" in w and "B" in w for w in audit.warnings)


def test_regression_control_is_not_flagged(california: dict) -> None:
    audit = audit_fairness("regression", california["y"], california["pred"], {"group": california["groups"]})
    assert audit.columns[0].disparities and not any(d.flagged for d in audit.columns[0].disparities)


def test_multiclass_accuracy_per_group_and_a_planted_gap() -> None:
    iris = load_iris()
    rng = np.random.default_rng(0)
    model = LogisticRegression(max_iter=500).fit(iris.data, iris.target)
    proba = model.predict_proba(iris.data)
    groups = pd.Series(rng.choice(["a", "b"], len(proba)))
    classes = list(iris.target_names)
    audit = audit_fairness("multiclass", iris.target, proba, {"g": groups}, classes=classes)
    hard = proba.argmax(axis=1)
    for group in audit.columns[0].groups:
        rows = groups.to_numpy() == group.group
        assert group.accuracy == pytest.approx(np.mean(hard[rows] == iris.target[rows]))
        assert sum(group.predicted_shares.values()) == pytest.approx(1.0)
        assert group.predicted_shares["setosa"] == pytest.approx(np.mean(hard[rows] == 0))
    assert {d.name for d in audit.columns[0].disparities} == {"accuracy_difference", "demographic_parity_difference"}
    assert audit.positive_class is None and audit.threshold is None
    # Group b's predictions scrambled: its accuracy falls to chance.
    scrambled = proba.copy()
    b = groups.to_numpy() == "b"
    scrambled[b] = rng.permutation(scrambled[b])
    audit = audit_fairness("multiclass", iris.target, scrambled, {"g": groups}, classes=classes)
    accuracy = next(d for d in audit.columns[0].disparities if d.name == "accuracy_difference")
    assert accuracy.flagged and accuracy.between == ("a", "b")
    assert any("accuracy" in w for w in audit.warnings)


# --- audit: odd data never raises, the result is JSON, the bootstrap is seeded and bounded ---------------------

@pytest.mark.parametrize("case", ["single group", "one-row group", "one predicted class", "nan groups",
                                  "no positives in a group", "empty", "nan scores"])
def test_edge_cases_do_not_raise(case: str) -> None:
    rng = np.random.default_rng(0)
    n = 120
    y, p = rng.integers(0, 2, n), rng.random(n)
    groups = pd.Series(["a", "b"] * (n // 2))
    if case == "single group":
        groups = pd.Series(["a"] * n)
    elif case == "one-row group":
        groups = pd.Series(["a"] * 60 + ["b"] * 59 + ["c"])
    elif case == "one predicted class":
        p = np.zeros(n)
    elif case == "nan groups":
        groups = pd.Series([None] * 40 + ["a"] * 80)
    elif case == "no positives in a group":
        y = np.where(groups == "a", 0, y)
    elif case == "empty":
        y, p, groups = y[:0], p[:0], groups[:0]
    elif case == "nan scores":
        p[:7] = np.nan
    audit = audit_fairness("binary", y, np.c_[1 - p, p], {"g": groups}, n_boot=60)
    text = json.dumps(audit.to_dict(), allow_nan=False)
    (column,) = audit.columns
    if case == "single group":
        assert column.disparities == [] and "fewer than two groups" in column.note
    elif case == "one-row group":
        assert column.small_groups == ["c"] and len(column.disparities) == 3
    elif case == "one predicted class":
        assert all(g.selection_rate == 0 and g.precision is None for g in column.groups)
        assert not any(d.flagged for d in column.disparities)
    elif case == "nan groups":
        assert [g.group for g in column.groups] == ["a", "(missing)"]
    elif case == "no positives in a group":
        a = next(g for g in column.groups if g.group == "a")
        assert a.true_positive_rate is None and a.false_positive_rate is not None
        eo = next(d for d in column.disparities if d.name == "equalized_odds_difference")
        assert eo.detail == "false positive rate"
    elif case == "empty":
        assert audit.n_rows == 0 and column.groups == [] and '"n_rows": 0' in text
    elif case == "nan scores":
        assert audit.n_rows == n - 7 and "7 of 120 rows" in audit.notes[0]


def test_other_tasks_on_odd_data() -> None:
    one = audit_fairness("multiclass", np.array([0, 1, 2]), np.eye(3), {"g": pd.Series(["a", "b", "c"])})
    assert one.columns[0].small_groups == ["a", "b", "c"] and one.columns[0].disparities == []
    flat = audit_fairness("regression", np.ones(50), np.ones(50), {"g": pd.Series(["a", "b"] * 25)})
    assert all(d.value == 0 and not d.large for d in flat.columns[0].disparities)
    with pytest.raises(ValueError, match="task must be one of"):
        audit_fairness("ranking", np.ones(3), np.ones(3), {})
    with pytest.raises(ValueError, match="aligned"):
        audit_fairness("regression", np.ones(3), np.ones(3), {"g": pd.Series(["a"])})


def test_seeded_and_bounded_bootstrap() -> None:
    y, proba, groups = planted_binary(0.6, 0.3, n=2000)
    first = audit_fairness("binary", y, proba, {"g": groups}, seed=7)
    again = audit_fairness("binary", y, proba, {"g": groups}, seed=7)
    assert first.to_dict()["columns"] == again.to_dict()["columns"]
    quick = audit_fairness("binary", y, proba, {"g": groups}, seed=7, seconds=0.0)
    assert {d.n_boot for d in quick.columns[0].disparities} == {50}
    few = audit_fairness("binary", y, proba, {"g": groups}, seed=7, n_boot=10)
    assert {d.n_boot for d in few.columns[0].disparities} == {10}
    assert isinstance(first, FairnessAudit) and first.seconds >= 0


def test_labels_instead_of_class_indices_are_refused_plainly() -> None:
    with pytest.raises(ValueError, match="class indices"):
        audit_fairness("binary", np.array(["good", "bad"] * 20), np.full((40, 2), 0.5), {"g": pd.Series(["a"] * 40)})
