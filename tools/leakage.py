"""Target leakage: columns that predict the target too well to be known at prediction time.

A leak is information recorded after (or derived from) the outcome: the duration of a marketing call, a
total that includes the tip being predicted. It makes validation look great and the deployed model
useless. On a seeded sample and the same 3 folds, `find_leakage` scores every column alone (a depth-4
tree for numbers, a smoothed per-level lookup for categories; ROC AUC, macro one-vs-rest for multiclass,
or R2), one small LightGBM on all columns and without each of the strongest few, and for regression a
ridge model on the numeric columns with and without each. The rules (thresholds calibrated on the 13
datasets in /work/shared/datasets, figures beside each threshold):
- `near_perfect_alone` (strong): one column alone is (almost) the target.
- `reconstructs_target` (regression): a linear model of the numeric columns explains much of the target
  and loses most of it without this column, and the full LightGBM confirms the loss (a sum or difference
  that contains the target, which trees see only dimly).
- `dominates_alone` (suspect): the best column alone is far ahead of the second, carries most of what the
  full model knows, and the other columns cannot make up for it. Legitimately strong features fail one of
  the three: they have correlated twins (diamonds carat/x/y/z) or the others recover them (median_income).
- `drop_column_collapse` (suspect): the full model loses more than half of its skill without the column.
- `presence_encodes_target` (classification; strong at ROC AUC >= 0.98, suspect from 0.93): whether the
  column has a value at all, or a non-zero one, alone says the class (`tools.leakage_patterns`).
- `named_after_the_fact` (suspect): the name says it records what happened after the outcome (a refund, a
  discharge, an outcome) and the column alone carries signal (ROC AUC >= 0.6, R2 >= 0.1).
- `arithmetic_of_target` (regression, strong): a sum, difference, product or ratio of two columns, or a sum
  of three, equals the target in 99% of rows; each column in it is a part of the target.
Known blind spot: two copies of one leak mask each other in the dominance and drop-column rules; only
`near_perfect_alone` still sees them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tools.errors import DataError, ToolArgumentError
from tools.jsonable import jsonable
from tools.leakage_patterns import after_the_fact_names, arithmetic_matches, presence_scores
from tools.leakage_probes import (
    N_FOLDS,
    TimeLimit,
    estimate_seconds,
    linear_scores,
    make_folds,
    score_full,
    score_single,
)
from tools.tasks import TASKS

# Tiny-noise copies of a regression target score R2 0.97-0.999 with the depth-4 tree (taxis tip, with its
# mass of zeros, is the lowest); the best legitimate single column seen is diamonds carat at ~0.87.
NEAR_PERFECT_R2 = 0.95
# hypothyroid TSH alone reaches macro AUC 0.986-0.989 and is a legitimate lab value; a copy scores 1.0.
NEAR_PERFECT_AUC = 0.995
# dominates_alone, over 5 seeds: bank duration has lift ratio to the second column 2.07-2.13, share of
# the full model's lift 0.74-0.75 and drop loss 0.41-0.46. Every legitimate case fails a condition:
# titanic sex (ratio 1.3-1.45, loss up to 0.34), hypothyroid TSH (ratio ~1.55, loss ~0.26), credit_g
# checking_status (ratio up to 1.8, loss <= 0.2), california median_income (ratio ~1.9, loss ~0.06).
DOMINANCE_RATIO = 1.75
DOMINANCE_SHARE = 0.6
DOMINANCE_DROP_LOSS = 0.3
# reconstructs_target: taxis total loses 0.70-0.74 of the linear R2 (0.88 -> 0.25) and 0.21-0.25 of the
# LightGBM lift; the closest legitimate cases are taxis fare (0.42, 0.08) and median_income (0.41, 0.05).
RECONSTRUCT_MIN_R2 = 0.5
RECONSTRUCT_LINEAR_LOSS = 0.5
RECONSTRUCT_TREE_LOSS = 0.15
RECONSTRUCT_EXACT_R2 = 0.95
# presence_encodes_target: honest columns of the shared datasets reach at most 0.77 (titanic sex,
# horse_colic lesion_1); a refund flag or an outcome record filled in afterwards reaches 0.97 and more.
PRESENCE_STRONG_AUC = 0.98
PRESENCE_SUSPECT_AUC = 0.93
# named_after_the_fact: a name alone is weak evidence; the column must also carry signal alone.
NAMED_MIN_LIFT = 0.1
# drop_column_collapse: the largest legitimate loss seen is ~0.34 (titanic sex); bank duration 0.41-0.46.
COLLAPSE_LOSS = 0.5
COLLAPSE_MIN_LIFT = 0.1

N_DROP_COLUMNS = 3
_ID_UNIQUE_SHARE = 0.9



@dataclass(frozen=True)
class LeakSuspect:
    """A column suspected of leaking the target, with the rule that fired and its figures."""

    column: str
    severity: str  # "strong": near-certain, drop it | "suspect": a person should decide
    rule: str
    score_alone: float
    evidence: dict[str, Any]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


@dataclass(frozen=True)
class LeakageReport:
    """What `find_leakage` measured: per-column scores, the full model, suspects, skips and notes."""

    task: str
    single_column_scores: dict[str, float]
    full_score: float | None
    suspects: tuple[LeakSuspect, ...]
    seconds: float
    metric: str = "roc_auc"
    n_rows_used: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    drop_column_scores: dict[str, float] = field(default_factory=dict)  # full model without the column
    linear_score: float | None = None  # regression: ridge on the numeric columns
    linear_scores_without: dict[str, float] = field(default_factory=dict)
    presence: dict[str, dict] = field(default_factory=dict)   # classification: see tools.leakage_patterns
    arithmetic: list[dict] = field(default_factory=list)      # regression: formulas equal to the target
    complete: bool = True  # False when the time limit cut a step short (see notes)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))

    def summary(self) -> str:
        """A few lines for a person or an LLM: column names and scores, no cell values."""
        top = sorted(self.single_column_scores.items(), key=lambda kv: -kv[1])[:3]
        full = "n/a" if self.full_score is None else f"{self.full_score:.3f}"
        lines = [f"Leakage check ({self.task}, {self.metric}, {self.n_rows_used:,} rows, "
                 f"{self.seconds:.1f} s): "
                 f"full model {full}; best single columns "
                 + ", ".join(f"{name} {score:.3f}" for name, score in top) + "."]
        lines += [f"{s.severity.upper()} '{s.column}' ({s.rule}): {s.reason}" for s in self.suspects]
        if not self.suspects:
            lines.append("No leakage suspects.")
        return "\n".join(lines + list(self.notes))


def find_leakage(
    frame: pd.DataFrame,
    target: str,
    task: str,
    *,
    columns: Sequence[str] | None = None,
    seed: int = 0,
    max_rows: int = 5000,
    time_limit: float = 15.0,
) -> LeakageReport:
    """Find columns that leak the target: too predictive alone, or rebuilding it with other columns.

    Scores each column alone and a small full model (with and without the strongest columns) in 3-fold
    cross-validation on a seeded sample, then applies calibrated rules. A "strong" suspect should be
    dropped; a "suspect" needs a person (or the policy) to decide whether it is known at prediction time.

    Args:
        frame: the data, typed (numbers, booleans, datetimes, strings), including the target column.
        target: name of the target column.
        task: "binary", "multiclass" or "regression".
        columns: the feature columns to check; all columns except the target when omitted.
        seed: seed for the row sample, the folds and the models.
        max_rows: at most this many rows (a seeded sample) are used; 5000 keeps the check to seconds.
        time_limit: seconds; the check stops early, says so in the report, and returns what it measured.
    """
    clock = TimeLimit(time_limit)
    _check_arguments(frame, target, task, columns, max_rows, time_limit)
    features = [c for c in (columns if columns is not None else frame.columns) if c != target]
    data, y, notes = _sample_rows(frame, target, features, task, seed, max_rows)
    encoded, kinds, skipped = _encode_columns(data, features)
    folds = make_folds(y, task, seed)

    single: dict[str, float] = {}
    for name in encoded:
        if not clock.has(0.05):
            notes.append(f"Stopped at the time limit ({time_limit:g} s) after {len(single)} of "
                         f"{len(encoded)} single-column scores; no full model.")
            break
        single[name] = score_single(encoded[name], kinds[name], y, task, folds, seed)
    ranked = sorted(single, key=lambda c: -single[c])
    presence: dict[str, dict] = {}
    arithmetic: list[dict] = []
    if task != "regression" and clock.has(0.5):
        presence = presence_scores(encoded, kinds, y)
    if task == "regression" and clock.has(1.0):
        arithmetic = arithmetic_matches(encoded, [c for c in ranked if kinds[c] == "numeric"], y)

    full_score: float | None = None
    drop_scores: dict[str, float] = {}
    linear: dict[str, float] = {}
    if not clock.ran_out and len(single) >= 2:
        names = list(single)
        matrix = np.column_stack([encoded[c] for c in names])
        cost = estimate_seconds(len(y), len(names), y, task)
        if clock.has(cost):
            t0 = time.perf_counter()
            full_score = score_full(matrix, y, task, folds, seed)
            cost = time.perf_counter() - t0
            numeric = [c for c in names if kinds[c] == "numeric"]
            if task == "regression" and len(numeric) >= 2:
                linear = linear_scores(encoded, numeric, y, folds, clock)
            top = ranked[:N_DROP_COLUMNS]
            for name in top + [c for c in _linear_candidates(linear) if c not in top]:
                if not clock.has(cost * 1.2):
                    notes.append(f"Stopped at the time limit ({time_limit:g} s) before the full model "
                                 f"without '{name}'.")
                    break
                drop_scores[name] = score_full(np.delete(matrix, names.index(name), axis=1), y, task,
                                                folds, seed)
        else:
            notes.append(f"Skipped the full model: it would not fit in the time limit ({time_limit:g} s).")

    chance = 0.0 if task == "regression" else 0.5
    return LeakageReport(
        task=task, single_column_scores=single, full_score=full_score,
        suspects=tuple(_apply_rules(single, ranked, full_score, drop_scores, linear, chance, task, presence,
                                    arithmetic, after_the_fact_names(list(single), target))),
        seconds=clock.elapsed(), metric="r2" if task == "regression" else "roc_auc", n_rows_used=len(y),
        skipped=skipped, drop_column_scores=drop_scores, linear_score=linear.pop("__all__", None),
        linear_scores_without=linear, presence=presence, arithmetic=arithmetic, complete=not clock.ran_out,
        notes=tuple(notes))


def _check_arguments(frame: pd.DataFrame, target: str, task: str, columns: Sequence[str] | None,
                     max_rows: int, time_limit: float) -> None:
    if task not in TASKS:
        raise ToolArgumentError(f"task must be one of {', '.join(TASKS)}; got {task!r}.")
    if target not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:20]))
        raise ToolArgumentError(f"No target column {target!r}; columns are {shown}.")
    missing = [c for c in (columns or []) if c not in frame.columns]
    if missing:
        raise ToolArgumentError(f"columns {missing} are not in the frame; omit `columns` to check all.")
    if max_rows < 50 or not time_limit > 0:
        raise ToolArgumentError(f"max_rows must be at least 50 and time_limit a positive number of seconds; "
                                f"got max_rows={max_rows}, time_limit={time_limit}.")
    y = frame[target]
    if task == "regression" and (pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y)):
        raise ToolArgumentError(f"task 'regression' needs a numeric target; {target!r} has dtype {y.dtype}. "
                                "Use 'binary' or 'multiclass'.")


def _sample_rows(frame: pd.DataFrame, target: str, features: list[str], task: str, seed: int,
                 max_rows: int) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Rows with a target, sampled; classes too rare to appear in every fold are left out (and noted)."""
    rows = np.flatnonzero(frame[target].notna().to_numpy())
    if len(rows) > max_rows:
        # Pick row positions first so that a large frame is never copied whole.
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=max_rows, replace=False))
    data = frame.iloc[rows][[*features, target]]
    notes: list[str] = []
    if task == "regression":
        y = data[target].to_numpy(dtype="float64")
    else:
        counts = data[target].value_counts()
        rare = counts[counts < N_FOLDS]
        if len(rare):
            data = data[~data[target].isin(rare.index)]
            notes.append(f"Left out {int(rare.sum())} rows of {len(rare)} class(es) with fewer than "
                         f"{N_FOLDS} rows in the sample.")
        y = pd.factorize(data[target], sort=True)[0]
        n_classes = int(y.max()) + 1 if len(y) else 0
        if n_classes < 2:
            raise DataError(f"The target {target!r} has {n_classes} class(es) with at least {N_FOLDS} rows; "
                            "a leakage check (and a classifier) needs two. Choose another target.")
        if task == "binary" and n_classes > 2:
            raise ToolArgumentError(f"task 'binary' but the target {target!r} has {n_classes} classes; "
                                    "use 'multiclass'.")
    if len(y) < 30:
        raise DataError(f"Only {len(y)} rows have a target value; the leakage check needs at least 30.")
    return data, y, notes


