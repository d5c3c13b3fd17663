"""Values that stand for something else are noticed: placeholders written as numbers, and a capped target."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tools.intake import read_table
from tools.placeholders import capped_target, find_placeholders


def test_sentinels_apart_from_every_other_value_are_placeholders() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"pdays": np.where(rng.random(500) < 0.7, -1, rng.integers(1, 400, 500)),
                          "age": np.where(rng.random(500) < 0.05, 999, rng.integers(18, 90, 500)),
                          "balance": rng.integers(-500, 5000, 500),     # -1 is an ordinary value here
                          "score": np.where(rng.random(500) < 0.002, 999, rng.integers(0, 10, 500))})  # too rare
    found = {p["column"]: p for p in find_placeholders(frame)}
    assert set(found) == {"pdays", "age"}
    assert found["pdays"]["value"] == -1 and found["pdays"]["why"].startswith("every other value is")
    assert found["age"]["value"] == 999 and found["age"]["why"].startswith("every other value is at most")


def test_no_honest_column_of_the_shared_datasets_is_called_a_placeholder(datasets_dir: Path) -> None:
    """Only bank_marketing's pdays (-1: never contacted) is one; california's target is the one capped."""
    found, capped = {}, {}
    for entry in json.loads((datasets_dir / "INDEX.json").read_text()):
        frame = read_table(datasets_dir / entry["file"]).frame
        for p in find_placeholders(frame.drop(columns=[entry["target"]])):
            found[f"{entry['file']}:{p['column']}"] = p["value"]
        if entry["task"] == "regression" and capped_target(frame[entry["target"]]):
            capped[entry["file"]] = capped_target(frame[entry["target"]])["value"]
    assert found == {"bank_marketing.csv:pdays": -1}
    assert capped == {"california_housing.csv": 500001.0}
