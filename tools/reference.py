"""The training-time reference that monitoring compares new data against, without keeping the data.

Per feature: kind, missing share, and either quantile bins with their shares (numbers, booleans and
datetimes as numbers) or level frequencies (categories, with the rest pooled). Also the distribution of
the model's predictions on the holdout and the holdout metrics with a bootstrap spread.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

N_BINS = 10
TOP_LEVELS = 30


def feature_reference(frame: pd.DataFrame, kinds: dict[str, str]) -> dict[str, dict]:
    """Distribution summary per column of ``frame``; ``kinds`` maps column -> plan kind."""
    out: dict[str, dict] = {}
    for col, kind in kinds.items():
        s = frame[col]
        entry: dict[str, Any] = {"kind": kind, "missing_share": round(float(s.isna().mean()), 6),
                                 "count": int(s.notna().sum())}
        if kind in ("categorical", "high_cardinality"):
            counts = s.dropna().astype(str).value_counts()
            total = max(int(counts.sum()), 1)
            top = counts.head(TOP_LEVELS)
            entry["levels"] = {str(k): round(int(v) / total, 6) for k, v in top.items()}
            entry["other_share"] = round(float(1 - top.sum() / total), 6)
            entry["n_levels"] = int(len(counts))
        else:
            values = _as_numbers(s)
            entry.update(numeric_bins(values))
        out[col] = entry
    return out


def _as_numbers(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(s):
        values = s.dropna().astype("int64").to_numpy(dtype=float) / 1e9
    else:
        values = pd.to_numeric(s, errors="coerce").dropna().to_numpy(dtype=float)
    return values


def numeric_bins(values: np.ndarray) -> dict:
    """Quantile bin edges and the share of values in each bin (edges deduplicated)."""
    if len(values) == 0:
        return {"edges": [], "shares": [], "min": None, "max": None, "mean": None, "std": None}
    edges = np.unique(np.quantile(values, np.linspace(0, 1, N_BINS + 1)))
    if len(edges) < 2:
        edges = np.array([edges[0], edges[0]])
    inner = edges[1:-1]
    idx = np.searchsorted(inner, values, side="right")
    shares = np.bincount(idx, minlength=len(edges) - 1) / len(values)
    return {"edges": [float(e) for e in edges], "shares": [round(float(x), 6) for x in shares],
            "min": float(values.min()), "max": float(values.max()), "mean": float(values.mean()),
            "std": float(values.std())}


def bootstrap_spread(score: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray, pred: np.ndarray, *,
                     n: int = 200, seed: int = 0) -> dict:
    """Mean, sd and 5-95% interval of ``score`` over bootstrap resamples of the holdout."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
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
