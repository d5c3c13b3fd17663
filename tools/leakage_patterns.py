"""Two shapes of leak that scoring a column alone misses, measured directly on the leakage check's sample.

- **Presence**: whether a value is there at all (not missing, or not zero) says the outcome: an outcome
  record filled in only after the event, a refund amount that is non-zero exactly for the cases that
  churned. The yes/no indicator alone is scored (ROC AUC of the indicator, one class against the rest).
  Honest columns of the 13 shared datasets reach at most 0.77 (titanic sex, horse_colic lesion_1).
- **Names**: a column named as a record of what happened after the outcome (a refund, a cancellation, a
  discharge, a follow-up, a payout). A name is weak evidence alone: it counts when the column also carries
  signal (see `tools.leakage`). No column of the shared datasets has such a name.
- **Arithmetic**: the target is a sum, difference, product or ratio of two columns (or a sum of three),
  exactly, in nearly every row: the parts of a total. No pair or triple of the shared datasets' honest
  columns matches in more than 34% of rows (taxis, where tolls and tip are both zero).
"""

from __future__ import annotations

import itertools
import re

import numpy as np

from tools.metrics import binary_roc_auc

# Share of rows (with every operand present) where the arithmetic must give the target, within 1e-6.
ARITHMETIC_SHARE = 0.99
# At most this many numeric columns are combined (the most predictive alone first): pairs and triples of
# 30 columns are 4,495 vector operations on the sample, a fraction of a second.
MAX_ARITHMETIC_COLUMNS = 30
# An indicator present in fewer than this share of rows (or absent in fewer) says little either way.
MIN_INDICATOR_SHARE = 0.01


def presence_scores(encoded: dict[str, np.ndarray], kinds: dict[str, str], y: np.ndarray) -> dict[str, dict]:
    """Per column, the best ROC AUC of "is present" or "is non-zero" for one class against the rest (classes
    encoded 0..k-1): {column: {"indicator": "present" | "non-zero", "auc": float, "class": int, "share": float}}."""
    found: dict[str, dict] = {}
    n_classes = int(y.max()) + 1
    classes = [1] if n_classes == 2 else list(range(n_classes))
    for name, x in encoded.items():
        present = ~np.isnan(x)
        indicators = [("present", present)]
        if kinds.get(name) == "numeric":
            indicators.append(("non-zero", present & (x != 0)))
        for label, indicator in indicators:
            share = float(indicator.mean())
            if share < MIN_INDICATOR_SHARE or share > 1 - MIN_INDICATOR_SHARE:
                continue
            for k in classes:
                positive = y == k
                if positive.all() or not positive.any():
                    continue
                auc = binary_roc_auc(positive, indicator.astype(float))
                auc = max(auc, 1.0 - auc)
                if auc > found.get(name, {}).get("auc", 0.0):
                    found[name] = {"indicator": label, "auc": round(auc, 4), "class": k, "share": round(share, 4)}
    return found


def arithmetic_matches(encoded: dict[str, np.ndarray], numeric: list[str], y: np.ndarray) -> list[dict]:
    """Pairs (sum, difference, product, ratio) and triples (sum) of ``numeric`` columns equal to the target in
    nearly every row: [{"columns": [...], "formula": "a + b", "share": float}], best first."""
    names = numeric[:MAX_ARITHMETIC_COLUMNS]
    found = []
    with np.errstate(all="ignore"):
        for a, b in itertools.combinations(names, 2):
            xa, xb = encoded[a], encoded[b]
            for formula, values in ((f"{a} + {b}", xa + xb), (f"{a} - {b}", xa - xb), (f"{b} - {a}", xb - xa),
                                    (f"{a} * {b}", xa * xb), (f"{a} / {b}", xa / xb), (f"{b} / {a}", xb / xa)):
                share = _match_share(values, y)
                if share >= ARITHMETIC_SHARE:
                    found.append({"columns": [a, b], "formula": formula, "share": round(share, 4)})
        for a, b, c in itertools.combinations(names, 3):
            share = _match_share(encoded[a] + encoded[b] + encoded[c], y)
            if share >= ARITHMETIC_SHARE:
                found.append({"columns": [a, b, c], "formula": f"{a} + {b} + {c}", "share": round(share, 4)})
    return sorted(found, key=lambda m: (-m["share"], len(m["columns"])))


def _match_share(values: np.ndarray, y: np.ndarray) -> float:
    """Share of the rows with a value where it equals the target (within 1e-6, relative); 0 when the
    match says nothing (fewer than half the rows have a value, or the matched targets are all equal)."""
    ok = np.isfinite(values) & np.isfinite(y)
    if ok.mean() < 0.5:
        return 0.0
    close = np.abs(values[ok] - y[ok]) <= 1e-6 * np.maximum(1.0, np.abs(y[ok]))
    if np.unique(y[ok][close]).size < 3:
        return 0.0
    return float(close.mean())


AFTER_THE_FACT = ("refund", "refunded", "chargeback", "cancelled", "canceled", "cancellation", "churned",
                  "returned", "discharge", "discharged", "outcome", "resolution", "settled", "settlement", "payout",
                  "followup", "collections", "writeoff", "death", "died", "deceased", "survived")


def after_the_fact_names(columns: list[str], target: str) -> dict[str, str]:
    """Columns whose name says they record what happened after the outcome: {column: the word}. The target's
    own words are not counted (a "result" column beside a "result" target is another matter)."""
    own = set(_words(target))
    found = {}
    for name in columns:
        words = _words(name)
        joined = "".join(words)
        hit = next((w for w in words if w in AFTER_THE_FACT and w not in own), None)
        if hit is None and "followup" in joined and "followup" not in own:
            hit = "follow-up"
        if hit is not None:
            found[name] = hit
    return found


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]

