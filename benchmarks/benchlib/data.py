"""The datasets and the split: every system reads the same train.csv and test_X.csv and is scored on test.csv."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

READ_OPTIONS: dict[str, dict[str, Any]] = {"bank_marketing": {"sep": ";"}}
# Columns known only after the fact; mlpilot would drop them itself, the references would not.
LEAKS: dict[str, list[str]] = {"bank_marketing": ["duration"], "taxis": ["total"]}
METRIC_FOR_TASK = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
HIGHER_IS_BETTER = {"roc_auc": True, "log_loss": False, "rmse": False}
MIN_CLASS_ROWS = 10  # as mlpilot: rarer classes cannot be split and stratified
TEST_SIZE = 0.25


@dataclass
class Dataset:
    name: str
    file: Path
    target: str
    task: str


@dataclass
class Split:
    train_csv: Path
    test_x_csv: Path
    y_test: pd.Series
    classes: list[str]  # training labels as strings (classification), sorted
    positive: str | None  # the class whose probability ROC AUC ranks (binary)
    n_train: int
    n_test: int
    notes: list[str] = field(default_factory=list)


def load_index(folder: Path) -> list[Dataset]:
    entries = json.loads((folder / "INDEX.json").read_text())
    return [Dataset(Path(e["file"]).stem, folder / e["file"], e["target"], e["task"]) for e in entries]


def prepare_split(ds: Dataset, workdir: Path, seed: int) -> Split:
    """Clean, split and write the files every system reads; return the test labels to score against."""
    df = pd.read_csv(ds.file, **READ_OPTIONS.get(ds.name, {}))
    notes = []
    missing = int(df[ds.target].isna().sum())
    if missing:
        df = df.dropna(subset=[ds.target])
        notes.append(f"dropped {missing} rows with a missing target")
    leaks = [c for c in LEAKS.get(ds.name, []) if c in df.columns]
    if leaks:
        df = df.drop(columns=leaks)
        notes.append(f"dropped leak column(s) {', '.join(leaks)}")
    stratify = None
    if ds.task != "regression":
        counts = df[ds.target].value_counts()
        rare = counts[counts < MIN_CLASS_ROWS]
        if len(rare):
            df = df[~df[ds.target].isin(rare.index)]
            notes.append("dropped rare classes " + ", ".join(f"{k!s} ({v} rows)" for k, v in rare.items()))
        stratify = df[ds.target]
    train, test = train_test_split(df, test_size=TEST_SIZE, random_state=seed, stratify=stratify)
    workdir.mkdir(parents=True, exist_ok=True)
    train_csv, test_csv, test_x_csv = workdir / "train.csv", workdir / "test.csv", workdir / "test_X.csv"
    train.to_csv(train_csv, index=False)
    test.to_csv(test_csv, index=False)
    test.drop(columns=[ds.target]).to_csv(test_x_csv, index=False)
    # Score against the labels as read back from the files, i.e. exactly as the systems see them.
    y_train = pd.read_csv(train_csv)[ds.target]
    y_test = pd.read_csv(test_csv)[ds.target]
    classes: list[str] = []
    positive = None
    if ds.task != "regression":
        classes = sorted(y_train.astype(str).unique())
        if ds.task == "binary":
            # AUC does not depend on which class is "positive"; the minority one reads most naturally.
            counts = y_train.astype(str).value_counts()
            positive = min(classes, key=lambda c: (counts[c], c))
    return Split(train_csv, test_x_csv, y_test, classes, positive, len(train), len(test), notes)
