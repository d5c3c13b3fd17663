"""Screening features on very wide tables: each column's own link to the target, fast enough for
thousands of columns, so that selection and tuning can work on the columns that matter.

The score is the correlation ratio (eta squared): the share of the target's variance explained by the
column's bins (deciles for numbers, levels for categories and booleans, with a missing-value bin). It
sees monotone and non-monotone links alike and costs one sort per column. For several classes it is
averaged over the one-vs-rest indicators. Columns with no usable variation score 0. Dates are not
scored (they are kept).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

N_BINS = 10
CELLS = 20_000_000
# Past this many feature columns, selection and tuning work on the strongest ones (a screen).
WIDE = 300


@dataclass
class Screen:
    """Scores per column (eta squared, 0 to 1) and the columns kept."""

    scores: dict[str, float]
    kept: list[str]
    rows: int

    def dropped(self) -> list[str]:
        return [c for c in self.scores if c not in set(self.kept)]


def screen_features(X: pd.DataFrame, y: np.ndarray, task: str, *, keep: int, numeric: list[str],
                    columns: list[str] | None = None, always: list[str] | None = None, max_rows: int = 20_000,
                    seed: int = 0) -> Screen:
    """Keep the ``keep`` columns of ``X`` with the strongest single-column link to ``y``.

    Args:
        X: the rows (raw, as planned); only ``columns`` of it are screened.
        y: encoded target (class index, or values for regression).
        task: binary, multiclass or regression.
        keep: how many columns to keep (all of ``always`` are kept on top).
        numeric: the columns to bin by deciles; the others are binned by their values.
        columns: the columns to screen (default: all of ``X``).
        always: columns kept whatever their score (dates, columns the person asked to keep).
        max_rows: rows sampled for the scores.
        seed: seed of the sample.
    """
    columns = list(X.columns) if columns is None else list(columns)
    # Enough rows to rank columns by a strong link; fewer on very wide tables, where time is short.
    max_rows = int(min(max_rows, max(2_000, CELLS / max(len(columns), 1))))
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(X), size=min(max_rows, len(X)), replace=False))
    sample = X.iloc[rows][columns]
    targets = _targets(np.asarray(y)[rows], task)
    fixed = [c for c in (always or []) if c in columns]
    numbers = [c for c in columns if c in set(numeric) and c not in fixed]
    others = [c for c in columns if c not in set(numbers) and c not in fixed]
    scores: dict[str, float] = {}
    if numbers:
        bins = _numeric_bins(sample[numbers].to_numpy(dtype=float, na_value=np.nan))
        scores.update(zip(map(str, numbers), _eta_squared_columns(bins, targets)))
    for col in others:
        scores[str(col)] = _eta_squared(_level_bins(sample[col]), targets)
    ranked = sorted(scores, key=lambda c: -scores[c])
    kept = fixed + ranked[:max(0, keep)]
    order = {c: i for i, c in enumerate(columns)}
    return Screen(scores, sorted(kept, key=order.__getitem__), len(rows))


def _targets(y: np.ndarray, task: str) -> np.ndarray:
    """The target as one column (binary, regression) or one-vs-rest indicators (multiclass)."""
    if task == "multiclass":
        classes = np.unique(y)
        return (y[:, None] == classes[None, :]).astype(float)
    return np.asarray(y, dtype=float)[:, None]


def _numeric_bins(values: np.ndarray) -> np.ndarray:
    """Decile bins of each column of a 2-d array (one quantile pass for all), missing values in bin 10."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column has no quantiles
        edges = np.nanquantile(values, np.linspace(0, 1, N_BINS + 1)[1:-1], axis=0)
    bins = np.full(values.shape, N_BINS, dtype=np.int64)
    for j in range(values.shape[1]):
        finite = np.isfinite(values[:, j])
        cuts = np.unique(edges[:, j][np.isfinite(edges[:, j])])
        if finite.sum() >= 2:
            bins[finite, j] = np.searchsorted(cuts, values[finite, j], side="right")
    return bins


def _eta_squared_columns(bins: np.ndarray, targets: np.ndarray) -> list[float]:
    """`_eta_squared` of every column of a 2-d array of bins (at most N_BINS + 1 each), all at once."""
    n, p = bins.shape
    width = N_BINS + 1
    flat = (bins + np.arange(p)[None, :] * width).ravel()
    counts = np.bincount(flat, minlength=p * width).reshape(p, width)
    present = counts > 0
    dof = (present.sum(axis=1) - 1) / max(n - 1, 1)
    total = np.zeros(p)
    for j in range(targets.shape[1]):
        t = targets[:, j]
        variance = t.var()
        if variance <= 0:
            continue
        sums = np.bincount(flat, weights=np.repeat(t, p), minlength=p * width).reshape(p, width)
        means = np.divide(sums, counts, out=np.zeros_like(sums), where=present)
        between = (counts * (means - t.mean()) ** 2).sum(axis=1) / n
        adjusted = np.where(present.sum(axis=1) >= 2, between / variance - dof, 0.0)
        total += np.maximum(adjusted, 0.0)
    return [round(float(v), 6) for v in total / targets.shape[1]]


def _level_bins(values: pd.Series) -> np.ndarray:
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    return np.where(codes < 0, codes.max(initial=0) + 1, codes).astype(np.int64)


def _eta_squared(bins: np.ndarray, targets: np.ndarray) -> float:
    """Between-bin share of the variance of each target column, averaged over the columns."""
    n = len(bins)
    if n < 2 or len(np.unique(bins)) < 2:
        return 0.0
    counts = np.bincount(bins)
    total = 0.0
    for j in range(targets.shape[1]):
        t = targets[:, j]
        variance = t.var()
        if variance <= 0:
            continue
        sums = np.bincount(bins, weights=t, minlength=len(counts))
        present = counts > 0
        means = sums[present] / counts[present]
        between = float(np.sum(counts[present] * (means - t.mean()) ** 2) / n)
        # Small bins explain noise too: shrink by the bins' degrees of freedom (like an adjusted R2).
        adjusted = between / variance - (present.sum() - 1) / max(n - 1, 1)
        total += max(0.0, adjusted)
    return round(float(total) / targets.shape[1], 6)
