"""Profiling on real datasets and on small frames built to show one thing each."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.cli_helpers import DATASETS
from tools.errors import ToolArgumentError
from tools.profile import profile_frame


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATASETS / name)


@pytest.fixture(scope="module")
def titanic():
    return profile_frame(_read("titanic.csv"), target="survived")


def test_titanic_columns(titanic) -> None:
    name = titanic.column("name")
    assert name.id_like and name.free_text and name.kind == "text"
    assert any("unique per row (891 of 891)" in f for f in name.flags)
    assert titanic.column("age").missing == 177
    assert titanic.column("cabin").missing_share == pytest.approx(0.771, abs=0.005)
    ticket = titanic.column("ticket")  # a high-cardinality short code: categorical, not text, not an id
    assert ticket.kind == "categorical" and not ticket.free_text and not ticket.id_like
    sex = titanic.column("sex")
    assert sex.kind == "categorical" and sex.n_unique == 2 and sex.top_values[0] == ("male", 577)
    fare = titanic.column("fare")
    assert fare.kind == "numeric" and not fare.id_like
    assert set(fare.stats) >= {"mean", "std", "min", "q25", "median", "q75", "max", "zeros_share"}
    assert fare.stats["median"] == pytest.approx(14.4542)
    assert titanic.column("pclass").kind == "numeric"  # low-cardinality integers stay numeric
    assert [c.name for c in titanic.columns if c.id_like] == ["name"]


def test_titanic_target(titanic) -> None:
    t = titanic.target
    assert t.task_hint == "binary" and t.n_missing == 0
    assert t.class_counts == {"0": 549, "1": 342}
    assert t.minority_share == pytest.approx(342 / 891)
    assert t.imbalance_ratio == pytest.approx(549 / 342)


def test_summary_and_json(titanic) -> None:
    text = titanic.summary()
    assert "name" in text and "Identifier-like" in text and "549" in text
    assert "Braund" not in text  # no raw cell values of free text
    again = json.loads(json.dumps(titanic.to_dict()))
    assert again["n_rows"] == 891 and again["target"]["class_counts"] == {"0": 549, "1": 342}
    assert again["columns"][4]["name"] == "age" and again["columns"][4]["missing"] == 177


def test_horse_colic_hospital_number_is_an_identifier() -> None:
    p = profile_frame(_read("horse_colic.csv"), target="surgical_lesion")
    col = p.column("hospital_number")
    assert col.id_like and "name suggests an identifier" in col.flags
    assert [c.name for c in p.columns if c.id_like] == ["hospital_number"]
    assert p.column("lesion_3").near_constant


def test_hypothyroid_multiclass_target() -> None:
    p = profile_frame(_read("hypothyroid.csv"), target="Class")
    t = p.target
    assert t.task_hint == "multiclass"
    assert list(t.class_counts) == ["negative", "compensated_hypothyroid", "primary_hypothyroid",
                                    "secondary_hypothyroid"]
    assert t.class_counts["secondary_hypothyroid"] == 2
    assert t.imbalance_ratio == pytest.approx(3481 / 2)
    assert t.minority_share == pytest.approx(2 / 3772)
    assert p.column("TBG").constant and p.column("TBG measured").constant


def test_california_regression_target() -> None:
    p = profile_frame(_read("california_housing.csv"), target="median_house_value")
    t = p.target
    assert t.task_hint == "regression" and t.class_counts is None
    assert t.stats["min"] == 14999.0 and t.stats["max"] == 500001.0
    assert t.stats["median"] == pytest.approx(179700.0)
    assert t.stats["skew"] == pytest.approx(0.978, abs=0.01)
    assert p.column("ocean_proximity").kind == "categorical"
    assert p.column("total_bedrooms").missing == 207
    assert "regression" in p.summary()


def test_task_hints_for_integer_targets() -> None:
    wine = profile_frame(_read("wine_quality_white.csv"), target="quality")
    assert wine.target.task_hint == "multiclass"
    abalone = profile_frame(_read("abalone.csv"), target="rings")  # 28 distinct ring counts
    assert abalone.target.task_hint == "regression"


def _synthetic() -> pd.DataFrame:
    n = 200
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "row": np.arange(1, n + 1),
        "constant": ["same"] * n,
        "nearly": ["a"] * (n - 1) + ["b"],
        "value": rng.normal(size=n),
        "when": pd.date_range("2023-01-01", periods=n, freq="h"),
        "flag": pd.array(rng.random(n) < 0.3, dtype="boolean"),
        "code": pd.Series(rng.choice(["x", "y", "z"], n), dtype="str"),
    })
    frame.loc[5, "value"] = np.nan
    return frame


def test_synthetic_flags() -> None:
    frame = _synthetic()
    p = profile_frame(frame)
    assert p.duplicate_rows == 0
    row = p.column("row")
    assert row.id_like and "monotone counter" in row.flags and row.kind == "numeric"
    assert p.column("constant").constant and not p.column("constant").near_constant
    assert p.column("nearly").near_constant and not p.column("nearly").constant
    when = p.column("when")
    assert when.kind == "datetime"
    assert when.stats == {"min": "2023-01-01T00:00:00", "max": "2023-01-09T07:00:00"}
    assert p.column("flag").kind == "boolean"
    assert p.column("code").kind == "categorical" and not p.column("code").id_like
    value = p.column("value")
    assert value.missing == 1 and not value.id_like  # unique floats are not identifiers
    text = p.summary()
    assert "row" in text and "constant" in text and "nearly" in text
    json.dumps(p.to_dict())


def test_duplicate_rows_counted() -> None:
    frame = _synthetic().drop(columns="row")
    doubled = pd.concat([frame, frame.iloc[[20, 21, 21]]], ignore_index=True)
    p = profile_frame(doubled)
    assert p.duplicate_rows == 3 and p.n_rows == 203


def test_nan_becomes_none_in_json() -> None:
    p = profile_frame(pd.DataFrame({"empty": [np.nan] * 30, "x": range(30)}))
    d = json.loads(json.dumps(p.to_dict(), allow_nan=False))
    assert d["columns"][0]["stats"]["mean"] is None and d["columns"][0]["constant"] is True


def test_large_columns_use_a_sample() -> None:
    n = 150_000
    frame = pd.DataFrame({"label": pd.Series([f"item {i} of the list" for i in range(n)], dtype="str"),
                          "x": np.random.default_rng(1).normal(size=n)})
    p = profile_frame(frame)
    label = p.column("label")
    assert label.free_text and label.n_unique == n  # counts stay exact
    assert label.stats["sampled_rows"] == 100_000 and label.stats["top_values_sampled_rows"] == 100_000


def test_errors_name_close_columns(titanic) -> None:
    with pytest.raises(KeyError, match="Did you mean 'name'"):
        titanic.column("nmae")
    with pytest.raises(ToolArgumentError, match="survived"):
        profile_frame(_read("titanic.csv"), target="survive")
