"""Small target-aware facts the column plan needs, computed on the training part only.

- `missing_signal`: does missingness in a column go with a different target? (an indicator then helps)
- `datetime_summary`: does a datetime column span several years, and does it carry a time of day?
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

MIN_MISSING_SHARE = 0.05
MIN_MISSING_ROWS = 20
P_VALUE = 0.01


def missing_signal(frame: pd.DataFrame, y: np.ndarray, task: str, columns: list[str]) -> dict[str, dict]:
    """For columns with enough gaps, whether the target differs where the value is missing.

    Classification: chi-squared test of class against missingness. Regression: Mann-Whitney U test of the
    target where missing against where present. ``signal`` is True when p < 0.01.
    """
    out: dict[str, dict] = {}
    for col in columns:
        missing = frame[col].isna().to_numpy()
        n_missing = int(missing.sum())
        share = n_missing / max(len(missing), 1)
        if share < MIN_MISSING_SHARE or n_missing < MIN_MISSING_ROWS or n_missing == len(missing):
            continue
        if task == "regression":
            a, b = y[missing], y[~missing]
            p = float(stats.mannwhitneyu(a, b).pvalue)
            entry = {"target_mean_when_missing": float(np.mean(a)), "target_mean_when_present": float(np.mean(b))}
        else:
            table = pd.crosstab(missing, y).to_numpy()
            p = float(stats.chi2_contingency(table).pvalue) if table.shape[0] > 1 and table.shape[1] > 1 else 1.0
            rate = lambda m: float(np.mean(y[m] == np.max(y)))  # noqa: E731 - positive or last class
            entry = {"class_rate_when_missing": rate(missing), "class_rate_when_present": rate(~missing)}
        out[col] = {"missing_share": round(share, 4), "p_value": p, "signal": p < P_VALUE, **entry}
    return out


def datetime_summary(frame: pd.DataFrame, columns: list[str]) -> dict[str, dict]:
    """Years spanned and whether a time of day is present, per datetime column."""
    out: dict[str, dict] = {}
    for col in columns:
        s = frame[col].dropna()
        if s.empty:
            out[col] = {"years": 0, "has_time": False}
            continue
        has_time = bool(((s.dt.hour != 0) | (s.dt.minute != 0) | (s.dt.second != 0)).any())
        out[col] = {"years": int(s.dt.year.nunique()), "has_time": has_time,
                    "min": s.min().isoformat(), "max": s.max().isoformat()}
    return out
