"""Profile a typed frame: what each column is, how complete, how varied, and what the target looks like.

The profile is evidence for the plan (which columns to drop, which task, which metric), not a decision.
It is built for frames of millions of rows: every exact figure is one vectorised pass per column
(missing count, distinct count, moments, quantiles), duplicates come from one 64-bit row hash, and the
figures where exactness does not matter (string lengths, word counts, the top values of columns with very
many distinct values) come from one fixed-seed sample of at most `SAMPLE_ROWS` rows; `stats` says so.
"""

from __future__ import annotations

import difflib
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from tools.errors import ToolArgumentError
from tools.fmt import number
from tools.jsonable import jsonable

KINDS = ("numeric", "boolean", "categorical", "datetime", "text")
SAMPLE_ROWS = 100_000
SAMPLE_SEED = 0
TOP_VALUES = 5

_ID_UNIQUE_SHARE = 0.99
_ID_MIN_ROWS = 20
_ID_NAME_UNIQUE_SHARE = 0.5
_COUNTER_STEP_SHARE = 0.9
_COUNTER_UNIQUE_SHARE = 0.9
_NEAR_CONSTANT_SHARE = 0.99
_TEXT_UNIQUE_SHARE = 0.5
_TEXT_MEDIAN_LENGTH = 20
_TEXT_MEDIAN_WORDS = 4
# Above this many distinct values, counting every value of a large column costs ~0.3 s per million rows
# for little use: its top values (and the top value's share, for near_constant) come from the sample.
_EXACT_COUNT_MAX_UNIQUE = 10_000
# Tokens that name an identifier anywhere in a column name ("PassengerId", "user_uuid", "row_key") and
# tokens that do so only at the end ("hospital_number", "serial_no"; "num_dependents" is a count).
_ID_TOKENS = frozenset({"id", "ids", "uuid", "guid", "key", "pk"})
_ID_LAST_TOKENS = frozenset({"number", "no", "nr", "num"})


@dataclass(frozen=True)
class ColumnProfile:
    """One column: its kind, completeness, variety, summary statistics and warning flags."""

    name: str
    kind: str
    dtype: str
    missing: int
    missing_share: float
    n_unique: int
    unique_share: float
    stats: dict[str, Any]
    top_values: list[tuple[str, int]]
    id_like: bool
    constant: bool
    near_constant: bool
    free_text: bool
    flags: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


@dataclass(frozen=True)
class TargetProfile:
    """The target column as evidence for the task decision (made elsewhere)."""

    name: str
    task_hint: str
    n_missing: int
    class_counts: dict[str, int] | None
    minority_share: float | None
    imbalance_ratio: float | None
    stats: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


