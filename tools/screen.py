"""Screening features on very wide tables: each column's own link to the target, fast enough for
thousands of columns, so that selection and tuning can work on the columns that matter.

The score is the correlation ratio (eta squared): the share of the target's variance explained by the
column's bins (deciles for numbers, levels for categories and booleans, with a missing-value bin). It
sees monotone and non-monotone links alike and costs one sort per column. For several classes it is
averaged over the one-vs-rest indicators. Columns with no usable variation score 0. Dates are not
scored (they are kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

N_BINS = 10


@dataclass
class Screen:
    """Scores per column (eta squared, 0 to 1) and the columns kept."""

    scores: dict[str, float]
    kept: list[str]
    rows: int

    def dropped(self) -> list[str]:
        return [c for c in self.scores if c not in set(self.kept)]


def screen_features(X: pd.DataFrame, y: np.ndarray, task: str, *, keep: int, numeric: list[str],
                    always: list[str] | None = None, max_rows: int = 20_000, seed: int = 0) -> Screen:
    """Keep the ``keep`` columns of ``X`` with the strongest single-column link to ``y``.

    Args:
        X: the features (raw, as planned).
        y: encoded target (class index, or values for regression).
        task: binary, multiclass or regression.
        keep: how many columns to keep (all of ``always`` are kept on top).
        numeric: the columns to bin by deciles; the others are binned by their values.
        always: columns kept whatever their score (dates, columns the person asked to keep).
        max_rows: rows sampled for the scores.
        seed: seed of the sample.
    """
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(X), size=min(max_rows, len(X)), replace=False))
    sample = X.iloc[rows]
    targets = _targets(np.asarray(y)[rows], task)
    numeric_set = set(numeric)
    fixed = [c for c in (always or []) if c in X.columns]
    scores: dict[str, float] = {}
    for col in X.columns:
        if col in fixed:
            continue
        bins = _numeric_bins(sample[col]) if col in numeric_set else _level_bins(sample[col])
        scores[str(col)] = _eta_squared(bins, targets)
    ranked = sorted(scores, key=lambda c: -scores[c])
    kept = fixed + ranked[:max(0, keep)]
    order = {c: i for i, c in enumerate(X.columns)}
    return Screen(scores, sorted(kept, key=order.__getitem__), len(rows))


def _targets(y: np.ndarray, task: str) -> np.ndarray:
    """The target as one column (binary, regression) or one-vs-rest indicators (multiclass)."""
    if task == "multiclass":
        classes = np.unique(y)
        return (y[:, None] == classes[None, :]).astype(float)
    return np.asarray(y, dtype=float)[:, None]


def _numeric_bins(values: pd.Series) -> np.ndarray:
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(x)
    bins = np.full(len(x), N_BINS, dtype=np.int64)
    if finite.sum() < 2:
        return bins
    edges = np.unique(np.quantile(x[finite], np.linspace(0, 1, N_BINS + 1)[1:-1]))
    bins[finite] = np.searchsorted(edges, x[finite], side="right")
    return bins


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
    return round(total / targets.shape[1], 6)