def _encode_columns(data: pd.DataFrame, names: Sequence[str]
                    ) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, str]]:
    """Each column as float64 with NaN for missing, its kind, and why the others were skipped."""
    encoded: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for name in names:
        s = data[name]
        n_present = int(s.notna().sum())
        n_unique = int(s.nunique(dropna=True))
        if n_unique <= 1:
            skipped[name] = "constant or empty"
        elif pd.api.types.is_datetime64_any_dtype(s):
            if isinstance(s.dtype, pd.DatetimeTZDtype):
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
            # Seconds since the epoch whatever the unit; NaT (the minimum int64) becomes NaN.
            values = s.to_numpy().astype("datetime64[s]").astype("int64").astype("float64")
            values[s.isna().to_numpy()] = np.nan
            encoded[name], kinds[name] = values, "datetime"
        elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            encoded[name], kinds[name] = s.to_numpy(dtype="float64", na_value=np.nan), "numeric"
        elif n_unique >= _ID_UNIQUE_SHARE * n_present and n_present >= 20:
            skipped[name] = "identifier-like text (almost one value per row)"
        else:
            codes = pd.factorize(s)[0].astype("float64")
            codes[codes < 0] = np.nan
            encoded[name], kinds[name] = codes, "categorical"
    return encoded, kinds, skipped