@dataclass(frozen=True)
class Profile:
    """The whole frame: shape, columns, duplicates, target, and how long profiling took."""

    n_rows: int
    n_columns: int
    columns: tuple[ColumnProfile, ...]
    duplicate_rows: int
    target: TargetProfile | None
    memory_mb: float
    seconds: float

    def column(self, name: str) -> ColumnProfile:
        """The profile of column `name`; KeyError naming the closest columns when there is none."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(_unknown_column_message(name, [c.name for c in self.columns]))

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))

    def summary(self) -> str:
        """A few lines per notable thing, for a person or an LLM. No cell values except top levels."""
        return _summarize(self)


def profile_frame(frame: pd.DataFrame, *, target: str | None = None) -> Profile:
    """Profile every column of a typed frame and, if named, the target.

    Finds each column's kind (numeric, boolean, categorical, datetime, free text), missing values,
    distinct values, statistics, identifier-like, constant and near-constant columns, duplicate rows,
    and the target's class balance or distribution. Large frames are handled in seconds: costly figures
    come from a fixed-seed sample, marked in the column's stats.

    Args:
        frame: the data as loaded by intake (numbers, nullable booleans, datetimes, strings).
        target: the column to predict, profiled in detail (classes, imbalance, distribution); optional.
    """
    start = time.perf_counter()
    if target is not None and target not in frame.columns:
        raise ToolArgumentError(_unknown_column_message(target, list(map(str, frame.columns)), "target"))
    n_rows = len(frame)
    sample_index = _sample_index(n_rows)
    # By position, so that duplicate column names cannot turn a column into a frame. Two threads: the
    # sorts, partitions and hash tables behind each column's figures release the GIL.
    with ThreadPoolExecutor(max_workers=2) as pool:
        columns = tuple(pool.map(lambda i: _profile_column(frame.iloc[:, i], str(frame.columns[i]), sample_index),
                                 range(frame.shape[1])))
    duplicates = 0
    if n_rows > 1 and frame.shape[1] > 0:
        # One 64-bit hash per row; a false duplicate among a million rows has odds of ~1e-8.
        duplicates = int(pd.util.hash_pandas_object(frame, index=False).duplicated().sum())
    target_profile = _profile_target(frame[target], str(target)) if target is not None else None
    return Profile(
        n_rows=n_rows,
        n_columns=frame.shape[1],
        columns=columns,
        duplicate_rows=duplicates,
        target=target_profile,
        memory_mb=float(frame.memory_usage(deep=True).sum()) / 1e6,
        seconds=time.perf_counter() - start,
    )


def _sample_index(n_rows: int) -> np.ndarray | None:
    if n_rows <= SAMPLE_ROWS:
        return None
    rng = np.random.default_rng(SAMPLE_SEED)
    return np.sort(rng.choice(n_rows, size=SAMPLE_ROWS, replace=False))


def _is_string_like(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
                or pd.api.types.is_datetime64_any_dtype(s))


def _profile_column(s: pd.Series, name: str, sample_index: np.ndarray | None) -> ColumnProfile:
    if pd.api.types.is_timedelta64_dtype(s):
        s = s.dt.total_seconds()  # durations are profiled as numbers of seconds
    n = len(s)
    missing = int(s.isna().sum())
    present = n - missing
    n_unique = int(s.nunique(dropna=True))
    unique_share = n_unique / present if present else 0.0
    sample = s if sample_index is None else s.iloc[sample_index]
    sampled = sample_index is not None
    flags: list[str] = []

    top_values, top_share = _top_values(s, sample, n_unique, present)
    constant = n_unique <= 1
    near_constant = not constant and top_share >= _NEAR_CONSTANT_SHARE
    if constant:
        flags.append("constant: all missing" if present == 0 else "constant: one value")
    elif near_constant:
        flags.append(f"near-constant: top value in {round(top_share * present):,} of {present:,} rows")

    stats: dict[str, Any] = {}
    free_text = False
    is_bool = pd.api.types.is_bool_dtype(s)
    is_datetime = pd.api.types.is_datetime64_any_dtype(s)
    is_string = _is_string_like(s)
    integer_valued = False
    if is_bool:
        kind = "boolean"
        stats["true_share"] = float(s.sum()) / present if present else None
    elif is_datetime:
        kind = "datetime"
        stats["min"] = _iso(s.min())
        stats["max"] = _iso(s.max())
    elif is_string:
        text = sample.dropna().astype("str")
        lengths = text.str.len()
        stats["mean_length"] = float(lengths.mean()) if len(text) else None
        median_length = float(lengths.median()) if len(text) else 0.0
        words = text.str.strip().str.count(r"\s+") + (lengths > 0).astype("int64")
        median_words = float(words.median()) if len(text) else 0.0
        free_text = unique_share > _TEXT_UNIQUE_SHARE and (
            median_length >= _TEXT_MEDIAN_LENGTH or median_words >= _TEXT_MEDIAN_WORDS)
        if free_text:
            stats["median_length"] = median_length
            stats["median_words"] = median_words
            flags.append(f"free text (median {median_length:.0f} characters, {median_words:.0f} words)")
        kind = "text" if free_text else "categorical"
        if sampled:
            stats["sampled_rows"] = int(len(sample))
    else:
        kind = "numeric"
        stats.update(_numeric_stats(s, present))
        integer_valued = _integer_valued(s, sample)

    id_like = False
    if (is_string or integer_valued) and present >= _ID_MIN_ROWS and not constant:
        if unique_share >= _ID_UNIQUE_SHARE:
            id_like = True
            flags.append(f"unique per row ({n_unique:,} of {present:,})")
        if integer_valued and unique_share >= _COUNTER_UNIQUE_SHARE and _monotone_counter(s):
            id_like = True
            flags.append("monotone counter")
        if unique_share >= _ID_NAME_UNIQUE_SHARE and _name_suggests_id(name):
            id_like = True
            flags.append("name suggests an identifier")
    if sampled and n_unique > _EXACT_COUNT_MAX_UNIQUE:
        stats["top_values_sampled_rows"] = int(len(sample))

    return ColumnProfile(
        name=name, kind=kind, dtype=str(s.dtype), missing=missing,
        missing_share=missing / n if n else 0.0, n_unique=n_unique, unique_share=unique_share,
        stats=stats, top_values=top_values, id_like=id_like, constant=constant,
        near_constant=near_constant, free_text=free_text, flags=tuple(flags),
    )


def _top_values(s: pd.Series, sample: pd.Series, n_unique: int,
                present: int) -> tuple[list[tuple[str, int]], float]:
    """Up to TOP_VALUES (value, count) pairs and the top value's share of the non-missing rows."""
    if present == 0:
        return [], 0.0
    if n_unique > _EXACT_COUNT_MAX_UNIQUE and len(sample) < len(s):
        # A value covering 99% of the column covers about 99% of a 100,000-row sample, so near_constant
        # is still found; the counts are the sample's (stats["top_values_sampled_rows"] says so).
        counts = sample.value_counts(dropna=True)
        share = float(counts.iloc[0]) / max(int(sample.notna().sum()), 1) if len(counts) else 0.0
    else:
        counts = s.value_counts(dropna=True)
        share = float(counts.iloc[0]) / present if len(counts) else 0.0
    top = counts.iloc[:TOP_VALUES]
    return [(_as_text(v), int(c)) for v, c in zip(top.index, top.to_numpy())], share


