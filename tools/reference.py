"""The training-time reference that monitoring compares new data against, without keeping the data.

Per feature: kind, count, missing share, and a summary of its distribution:
- numbers (also booleans and datetimes, as numbers): 10 quantile bins with their shares (for PSI), 101
  percentiles (an approximate distribution function, for a Kolmogorov-Smirnov test), range and moments;
  numbers with at most 20 distinct values also keep each value's share (compared like categories);
- categories: the share of each of the 100 most frequent levels, the rest pooled as "other".
Also the distribution of the model's predictions on the holdout, and the holdout metrics with a
bootstrap spread. Only summaries are kept: no row can be recovered from the reference.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

N_BINS = 10
TOP_LEVELS = 100
MAX_DISCRETE = 20


def feature_reference(frame: pd.DataFrame, kinds: dict[str, str]) -> dict[str, dict]:
    """Distribution summary per column of ``frame``; ``kinds`` maps column -> plan kind."""
    out: dict[str, dict] = {}
    for col, kind in kinds.items():
        s = frame[col]
        entry: dict[str, Any] = {"kind": kind, "missing_share": round(float(s.isna().mean()), 6),
                                 "count": int(s.notna().sum())}
        if kind in ("categorical", "high_cardinality"):
            entry.update(level_shares(s.dropna().astype(str)))
        else:
            values = as_numbers(s)
            entry.update(numeric_summary(values))
            if 0 < len(np.unique(values)) <= MAX_DISCRETE:
                entry.update(level_shares(pd.Series(values).map(number_label)))
        out[col] = entry
    return out


def number_label(value: float) -> str:
    """A discrete number as a level name: 3.0 -> "3"."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def level_shares(values: pd.Series) -> dict:
    counts = values.value_counts()
    total = max(int(counts.sum()), 1)
    top = counts.head(TOP_LEVELS)
    return {"levels": {str(k): round(int(v) / total, 6) for k, v in top.items()},
            "other_share": round(float(1 - top.sum() / total), 6), "n_levels": int(len(counts))}


def as_numbers(s: pd.Series) -> np.ndarray:
    """Non-missing values as floats (datetimes as seconds since 1970, booleans as 0/1)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dropna().astype("datetime64[ns]").astype("int64").to_numpy(dtype=float) / 1e9
    if pd.api.types.is_bool_dtype(s):
        return s.dropna().astype(float).to_numpy()
    return pd.to_numeric(s, errors="coerce").dropna().to_numpy(dtype=float)


def numeric_summary(values: np.ndarray) -> dict:
    """Quantile bins with shares, percentiles, range and moments of ``values``."""
    if len(values) == 0:
        return {"edges": [], "shares": [], "quantiles": [], "min": None, "max": None, "mean": None, "std": None}
    summary = numeric_bins(values)
    summary["quantiles"] = [float(q) for q in np.quantile(values, np.linspace(0, 1, 101))]
    return summary


def numeric_bins(values: np.ndarray) -> dict:
    """Quantile bin edges and the share of values in each bin (edges deduplicated)."""
    if len(values) == 0:
        return {"edges": [], "shares": [], "min": None, "max": None, "mean": None, "std": None}
    edges = np.unique(np.quantile(values, np.linspace(0, 1, N_BINS + 1)))
    if len(edges) < 2:
        edges = np.array([edges[0], edges[0]])
    shares = bin_shares(values, edges)
    return {"edges": [float(e) for e in edges], "shares": [round(float(x), 6) for x in shares],
            "min": float(values.min()), "max": float(values.max()), "mean": float(values.mean()),
            "std": float(values.std())}


def bin_shares(values: np.ndarray, edges: np.ndarray | list[float]) -> np.ndarray:
    """Share of ``values`` in each bin of ``edges`` (values beyond the ends go to the end bins)."""
    edges = np.asarray(edges, dtype=float)
    n_bins = max(len(edges) - 1, 1)
    idx = np.searchsorted(edges[1:-1], values, side="right")
    return np.bincount(idx, minlength=n_bins)[:n_bins] / max(len(values), 1)


def resamples(size: int, *, n: int, seed: int, seconds: float, at_least: int = 50) -> Iterator[np.ndarray]:
    """Row indices of up to ``n`` seeded bootstrap resamples of ``size`` rows; past ``at_least`` of them,
    no more once ``seconds`` have passed (a big holdout must not hold the run up for its interval)."""
    rng = np.random.default_rng(seed)
    end = time.monotonic() + seconds
    for i in range(n):
        if i >= at_least and time.monotonic() > end:
            return
        yield rng.integers(0, size, size)


def bootstrap_spread(score: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray, pred: np.ndarray, *,
                     n: int = 200, seed: int = 0, seconds: float = 1.0) -> dict:
    """Mean, sd and 5-95% interval of ``score`` over bootstrap resamples of the holdout (``n`` of them,
    or as many as ``seconds`` allow on a big holdout, but at least 50)."""
    values = []
    for idx in resamples(len(y), n=n, seed=seed, seconds=seconds):
        try:
            v = score(y[idx], pred[idx])
        except ValueError:
            continue
        if np.isfinite(v):
            values.append(v)
    if not values:
        return {}
    arr = np.array(values)
    return {"mean": float(arr.mean()), "sd": float(arr.std(ddof=1)), "p05": float(np.quantile(arr, 0.05)),
            "p95": float(np.quantile(arr, 0.95)), "n": len(values)}
