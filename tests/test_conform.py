"""tools.conform: later batches brought to a training schema, on bank marketing and small hand-made batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tools.conform import conform
from tools.errors import DataError
from tools.intake import ColumnSpec, Table, read_table


def spec(table: Table, name: str) -> ColumnSpec:
    return next(c for c in table.columns if c.name == name)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture(scope="module")
def bank() -> Table:
    return read_table(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bank_marketing.csv")


def test_conform_is_identity_on_the_training_frame(bank: Table) -> None:
    out, notes = conform(bank, bank.schema(), required=list(bank.frame.columns))
    pd.testing.assert_frame_equal(out, bank.frame)
    assert notes == []


def test_conform_coerces_a_messy_batch(bank: Table, tmp_path: Path, datasets_dir: Path) -> None:
    raw = pd.read_csv(datasets_dir / "bank_marketing.csv", sep=";").head(20)
    raw["y"] = "yes"  # one token only: the batch reads it as text
    raw["age"] = raw["age"].astype(str)
    raw.loc[0, "age"] = "old"
    raw = raw.rename(columns={"balance": "Balance "}).assign(extra=1)
    batch = read_table(_save(raw, tmp_path / "batch.csv"))
    features = [c.name for c in bank.columns if c.name != "y"]
    out, notes = conform(batch, bank.schema(), required=features)
    assert list(out.columns) == [c.name for c in bank.columns]
    assert [str(d) for d in out.dtypes] == [c.dtype if c.name != "age" else "float64" for c in bank.columns]
    assert out["y"].tolist() == [True] * 20
    assert np.isnan(out["age"].iloc[0]) and out["age"].iloc[1] == 33
    assert "column 'Balance' matched to the training column 'balance'" in notes
    assert "dropped 1 column(s) not in the training data: 'extra'" in notes
    assert any(n.startswith("column 'age': expected numbers") and "1 value(s) could not be read" in n for n in notes)


def test_conform_missing_required_columns(bank: Table) -> None:
    batch = bank.frame.rename(columns={"duration": "duration_s"}).drop(columns=["job"])
    with pytest.raises(DataError, match=r"lacks 2 column\(s\).*'duration' \(closest present: 'duration_s'\); 'job'"):
        conform(batch, bank.schema(), required=["duration", "job", "age"])


def test_conform_leaves_out_an_absent_target(bank: Table) -> None:
    out, notes = conform(bank.frame.drop(columns=["y"]), bank.schema(), required=["age"])
    assert "y" not in out.columns and out.shape == (4521, 16)
    assert "column 'y' of the training data is absent; left out" in notes
    _, quiet = conform(bank.frame.drop(columns=["y"]), bank.schema(), required=["age"], expected_absent=["y"])
    assert quiet == [n for n in notes if "'y'" not in n]


def test_conform_types_back_and_forth() -> None:
    schema = [
        ColumnSpec("when", "datetime", "datetime64[ns]", "dates (%d/%m/%Y)").to_dict(),
        ColumnSpec("ticket", "string", "str", "as read").to_dict(),
        ColumnSpec("flag", "boolean", "boolean", "yes/no tokens", "oui", "non").to_dict(),
        ColumnSpec("n", "numeric", "float64", "numbers stored as text, decimal comma").to_dict(),
    ]
    batch = pd.DataFrame({
        "n": pd.Series(["1.234,5", "2,5", "x"], dtype="str"),
        "flag": pd.Series(["OUI", "non", "peut-être"], dtype="str"),
        "ticket": [113803.0, 17463.0, np.nan],
        "when": pd.Series(["25/03/2021", "01/12/2020", "yesterday"], dtype="str"),
    })
    out, notes = conform(batch, schema, required=["when", "ticket", "flag", "n"])
    assert list(out.columns) == ["when", "ticket", "flag", "n"]
    assert out["when"].dtype == "datetime64[ns]" and out["when"].iloc[0] == pd.Timestamp("2021-03-25")
    assert out["ticket"].tolist()[:2] == ["113803", "17463"] and pd.isna(out["ticket"].iloc[2])
    assert out["flag"].tolist()[:2] == [True, False] and pd.isna(out["flag"].iloc[2])
    assert out["n"].tolist()[:2] == [1234.5, 2.5]
    assert len(notes) == 4 and all("1 value(s) could not be read" in n for n in notes if "ticket" not in n)


def test_conform_booleans_back_to_text_use_the_batch_spelling(tmp_path: Path) -> None:
    schema = [ColumnSpec("answer", "string", "str", "as read").to_dict(), ColumnSpec("k", "numeric", "int64", "as read").to_dict()]
    batch = read_table(write(tmp_path / "b.csv", "answer,k\nYes,1\nNo,2\n"))
    assert spec(batch, "answer").kind == "boolean"
    out, _ = conform(batch, schema, required=["answer"])
    assert out["answer"].tolist() == ["Yes", "No"] and out["answer"].dtype == "str"


def _save(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path