def _numeric_stats(s: pd.Series, present: int) -> dict[str, Any]:
    if present == 0:
        return {k: None for k in ("mean", "std", "min", "q25", "median", "q75", "max", "zeros_share")}
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    if present < len(values):
        values = values[~np.isnan(values)]
    q25, median, q75 = np.quantile(values, [0.25, 0.5, 0.75])  # one partition pass for all three
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if present > 1 else None,
        "min": float(values.min()),
        "q25": float(q25),
        "median": float(median),
        "q75": float(q75),
        "max": float(values.max()),
        "zeros_share": float(np.count_nonzero(values == 0)) / present,
    }


def _integer_valued(s: pd.Series, sample: pd.Series) -> bool:
    """Integers, or floats holding whole numbers only (intake stores integers with gaps as float64)."""
    if pd.api.types.is_integer_dtype(s):
        return True
    if not pd.api.types.is_float_dtype(s):
        return False
    values = sample.to_numpy(dtype="float64", na_value=np.nan)
    values = values[~np.isnan(values)]
    return len(values) > 0 and bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def _monotone_counter(s: pd.Series) -> bool:
    values = s.dropna().to_numpy(dtype="float64")
    if len(values) < _ID_MIN_ROWS:
        return False
    steps = np.diff(values)
    # Up or down, allowing a few repeats (a row number restarted or duplicated by a join).
    if not (np.all(steps >= 0) or np.all(steps <= 0)):
        return False
    return float(np.mean(np.abs(steps) == 1)) >= _COUNTER_STEP_SHARE


def _name_tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t.lower() for t in re.split(r"[^A-Za-z0-9]+", spaced) if t]


def _name_suggests_id(name: str) -> bool:
    tokens = _name_tokens(name)
    return bool(tokens) and (any(t in _ID_TOKENS for t in tokens) or tokens[-1] in _ID_LAST_TOKENS)


def _profile_target(s: pd.Series, name: str) -> TargetProfile:
    values = s.dropna()
    n_missing = len(s) - len(values)
    n_unique = int(values.nunique())
    hint = _task_hint(s, n_unique, len(values))
    if hint == "regression" and pd.api.types.is_datetime64_any_dtype(s):
        return TargetProfile(name, hint, n_missing, None, None, None,
                             {"min": _iso(values.min()), "max": _iso(values.max())})
    if hint == "regression":
        x = values.to_numpy(dtype="float64")
        stats = {
            "mean": float(x.mean()) if len(x) else None,
            "std": float(x.std(ddof=1)) if len(x) > 1 else None,
            "min": float(x.min()) if len(x) else None,
            "median": float(np.median(x)) if len(x) else None,
            "max": float(x.max()) if len(x) else None,
            "skew": float(values.skew()) if len(x) > 2 else None,
        }
        return TargetProfile(name, hint, n_missing, None, None, None, stats)
    counts = values.value_counts()
    class_counts = {_as_text(k): int(v) for k, v in counts.items()}
    minority = int(counts.iloc[-1]) if len(counts) else 0
    majority = int(counts.iloc[0]) if len(counts) else 0
    return TargetProfile(
        name=name, task_hint=hint, n_missing=n_missing, class_counts=class_counts,
        minority_share=minority / len(values) if len(values) else None,
        imbalance_ratio=majority / minority if minority else None, stats=None,
    )


