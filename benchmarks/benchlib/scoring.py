"""Scoring every system the same way, and comparing them: the tie rule, ranks, head-to-head, gap to the best.

The tie rule (one place, used by the head-to-head and the ranks): two scores tie when they differ by less
than 0.001 for ROC AUC and log loss, and by less than 0.1% of the reference score for RMSE.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from .data import HIGHER_IS_BETTER, Split

LOG_LOSS_EPS = 1e-15
TIE_RULE = "|diff| < 0.001 for roc_auc and log_loss; < 0.1% of the reference for rmse"
# "Close to the best": how far behind the best other system still counts, in percent of its score.
# AUC sits in a narrow band near 1, so 1% is already a clear gap; log loss and RMSE spread wider.
NEAR_BEST_PERCENT = {"roc_auc": 1.0, "log_loss": 3.0, "rmse": 3.0}


class BenchError(Exception):
    """A failure of one system on one dataset: recorded in the row, never fatal."""


# ------------------------------------------------------------------------------------------ labels


def _canon(value: Any) -> str:
    """A label as text without quoting, case or number-format differences ("'1'", "1.0", 1 -> "1")."""
    s = str(value).strip()
    while len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1].strip()
    try:
        number = float(s)
    except ValueError:
        return s.lower()
    if math.isfinite(number) and number == int(number):
        return str(int(number))
    return repr(number)


_TRUE = {"true", "yes", "t", "y", "1"}
_FALSE = {"false", "no", "f", "n", "0"}


def _canon_bool(value: Any) -> str:
    s = _canon(value)
    return "true" if s in _TRUE else "false" if s in _FALSE else s


def match_labels(labels: list[str], names: list[str]) -> tuple[dict[str, str], Callable[[Any], str]]:
    """Map each test label to one proba-column class name, trying stricter normalisations first."""
    for norm in (str, _canon, _canon_bool):
        by_label = {norm(label): label for label in labels}
        by_name: dict[str, str] = {}
        for name in names:
            by_name.setdefault(norm(name), name)
        if len(by_label) != len(labels) or len(by_name) != len(names):
            continue  # this normalisation merges distinct classes: not safe
        if all(key in by_name for key in by_label):
            return {label: by_name[norm(label)] for label in labels}, norm
    raise BenchError(f"cannot match test classes {labels} to proba columns {names}")


# ------------------------------------------------------------------------------------------- score


def score(pred: pd.DataFrame, split: Split, task: str) -> tuple[float, dict[str, float], str | None]:
    """The primary metric, the secondary ones, and how class names were matched (classification)."""
    y = split.y_test
    if len(pred) != len(y):
        raise BenchError(f"{len(pred)} predictions for {len(y)} test rows")
    if task == "regression":
        p = pd.to_numeric(pred["prediction"], errors="coerce").to_numpy(dtype="float64")
        if np.isnan(p).any():
            raise BenchError(f"{int(np.isnan(p).sum())} missing predictions")
        t = y.to_numpy(dtype="float64")
        sse = float(np.sum((t - p) ** 2))
        sst = float(np.sum((t - t.mean()) ** 2))
        return math.sqrt(sse / len(t)), {"r2": 1 - sse / sst, "mae": float(np.mean(np.abs(t - p)))}, None
    names = [c[len("proba_"):] for c in pred.columns if c.startswith("proba_")]
    if not names:
        raise BenchError(f"no proba_<class> columns in predictions (columns: {list(pred.columns)})")
    mapping, norm = match_labels(split.classes, names)
    matched = {str: "exact", _canon: "normalised", _canon_bool: "as booleans"}[norm]
    proba = np.column_stack([pd.to_numeric(pred[f"proba_{mapping[c]}"], errors="coerce").to_numpy("float64")
                             for c in split.classes])
    if np.isnan(proba).any():
        raise BenchError("missing probabilities")
    y_str = y.astype(str)
    index = y_str.map({c: i for i, c in enumerate(split.classes)})
    if index.isna().any():
        raise BenchError(f"test labels not seen in training: {sorted(set(y_str[index.isna()]))}")
    idx = index.to_numpy(dtype="int64")
    accuracy = float(np.mean(pred["prediction"].map(norm).to_numpy() == y_str.map(norm).to_numpy()))
    if task == "binary":
        pos = split.classes.index(split.positive)
        return float(roc_auc_score(idx == pos, proba[:, pos])), {"accuracy": accuracy}, matched
    # Log loss by hand (clip, renormalise): the same for every system whatever sklearn version is about.
    clipped = np.clip(proba, LOG_LOSS_EPS, 1.0)
    clipped /= clipped.sum(axis=1, keepdims=True)
    logloss = float(-np.mean(np.log(clipped[np.arange(len(idx)), idx])))
    return logloss, {"accuracy": accuracy}, matched


# ----------------------------------------------------------------------------------------- compare


def gain(ours: float, ref: float, metric: str) -> float:
    """How much better `ours` is than `ref` (negative: worse): metric units, or percent of `ref` for RMSE."""
    if metric == "rmse":
        return (ref - ours) / ref * 100 if ref else 0.0
    return ours - ref if HIGHER_IS_BETTER[metric] else ref - ours


def is_tie(ours: float, ref: float, metric: str) -> bool:
    return abs(gain(ours, ref, metric)) < (0.1 if metric == "rmse" else 0.001)


def compare(ours: float | None, ref: float | None, metric: str) -> tuple[str | None, float | None]:
    """("win" | "tie" | "loss", signed gain for `ours`); a side without a score loses to one with a score.

    The gain is None when either side has no score; the outcome is None when neither has one.
    """
    if ours is None or ref is None:
        if ours is None and ref is None:
            return None, None
        return ("win" if ref is None else "loss"), None
    g = gain(ours, ref, metric)
    return ("tie" if is_tie(ours, ref, metric) else "win" if g > 0 else "loss"), g


def rank(scores: dict[str, float | None], metric: str) -> dict[str, float]:
    """Rank 1 is the best. Tied systems share the average of their places; systems without a score share
    the last places.

    The tie rule is not transitive (a ~ b and b ~ c while a and c differ), so groups are formed greedily:
    from the best score down, each group holds the systems that tie with its best member.
    """
    higher = HIGHER_IS_BETTER[metric]
    scored = sorted(((v, s) for s, v in scores.items() if v is not None), key=lambda vs: -vs[0] if higher else vs[0])
    ranks: dict[str, float] = {}
    start = 0
    while start < len(scored):
        leader = scored[start][0]
        end = start + 1
        while end < len(scored) and is_tie(scored[end][0], leader, metric):
            end += 1
        for _, system in scored[start:end]:
            ranks[system] = (start + 1 + end) / 2  # the mean of places start+1 .. end
        start = end
    failed = [s for s, v in scores.items() if v is None]
    for system in failed:
        ranks[system] = (len(scored) + 1 + len(scores)) / 2
    return ranks


def gap_to_best(ours: float, others: list[float], metric: str) -> float:
    """Percent by which `ours` trails the best of `others` (negative: ahead of all of them)."""
    best = max(others) if HIGHER_IS_BETTER[metric] else min(others)
    if not best:
        return 0.0 if ours == best else math.inf
    return (best - ours) / abs(best) * 100 if HIGHER_IS_BETTER[metric] else (ours - best) / abs(best) * 100
