"""Checks on the target column and the evidence for the task: binary, multiclass or regression.

Everything a user must fix raises `DataError` with the column, the rule, what was found and what to do.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tools.errors import DataError

MIN_CLASS_ROWS = 10
MIN_ROWS = 30
MAX_INTEGER_CLASSES = 10
POSITIVE_TOKENS = ("1", "1.0", "true", "yes", "y", "t", "positive", "pos")


@dataclass
class TargetInfo:
    """The target as the run will model it.

    Attributes:
        name: column.
        task: binary | multiclass | regression.
        evidence: facts behind the task (distinct values, integer-valued, dtype...).
        classes: labels in encoded order; binary: [negative, positive]. Empty for regression.
        positive_reason: why that class is the positive one (binary).
        missing_rows: rows without a target value (dropped).
        rare_classes: label -> rows, classes with fewer than `MIN_CLASS_ROWS` rows: kept and modelled,
            but too few to evaluate on their own (the holdout may hold none of them).
        counts: label -> rows of every class.
    """

    name: str
    task: str
    evidence: dict
    classes: list = field(default_factory=list)
    positive_reason: str = ""
    missing_rows: int = 0
    rare_classes: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["classes"] = [_plain(c) for c in self.classes]
        return data


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def closest_columns(name: str, columns: list[str], n: int = 3) -> list[str]:
    """Column names that look like ``name`` (case-insensitive), best first."""
    lowered = {c.lower(): c for c in columns}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    contains = [c for c in columns if name.lower() in c.lower() or c.lower() in name.lower()]
    out: list[str] = []
    for c in [lowered[h] for h in hits] + contains:
        if c not in out:
            out.append(c)
    return out[:n]


def require_column(columns: list[str], name: str) -> None:
    """Raise a DataError naming close columns when ``name`` is not one of ``columns``."""
    if name in columns:
        return
    close = closest_columns(name, [str(c) for c in columns])
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(map(str, list(columns)[:25])) + (" ..." if len(columns) > 25 else "")
    raise DataError(f"The target column '{name}' is not in the data.{hint} Columns are: {listing}. "
                    "Pass the right name with --target.")


def infer_task(values: pd.Series) -> tuple[str, dict]:
    """The task suggested by the target's values, with the evidence for it."""
    s = values.dropna()
    n_unique = int(s.nunique())
    evidence: dict[str, Any] = {"dtype": str(values.dtype), "distinct_values": n_unique,
                                "rows": int(len(s))}
    if n_unique <= 2:
        return "binary", {**evidence, "rule": "two distinct values"}
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "multiclass", {**evidence, "rule": "text labels with more than two values"}
    numbers = s.to_numpy(dtype=float)
    integer = bool(np.all(np.isclose(numbers, np.round(numbers))))
    evidence["integer_valued"] = integer
    if integer and n_unique <= MAX_INTEGER_CLASSES:
        return "multiclass", {**evidence, "rule": f"integer values with at most {MAX_INTEGER_CLASSES} levels"}
    return "regression", {**evidence, "rule": "numeric values" + (" with many levels" if integer else "")}