def _task_hint(s: pd.Series, n_unique: int, present: int) -> str:
    if n_unique <= 2:
        return "binary"
    if pd.api.types.is_bool_dtype(s) or _is_string_like(s):
        return "multiclass"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "regression"
    integer = pd.api.types.is_integer_dtype(s) or _integer_valued(s, s.dropna().iloc[:SAMPLE_ROWS])
    if integer and n_unique <= 20 and (n_unique <= 10 or n_unique / max(present, 1) < 0.05):
        return "multiclass"
    return "regression"


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def _as_text(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    return str(value)


def _unknown_column_message(name: str, columns: list[str], what: str = "column") -> str:
    close = difflib.get_close_matches(name, columns, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
    return f"No {what} {name!r}; columns are {shown}.{hint}"


def _pct(share: float) -> str:
    return "<0.1%" if 0 < share < 0.001 else f"{share:.1%}"


def _summarize(p: Profile) -> str:
    lines = [f"{p.n_rows:,} rows x {p.n_columns} columns, {p.memory_mb:.1f} MB in memory, "
             f"{p.duplicate_rows:,} duplicate rows."]
    kinds: dict[str, int] = {}
    for c in p.columns:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    lines.append("Column kinds: " + ", ".join(f"{k} {kinds[k]}" for k in KINDS if k in kinds) + ".")
    t = p.target
    if t is not None:
        if t.class_counts is not None and not t.class_counts:
            lines.append(f"Target '{t.name}' has no values: every row is missing it.")
        elif t.class_counts is not None:
            total = sum(t.class_counts.values()) or 1
            shown = ", ".join(f"{k}: {v:,} ({v / total:.1%})" for k, v in list(t.class_counts.items())[:6])
            more = f", and {len(t.class_counts) - 6} more" if len(t.class_counts) > 6 else ""
            ratio = f"; imbalance {t.imbalance_ratio:.1f}:1" if t.imbalance_ratio else ""
            lines.append(f"Target '{t.name}' looks {t.task_hint} with {len(t.class_counts)} classes: "
                         f"{shown}{more}{ratio}.")
        else:
            st = t.stats or {}
            num = {k: number(st.get(k), significant=True) for k in ("mean", "median", "min", "max", "skew")}
            lines.append(f"Target '{t.name}' looks like regression: mean {num['mean']}, median {num['median']}, "
                         f"range {num['min']} to {num['max']}, skew {num['skew']}.")
        if t.n_missing:
            lines.append(f"The target is missing in {t.n_missing:,} rows; they cannot be used for training.")
    for title, cols, prefix in [
        ("Identifier-like (drop before modelling)", [c for c in p.columns if c.id_like], ""),
        ("Constant (no information)", [c for c in p.columns if c.constant], "constant"),
        ("Near-constant", [c for c in p.columns if c.near_constant], "near-constant"),
        ("Free text", [c for c in p.columns if c.free_text and not c.id_like], "free text"),
    ]:
        if cols:
            shown = [f"{c.name} ({', '.join(f for f in c.flags if f.startswith(prefix))})" for c in cols[:12]]
            more = f"; and {len(cols) - 12} more" if len(cols) > 12 else ""
            lines.append(f"{title}: " + "; ".join(shown) + more + ".")
    missing = sorted((c for c in p.columns if c.missing), key=lambda c: -c.missing_share)
    if missing:
        lines.append("Missing values: " + ", ".join(f"{c.name} {_pct(c.missing_share)}" for c in missing[:12])
                     + (f", and {len(missing) - 12} more columns" if len(missing) > 12 else "") + ".")
    cats = [c for c in p.columns if c.kind == "categorical" and not (c.id_like or c.constant)
            and (t is None or c.name != t.name)]
    if cats:
        parts = [f"{c.name} {c.n_unique:,} levels" + (f" ({', '.join(v for v, _ in c.top_values[:3])})"
                 if c.n_unique <= 10 else " (high cardinality)") for c in cats[:15]]
        more = f"; and {len(cats) - 15} more" if len(cats) > 15 else ""
        lines.append("Categorical: " + "; ".join(parts) + more + ".")
    return "\n".join(lines)


