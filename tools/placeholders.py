"""Values that stand for something else: placeholders for "missing" or "never" (-1, 999, 9999) written as
numbers, and a regression target capped at a ceiling (every value above it recorded as the ceiling).

Neither is an error, and models can use both; but a person must know, because a placeholder is read as a
quantity by linear models and statistics, and a capped target means predictions near the cap are
censored. Each finding says the column, the value, how many rows, and why it looks like what it is.
"""

from __future__ import annotations

import pandas as pd

SENTINELS = (-1, -9, -99, -999, -9999, 99, 999, 9999, 99999, 999999)
# A sentinel must be this common to matter (a share of the column's values, and a number of rows) ...
MIN_SHARE, MIN_ROWS = 0.01, 5
# ... and far from every other value: a positive one at least this many times their largest.
POSITIVE_GAP = 2.0
# A target's maximum repeated in this share of rows (and as many times more than any other value) is a cap.
CAP_SHARE, CAP_RATIO = 0.005, 5.0


def find_placeholders(frame: pd.DataFrame, *, skip: tuple[str, ...] = ()) -> list[dict]:
    """Numeric columns holding a sentinel value apart from all their other values."""
    found = []
    for name in frame.columns:
        s = frame[name]
        if name in skip or not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        values = s.dropna()
        if len(values) < MIN_ROWS * 2:
            continue
        for sentinel in SENTINELS:
            hits = int((values == sentinel).sum())
            if hits < max(MIN_ROWS, MIN_SHARE * len(values)) or hits == len(values):
                continue
            others = values[values != sentinel]
            if sentinel < 0 and others.min() >= 0:
                why = f"every other value is {others.min():g} or more"
            elif sentinel > 0 and others.max() * POSITIVE_GAP <= sentinel and others.min() >= 0:
                why = f"every other value is at most {others.max():g}"
            else:
                continue
            found.append({"column": str(name), "value": sentinel, "rows": hits, "share": round(hits / len(values), 4),
                          "why": why})
            break
    return found


def capped_target(values: pd.Series) -> dict | None:
    """The ceiling of a numeric target recorded as its maximum in many rows, or None."""
    values = values.dropna()
    if len(values) < 100 or not pd.api.types.is_numeric_dtype(values):
        return None
    top = values.max()
    at_top = int((values == top).sum())
    counts = values[values != top].value_counts()
    runner_up = int(counts.iloc[0]) if len(counts) else 0
    if at_top < max(MIN_ROWS, CAP_SHARE * len(values)) or at_top < CAP_RATIO * max(runner_up, 1):
        return None
    return {"value": float(top), "rows": at_top, "share": round(at_top / len(values), 4),
            "next_most_common": runner_up}