def check_target(frame: pd.DataFrame, name: str, task: str, *, goal: str = "",
                 true_token: str | None = None, overflowing: int = 0) -> TargetInfo:
    """Validate the target for ``task`` and decide classes and the positive class (``overflowing``: how many
    of its values were infinite or too large, as `tools.intake.finite` counted them).

    Raises:
        DataError: absent, all missing, constant, too few rows, text target for regression, an
            identifier-like target, infinite or overflowing values, or fewer than two classes with enough rows.
    """
    require_column([str(c) for c in frame.columns], name)
    if overflowing:
        raise DataError(f"The target column '{name}' has {overflowing:,} infinite or overflowing value(s) (beyond "
                        "+-3.4e38, e.g. inf or 1e308): a model cannot learn to predict them. Fix or remove those "
                        "rows, or choose another target with --target.")
    values = frame[name]
    missing = int(values.isna().sum())
    s = values.dropna()
    if s.empty:
        raise DataError(f"The target column '{name}' is empty: all {len(values):,} values are missing. "
                        "Choose another target with --target.")
    if s.nunique() < 2:
        raise DataError(f"The target column '{name}' has one value ({_plain(s.iloc[0])!r}) in all "
                        f"{len(s):,} rows that have it; a model needs at least two. Choose another target "
                        "with --target.")
    if len(s) < MIN_ROWS:
        raise DataError(f"Only {len(s)} rows have a value for '{name}'; at least {MIN_ROWS} are needed to "
                        "train and evaluate a model honestly. Add rows or choose another target.")
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise DataError(f"The target column '{name}' holds text or booleans ({values.dtype}), so it "
                            "cannot be a regression target. Use --task binary or multiclass, or another target.")
        return TargetInfo(name, task, infer_task(values)[1], missing_rows=missing)
    counts = s.value_counts()
    if len(counts) > 100 and len(counts) > 0.2 * len(s):
        raise DataError(f"The target column '{name}' has {len(counts):,} distinct values in {len(s):,} rows; "
                        "it looks like an identifier or free text, not something to classify. Choose another "
                        "target with --target, or use --task regression for a numeric quantity.")
    rare = {_plain(k): int(v) for k, v in counts.items() if v < MIN_CLASS_ROWS}
    enough = {_plain(k): int(v) for k, v in counts.items() if v >= MIN_CLASS_ROWS}
    # A rare class is kept: dropped, its rows would get probability 0 in use. Two classes with enough
    # rows are still needed to learn and evaluate anything.
    kept = {_plain(k): int(v) for k, v in counts.items()}
    if len(enough) < 2:
        detail = ", ".join(f"{_plain(k)!r}: {v}" for k, v in counts.items())
        raise DataError(f"The target column '{name}' has too few rows per class ({detail}); each class needs "
                        f"at least {MIN_CLASS_ROWS} rows, and at least two classes must have them. Add rows, "
                        "merge rare classes in the file, or choose another target.")
    if task == "binary" and len(kept) > 2:
        raise DataError(f"The target column '{name}' has {len(kept)} classes, so the task cannot be binary. "
                        "Use --task multiclass or leave the task to mlpilot.")
    info = TargetInfo(name, task if len(kept) > 2 else "binary", infer_task(values)[1], missing_rows=missing,
                      rare_classes=rare, counts=kept)
    labels = sorted(kept, key=_sort_key)
    if info.task == "binary":
        positive, reason = _positive_class(labels, kept, goal, true_token)
        info.classes = [c for c in labels if c != positive] + [positive]
        info.positive_reason = reason
    else:
        info.classes = labels
    return info


def _sort_key(value: Any) -> tuple:
    return (0, value, "") if isinstance(value, (int, float, np.number)) else (1, 0, str(value))


def _positive_class(labels: list, counts: dict, goal: str, true_token: str | None) -> tuple[Any, str]:
    words = {w.strip(".,;:!?\"'()").lower() for w in goal.split()}
    mentioned = [c for c in labels if str(c).lower() in words and str(c).lower() not in ("0", "1")]
    if len(mentioned) == 1:
        return mentioned[0], f"the goal mentions '{mentioned[0]}'"
    if true_token is not None and true_token in [str(c) for c in labels]:
        return next(c for c in labels if str(c) == true_token), f"'{true_token}' is the column's true value"
    marked = [c for c in labels if str(c).strip("'\" ").lower() in POSITIVE_TOKENS]
    if len(marked) == 1:
        return marked[0], f"'{marked[0]}' is the conventional positive label"
    minority = min(labels, key=lambda c: (counts[c], str(c)))
    return minority, f"'{minority}' is the rarer class ({counts[minority]:,} rows); the rarer class is usually the one to find"


def encode_target(values: pd.Series, info: TargetInfo) -> np.ndarray:
    """Target values -> model input: class indices (classification) or floats (regression)."""
    if info.task == "regression":
        return values.to_numpy(dtype=float)
    index = {c: i for i, c in enumerate(info.classes)}
    return np.array([index[_plain(v)] for v in values], dtype=int)


def usable_rows(values: pd.Series, info: TargetInfo) -> np.ndarray:
    """Boolean mask of rows kept: target present and in one of the task's classes."""
    mask = values.notna().to_numpy().copy()
    if info.task != "regression":
        mask &= values.map(_plain).isin(list(info.classes)).to_numpy()
    return mask


def labels_as_written(values: pd.Series, columns: Sequence[Any]) -> pd.Series:
    """The target as the file spells its labels: booleans back to their tokens ("yes"/"no"), from the
    column's spec among ``columns`` (`tools.intake.ColumnSpec`), so labels read as the user wrote them."""
    if not pd.api.types.is_bool_dtype(values):
        return values
    spec = next((c for c in columns if c.name == values.name), None)
    true_token = spec.true_token if spec and spec.true_token else "True"
    false_token = spec.false_token if spec and spec.false_token else "False"
    return values.map({True: true_token, False: false_token}).astype("object").where(values.notna(), None)