def _linear_loss(linear: dict[str, float], name: str) -> float:
    full = linear.get("__all__", 0.0)
    return 0.0 if full <= 0 or name not in linear else (full - max(linear[name], 0.0)) / full


def _linear_candidates(linear: dict[str, float]) -> list[str]:
    return [c for c in linear if c != "__all__" and linear["__all__"] >= RECONSTRUCT_MIN_R2
            and _linear_loss(linear, c) >= RECONSTRUCT_LINEAR_LOSS]


def _apply_rules(single: dict[str, float], ranked: list[str], full_score: float | None,
                 drop_scores: dict[str, float], linear: dict[str, float], chance: float,
                 task: str, presence: dict[str, dict] | None = None,
                 arithmetic: list[dict] | None = None, named: dict[str, str] | None = None) -> list[LeakSuspect]:
    metric = "R2" if task == "regression" else "ROC AUC"
    full_lift = None if full_score is None else full_score - chance
    second = ranked[1] if len(ranked) > 1 else None
    found: dict[str, LeakSuspect] = {}

    def drop_loss(name: str) -> float | None:
        if full_lift is None or full_lift <= 0 or name not in drop_scores:
            return None
        return (full_score - drop_scores[name]) / full_lift

    def add(name: str, severity: str, rule: str, evidence: dict[str, Any], reason: str) -> None:
        if name in found:  # one suspect per column: the first (strongest) rule, the others listed
            found[name].evidence.setdefault("also_fired", []).append(rule)
            return
        base = {"second_best_column": second, "second_best_score": single.get(second),
                "full_score": full_score, "score_without": drop_scores.get(name)}
        found[name] = LeakSuspect(name, severity, rule, single.get(name, float("nan")), {**base, **evidence}, reason)

    near_perfect = NEAR_PERFECT_R2 if task == "regression" else NEAR_PERFECT_AUC
    for name in ranked:
        if single[name] >= near_perfect:
            add(name, "strong", "near_perfect_alone", {"threshold": near_perfect},
                f"'{name}' alone predicts the target almost perfectly ({metric} {single[name]:.3f}); "
                "it is very likely derived from the target.")

    for match in arithmetic or []:
        for name in match["columns"]:
            add(name, "strong", "arithmetic_of_target", {"formula": match["formula"], "match_share": match["share"]},
                f"the target equals {match['formula']} in {match['share']:.1%} of rows: '{name}' is a part of the "
                "target, known only with it.")

    for name, p in sorted((presence or {}).items(), key=lambda kv: -kv[1]["auc"]):
        if p["auc"] >= PRESENCE_SUSPECT_AUC:
            what = "has a value" if p["indicator"] == "present" else "is non-zero"
            add(name, "strong" if p["auc"] >= PRESENCE_STRONG_AUC else "suspect", "presence_encodes_target",
                {"indicator": p["indicator"], "indicator_auc": p["auc"], "share": p["share"]},
                f"whether '{name}' {what} ({p['share']:.0%} of rows) alone gives ROC AUC {p['auc']:.3f} for the "
                "target: it looks recorded after the outcome (or derived from it).")

    for name, word in (named or {}).items():
        if single.get(name, chance) - chance >= NAMED_MIN_LIFT:
            add(name, "suspect", "named_after_the_fact", {"word": word},
                f"its name ('{word}') says it records what happened after the outcome, and alone it scores "
                f"{metric} {single[name]:.3f}: check that it is known when a prediction is made.")

    for name in _linear_candidates(linear):
        loss = drop_loss(name)
        if loss is not None and loss >= RECONSTRUCT_TREE_LOSS:
            add(name, "strong" if linear["__all__"] >= RECONSTRUCT_EXACT_R2 else "suspect",
                "reconstructs_target",
                {"linear_score": linear["__all__"], "linear_score_without": linear[name],
                 "linear_loss_share": _linear_loss(linear, name), "full_loss_share": loss},
                f"A linear model of the numeric columns explains R2 {linear['__all__']:.2f} of the target "
                f"but only {linear[name]:.2f} without '{name}': it looks like a sum or difference that "
                "contains the target.")

    if ranked and full_lift is not None and full_lift > 0:
        best = ranked[0]
        lift = single[best] - chance
        second_lift = single[second] - chance if second else 0.0
        ratio = lift / second_lift if second_lift > 0 else math.inf
        loss = drop_loss(best)
        if (ratio >= DOMINANCE_RATIO and lift >= DOMINANCE_SHARE * full_lift
                and loss is not None and loss >= DOMINANCE_DROP_LOSS):
            add(best, "suspect", "dominates_alone",
                {"lift_ratio_to_second": ratio, "share_of_full_lift": lift / full_lift,
                 "full_loss_share": loss},
                f"'{best}' alone ({metric} {single[best]:.3f}) is far ahead of every other column (next "
                f"{single[second]:.3f}) and the full model drops to {drop_scores[best]:.3f} without it; "
                "check that it is known at prediction time.")

    if full_lift is not None and full_lift >= COLLAPSE_MIN_LIFT:
        for name in drop_scores:
            loss = drop_loss(name)
            if loss is not None and loss > COLLAPSE_LOSS:
                add(name, "suspect", "drop_column_collapse", {"full_loss_share": loss},
                    f"Without '{name}' the full model loses {loss:.0%} of its skill ({metric} "
                    f"{full_score:.3f} -> {drop_scores[name]:.3f}); check that it is known at prediction "
                    "time.")
    return sorted(found.values(), key=lambda s: (s.severity != "strong",
                                                 0.0 if math.isnan(s.score_alone) else -s.score_alone))
