"""A fairness audit of a model's holdout predictions across groups of people (from ``tools.sensitive``).

Per sensitive column, every group gets its own metrics, and the groups with at least ``min_group`` rows
are compared through disparities:

- binary (positive class = ``classes[1]``, predicted positive when its probability >= ``threshold``,
  0.5 if None): per group the selection rate, true and false positive rates, precision, accuracy, the mean
  predicted probability (``mean_score``) beside the actual positive rate (``observed_rate``), which shows
  calibration in the group. Disparities: ``demographic_parity_difference`` (highest minus lowest selection
  rate), ``demographic_parity_ratio`` (lowest over highest) and ``equalized_odds_difference`` (the larger of
  the TPR and the FPR gaps, over the groups where each is defined).
- multiclass (predicted class = argmax): per group the accuracy and the share of rows predicted as each
  class. Disparities: ``accuracy_difference`` and ``demographic_parity_difference`` taken as the largest,
  over classes, of the gap between the groups' rates of being predicted that class (``detail`` names it).
- regression (error = prediction - actual, so positive means over-predicted): per group the MAE, mean
  error, mean prediction and mean actual. Disparities: ``mae_difference`` and ``mean_error_difference``
  (highest minus lowest group value).

When a disparity is "large" (a size that matters in practice, point estimate against a fixed rule):
- demographic parity difference >= 0.10, equalized-odds difference >= 0.10, accuracy difference >= 0.10:
  a 10-point gap in who is selected or how often the model is right is a difference a person affected
  would notice, and the common threshold in fairness assessments; smaller gaps are mostly sampling noise
  at holdout sizes;
- demographic parity ratio < 0.80: the four-fifths rule of the US Uniform Guidelines on Employee
  Selection (1978), the best-known legal yardstick for adverse impact;
- regression: MAE difference or mean-error difference >= 20% of the overall MAE; errors have the
  target's unit, so the gap is judged against the model's typical error rather than a fixed number.

Interval and flag: a 90% percentile bootstrap interval (rows resampled with replacement, seeded, up to
``n_boot`` resamples, stopping when ``seconds`` have passed but keeping at least 50). It is the interval of
the SIGNED gap (or ratio) between the two groups that make the point estimate (``between``); the max minus
min over all groups cannot fall below zero in any resample, so its interval would never hold "no disparity"
and prove nothing. A disparity is ``flagged`` when it is large AND its interval excludes no disparity (0 for
differences, 1 for the ratio). ``n_boot`` counts the resamples where it could be computed.

Metrics follow fairlearn's definitions (``MetricFrame`` with ``selection_rate``, ``true_positive_rate``,
``false_positive_rate``; ``demographic_parity_difference`` / ``_ratio``, ``equalized_odds_difference``),
but point estimates and resamples are both computed by ``group_stats`` with numpy bincounts, and the tests
check it against fairlearn: MetricFrame costs about 0.3 s per column per 20,000 rows (it stacks the rows
as Python objects, metric by metric), too slow for a big holdout within the run's clock, while the
bincounts take milliseconds. Two differences, on purpose: where fairlearn reads an undefined rate as 0 (a
group with no positives has no TPR), the audit says None and leaves that group out of that gap; when no
group is selected at all the ratio is 1 (all treated alike), not NaN. Rows without a finite score are left
out and counted in ``notes``; nothing here raises on odd data (one group, one row, one predicted class).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tools.jsonable import jsonable
from tools.reference import resamples
from tools.sensitive import group_labels

TASKS = ("binary", "multiclass", "regression")
LEVEL = 0.90
MIN_BOOT = 50
DIFFERENCE_LARGE = 0.10      # demographic parity, equalized odds and accuracy differences
RATIO_LARGE = 0.80           # the four-fifths rule: large when below
REGRESSION_SHARE = 0.20      # of the overall MAE
MISSING = "(missing)"
INTERVAL = f"{LEVEL:.0%} percentile bootstrap of the gap between the two groups named"


@dataclass
class GroupResult:
    """One group of one sensitive column; metrics that do not apply to the task, or are undefined in the
    group (no positives -> no TPR), are None."""

    group: str
    n: int
    share: float
    selection_rate: float | None = None
    true_positive_rate: float | None = None
    false_positive_rate: float | None = None
    precision: float | None = None
    mean_score: float | None = None
    observed_rate: float | None = None
    accuracy: float | None = None
    predicted_shares: dict[str, float] | None = None    # multiclass: class -> share of the group predicted so
    mean_error: float | None = None
    mae: float | None = None
    mean_prediction: float | None = None
    mean_actual: float | None = None


@dataclass
class Disparity:
    """A gap between groups: ``value`` on the holdout, [``low``, ``high``] its 90% bootstrap interval (None
    when no resample allowed one), ``large`` against ``limit``, ``flagged`` = large and the interval
    excludes no disparity; ``between`` = (the group with the higher rate, the one with the lower; for the
    ratio too, whose value is the lower over the higher)."""

    name: str
    value: float
    low: float | None
    high: float | None
    n_boot: int
    large: bool
    flagged: bool
    between: tuple[str, str]
    limit: float
    detail: str = ""       # which rate or class makes it: "true positive rate", "class 'b'"


@dataclass
class ColumnAudit:
    """The audit of one sensitive column; groups under the audit's ``min_group`` rows are in
    ``small_groups`` and left out of ``disparities``."""

    column: str
    category: str
    note: str
    groups: list[GroupResult]
    disparities: list[Disparity]
    small_groups: list[str]


@dataclass
class FairnessAudit:
    """The whole audit; ``warnings`` has one plain sentence per flagged disparity."""

    task: str
    positive_class: str | None
    threshold: float | None
    n_rows: int
    columns: list[ColumnAudit]
    warnings: list[str]
    seconds: float
    min_group: int = 20
    interval: str = INTERVAL
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[tuple[str, Disparity]]:
        return [(c.column, d) for c in self.columns for d in c.disparities if d.flagged]

    def to_dict(self) -> dict:
        return jsonable(_rounded(asdict(self)))


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return round(float(value), 6)
    return value


@dataclass
class _Column:
    """A sensitive column prepared for the audit: group names in order, each row's group index (``codes``)
    and its index among the usable groups (``usable_codes``, -1 for rows of small groups)."""

    name: str
    names: list[str]
    codes: np.ndarray
    usable: list[int]
    usable_codes: np.ndarray


@dataclass
class _Gap:
    """A disparity being computed: its point value and how to recompute it from a resample's stats."""

    name: str
    value: float
    hi: int
    lo: int
    key: str                 # the per-group rate it compares, as named in ``group_stats``
    limit: float
    large: bool
    ratio: bool = False      # lowest over highest instead of highest minus lowest
    cls: int | None = None   # multiclass: the class whose predicted share it compares
    detail: str = ""
    boot: list[float] = field(default_factory=list)

    def signed(self, stats: dict[str, np.ndarray]) -> float:
        """The gap between the same two groups on a resample: may cross zero (or one, for the ratio)."""
        rates = stats[self.key] if self.cls is None else stats[self.key][:, self.cls]
        if np.isnan(rates[self.hi]) or np.isnan(rates[self.lo]):
            return float("nan")     # a group with no rows in this resample (or no rate): nothing to compare
        if self.ratio:
            if rates[self.hi] > 0:
                return float(rates[self.lo] / rates[self.hi])
            # Nobody selected in either group is no disparity; only the low group selected has no finite ratio.
            return 1.0 if rates[self.lo] == 0 else float("nan")
        return float(rates[self.hi] - rates[self.lo])


@dataclass
class _Data:
    """The kept rows' arrays (``rows``: y, hard, score, correct or y, pred, err) and what the task needs."""

    task: str
    rows: dict[str, np.ndarray]
    class_names: list[str]
    positive: str | None

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def audit_fairness(task: str, y_true: np.ndarray, prediction: np.ndarray, groups: dict[str, pd.Series], *,
                   classes: list | None = None, threshold: float | None = None,
                   categories: dict[str, str] | None = None, group_notes: dict[str, str] | None = None,
                   seed: int = 0, n_boot: int = 200, seconds: float = 5.0, min_group: int = 20) -> FairnessAudit:
    """Audit holdout predictions for gaps between groups of people, per sensitive column.

    Args:
        task: "binary", "multiclass" or "regression".
        y_true: the holdout's truth: class indices into ``classes`` (classification) or numbers (regression).
        prediction: classification: the probability matrix (rows x classes, in ``classes`` order; a 1-d
            array is read as the positive class's probability for binary, as predicted class indices for
            multiclass); regression: the predicted values.
        groups: column -> group labels per row, aligned by position (from ``tools.sensitive.group_labels``).
        classes: the class names, in the order of the probability columns.
        threshold: binary only: predicted positive when the positive class's probability is at least this
            (None -> 0.5).
        categories: column -> sensitive category, for the report.
        group_notes: column -> how its groups were made (``group_labels``' note), kept in the column's note.
        seed: seeds the bootstrap.
        n_boot: the most bootstrap resamples.
        seconds: the time the bootstrap may take in all (at least 50 resamples are made even if longer).
        min_group: groups with fewer rows are shown but left out of the disparities.
    """
    start = time.monotonic()
    if task not in TASKS:
        raise ValueError(f"audit_fairness: task must be one of {', '.join(TASKS)}; got {task!r}")
    y, pred = np.asarray(y_true), np.asarray(prediction)
    if len(pred) != len(y):
        raise ValueError(f"audit_fairness: prediction has {len(pred)} rows but y_true has {len(y)}; they must match")
    for column, labels in groups.items():
        if len(labels) != len(y):
            raise ValueError(f"audit_fairness: the groups of '{column}' have {len(labels)} rows but y_true has "
                             f"{len(y)}; they must be aligned with the holdout's rows")
    if task == "binary":
        threshold = 0.5 if threshold is None else float(threshold)
    else:
        threshold = None
    data, keep = _prepare(task, y, pred, threshold, classes)
    notes = []
    if not keep.all():
        notes.append(f"{int((~keep).sum())} of {len(y)} rows left out: no finite prediction or valid truth")
    n_rows = int(keep.sum())
    columns = [_encode(str(name), labels, keep, min_group) for name, labels in groups.items()]

    audits, gaps = [], []
    for col in columns:
        audit, col_gaps = _audit_column(col, data, (categories or {}).get(col.name, ""),
                                        (group_notes or {}).get(col.name, ""), n_rows, min_group)
        audits.append(audit)
        gaps.append(col_gaps)
    if n_rows and any(gaps):
        _bootstrap(columns, gaps, data, n_rows, seed=seed, n_boot=n_boot,
                   seconds=max(0.0, seconds - (time.monotonic() - start)))
    sentences = []
    for col, audit, col_gaps in zip(columns, audits, gaps):
        audit.disparities = [_finish(g, col) for g in col_gaps]
        flagged = [(d, g) for d, g in zip(audit.disparities, col_gaps) if d.flagged]
        # The parity ratio restates the parity difference of the same two groups: one sentence for both.
        said = {d.between for d, g in flagged if d.name == "demographic_parity_difference"}
        sentences += [_sentence(audit, d, g, data) for d, g in flagged
                      if not (d.name == "demographic_parity_ratio" and d.between in said)]
    return FairnessAudit(task=task, positive_class=data.positive, threshold=threshold, n_rows=n_rows,
                         columns=audits, warnings=sentences, seconds=round(time.monotonic() - start, 3),
                         min_group=min_group, notes=notes)


def audit_columns(task: str, y_true: np.ndarray, prediction: np.ndarray, frame: pd.DataFrame,
                  sensitive: dict[str, str], *, classes: list | None, threshold: float | None, seed: int,
                  seconds: float) -> FairnessAudit | None:
    """`audit_fairness` across the groups of each column of ``sensitive`` (column -> category) that ``frame``
    has, its rows aligned with ``y_true`` by position, the groups made by `tools.sensitive.group_labels`;
    None when ``frame`` has none of the columns. What the run's holdout and a monitored batch both use."""
    present = {c: k for c, k in sensitive.items() if c in frame.columns}
    if not present:
        return None
    groups, notes = {}, {}
    for column, category in present.items():
        labels, notes[column] = group_labels(frame[column], category)
        groups[column] = labels.reset_index(drop=True)
    return audit_fairness(task, y_true, prediction, groups, classes=classes, threshold=threshold,
                          categories=present, group_notes=notes, seed=seed, seconds=seconds)


def _prepare(task: str, y: np.ndarray, pred: np.ndarray, threshold: float | None,
             classes: list | None) -> tuple[_Data, np.ndarray]:
    """The arrays the audit works on (kept rows only), and which rows were kept."""
    truth = pd.to_numeric(pd.Series(y.ravel()), errors="coerce").to_numpy(dtype=float)
    given = pd.Series(y.ravel()).notna().to_numpy()
    if task != "regression" and np.any(given & np.isnan(truth)):
        example = y.ravel()[given & np.isnan(truth)][0]
        raise ValueError(f"audit_fairness: y_true must hold class indices into classes (0 to k-1) for a {task} "
                         f"task; got {example!r}. Encode the labels with the classes' order first.")
    if task == "regression":
        guess = pd.to_numeric(pd.Series(pred.ravel()), errors="coerce").to_numpy(dtype=float)
        keep = np.isfinite(truth) & np.isfinite(guess)
        rows = {"y": truth[keep], "pred": guess[keep], "err": guess[keep] - truth[keep]}
        return _Data(task, rows, [], None), keep
    scores = pred.astype(float) if pred.dtype.kind in "biuf" else np.full(pred.shape, np.nan)
    if classes is not None:
        n_classes = len(classes)
    elif scores.ndim == 2:
        n_classes = scores.shape[1]
    else:
        # Hard labels without class names: as many classes as the largest index seen says (at least two).
        seen = np.concatenate([truth[np.isfinite(truth)], scores[np.isfinite(scores)]])
        n_classes = max(2, int(seen.max()) + 1 if task == "multiclass" and len(seen) else 2)
    names = [str(c) for c in classes] if classes is not None else [str(j) for j in range(n_classes)]
    if scores.ndim == 2 and scores.shape[1] != n_classes:
        scores = np.full(len(scores), np.nan)      # a matrix that does not fit the classes: nothing to audit
    if task == "binary":
        names = names if len(names) >= 2 else ["0", "1"]
        p1 = scores[:, 1] if scores.ndim == 2 and scores.shape[1] > 1 else scores.reshape(len(scores), -1)[:, -1]
        keep = np.isfinite(p1) & np.isin(truth, (0, 1))
        t, p1 = truth[keep].astype(int), p1[keep]
        hard = (p1 >= threshold).astype(int)
        rows = {"y": t, "hard": hard, "score": p1, "correct": (hard == t).astype(float)}
        return _Data(task, rows, names, names[1]), keep
    if scores.ndim == 2:
        keep = np.isfinite(scores).all(axis=1)
        hard = np.argmax(np.where(np.isfinite(scores), scores, -np.inf), axis=1)
    else:
        hard = np.nan_to_num(scores, nan=-1.0).astype(np.int64)
        keep = np.isfinite(scores) & (hard >= 0) & (hard < n_classes)
    keep &= np.isfinite(truth) & (truth >= 0) & (truth < n_classes)
    t, hard = truth[keep].astype(np.int64), hard[keep]
    return _Data(task, {"y": t, "hard": hard, "correct": (hard == t).astype(float)}, names, None), keep


def _encode(name: str, labels: pd.Series, keep: np.ndarray, min_group: int) -> _Column:
    series = labels if isinstance(labels, pd.Series) else pd.Series(labels)
    values = series.to_numpy(dtype=object)
    text = np.array([MISSING if _missing(v) else str(v) for v in values], dtype=object)[keep]
    counts = pd.Series(text, dtype=object).value_counts()
    if isinstance(series.dtype, pd.CategoricalDtype):
        order = [str(c) for c in series.cat.categories if str(c) in counts.index]
        order += [g for g in counts.index if g not in order]
    else:
        # Biggest first; the pooled and the unknown at the end, where a reader looks for them.
        order = [g for g in counts.index if g not in ("other", MISSING)]
        order += [g for g in ("other", MISSING) if g in counts.index]
    lookup = {g: i for i, g in enumerate(order)}
    codes = np.fromiter((lookup[g] for g in text), dtype=np.int64, count=len(text))
    usable = [i for i, g in enumerate(order) if counts[g] >= min_group]
    remap = np.full(len(order) + 1, -1, dtype=np.int64)
    remap[usable] = np.arange(len(usable))
    return _Column(name, order, codes, usable, remap[codes])


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def group_stats(task: str, codes: np.ndarray, rows: dict[str, np.ndarray], k: int, *, n_classes: int = 0,
                full: bool = False) -> dict[str, np.ndarray]:
    """Per-group rates for ``k`` groups from each row's group index (0..k-1), undefined ones NaN: what the
    point estimates and every bootstrap resample are computed with (fairlearn's definitions; tested
    against fairlearn). ``full`` adds the rates no disparity needs (means of scores, predictions, truth)."""
    n = np.bincount(codes, minlength=k).astype(float)

    def mean_of(weights: np.ndarray, over: np.ndarray) -> np.ndarray:
        total = np.bincount(codes, weights=weights, minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(over > 0, total / np.where(over > 0, over, 1), np.nan)

    if task == "regression":
        stats = {"n": n, "mae": mean_of(np.abs(rows["err"]), n), "mean_error": mean_of(rows["err"], n)}
        if full:
            stats["mean_prediction"], stats["mean_actual"] = mean_of(rows["pred"], n), mean_of(rows["y"], n)
        return stats
    stats = {"n": n, "accuracy": mean_of(rows["correct"], n)}
    if task == "binary":
        y, hard = rows["y"].astype(float), rows["hard"].astype(float)
        positives = np.bincount(codes, weights=y, minlength=k)
        stats["selection_rate"] = mean_of(hard, n)
        stats["true_positive_rate"] = mean_of(y * hard, positives)
        stats["false_positive_rate"] = mean_of((1 - y) * hard, n - positives)
        stats["precision"] = mean_of(y * hard, np.bincount(codes, weights=hard, minlength=k))
        if full:
            stats["mean_score"], stats["observed_rate"] = mean_of(rows["score"], n), mean_of(y, n)
        return stats
    counts = np.bincount(codes * n_classes + rows["hard"], minlength=k * n_classes).reshape(k, n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        stats["class_rates"] = np.where(n[:, None] > 0, counts / np.where(n > 0, n, 1)[:, None], np.nan)
    return stats


def _audit_column(col: _Column, data: _Data, category: str, group_note: str, n_rows: int,
                  min_group: int) -> tuple[ColumnAudit, list[_Gap]]:
    groups = _group_results(col, data, n_rows)
    small = [g.group for i, g in enumerate(groups) if i not in col.usable]
    parts = [group_note] if group_note else []
    if small:
        parts.append(f"left out of the disparities for having under {min_group} rows: "
                     + ", ".join(f"{g.group} ({g.n})" for i, g in enumerate(groups) if i not in col.usable))
    gaps: list[_Gap] = []
    if len(col.usable) < 2:
        parts.append(f"fewer than two groups with at least {min_group} rows: no disparities")
    else:
        gaps = _point_gaps(col, data, [groups[i] for i in col.usable])
    audit = ColumnAudit(column=col.name, category=category, note="; ".join(parts), groups=groups,
                        disparities=[], small_groups=small)
    return audit, gaps


def _group_results(col: _Column, data: _Data, n_rows: int) -> list[GroupResult]:
    """Each group's metrics (all groups, small ones included), undefined ones as None."""
    stats = group_stats(data.task, col.codes, data.rows, len(col.names), n_classes=data.n_classes, full=True)
    keys = {"binary": ("selection_rate", "true_positive_rate", "false_positive_rate", "precision", "accuracy",
                       "mean_score", "observed_rate"),
            "multiclass": ("accuracy",),
            "regression": ("mae", "mean_error", "mean_prediction", "mean_actual")}[data.task]
    out = []
    for i, name in enumerate(col.names):
        n = int(stats["n"][i])
        result = GroupResult(group=name, n=n, share=n / n_rows if n_rows else 0.0)
        for key in keys:
            setattr(result, key, _number(stats[key][i]))
        if data.task == "multiclass":
            result.predicted_shares = {c: float(stats["class_rates"][i, j]) for j, c in enumerate(data.class_names)}
        out.append(result)
    return out


def _number(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _group_value(g: GroupResult, key: str, cls: str | None) -> float | None:
    if key == "class_rates":
        return (g.predicted_shares or {}).get(cls or "")
    return getattr(g, key)


def _spread(used: list[GroupResult], name: str, key: str, limit: float, *, cls: int | None = None,
            class_name: str | None = None, detail: str = "") -> _Gap | None:
    """Highest minus lowest of a group value over the usable groups where it is defined."""
    defined = [(v, j) for j, g in enumerate(used) if (v := _group_value(g, key, class_name)) is not None]
    if len(defined) < 2:
        return None
    (top, hi), (bottom, lo) = max(defined), min(defined)
    value = float(top - bottom)
    return _Gap(name, value, hi, lo, key, limit, value >= limit and value > 0, cls=cls, detail=detail)


def _point_gaps(col: _Column, data: _Data, used: list[GroupResult]) -> list[_Gap]:
    """The disparities' point estimates over the usable groups (``hi``/``lo`` index ``col.usable``)."""
    gaps: list[_Gap | None]
    if data.task == "binary":
        gaps = _binary_gaps(used)
    elif data.task == "multiclass":
        by_class = [_spread(used, "demographic_parity_difference", "class_rates", DIFFERENCE_LARGE, cls=j,
                            class_name=name, detail=f"class '{name}'") for j, name in enumerate(data.class_names)]
        found = [g for g in by_class if g is not None]
        gaps = [_spread(used, "accuracy_difference", "accuracy", DIFFERENCE_LARGE),
                max(found, key=lambda g: g.value) if found else None]
    else:
        limit = REGRESSION_SHARE * float(np.mean(np.abs(data.rows["err"])))
        gaps = [_spread(used, "mae_difference", "mae", limit),
                _spread(used, "mean_error_difference", "mean_error", limit)]
    return [g for g in gaps if g is not None]


def _binary_gaps(used: list[GroupResult]) -> list[_Gap | None]:
    rates = [g.selection_rate or 0.0 for g in used]
    order = np.argsort(rates, kind="stable")    # two different groups even when all rates tie
    hi, lo = int(order[-1]), int(order[0])
    dp = rates[hi] - rates[lo]
    # Nobody selected in any group: all are treated alike (fairlearn would say NaN).
    ratio = rates[lo] / rates[hi] if rates[hi] > 0 else 1.0
    gaps: list[_Gap | None] = [
        _Gap("demographic_parity_difference", dp, hi, lo, "selection_rate", DIFFERENCE_LARGE, dp >= DIFFERENCE_LARGE),
        _Gap("demographic_parity_ratio", ratio, hi, lo, "selection_rate", RATIO_LARGE, ratio < RATIO_LARGE,
             ratio=True),
    ]
    # Equalized odds: the larger of the TPR and FPR gaps, each over the groups where it is defined.
    parts = [_spread(used, "equalized_odds_difference", key, DIFFERENCE_LARGE, detail=key.replace("_", " "))
             for key in ("true_positive_rate", "false_positive_rate")]
    found = [g for g in parts if g is not None]
    gaps.append(max(found, key=lambda g: g.value) if found else None)
    return gaps


def _bootstrap(columns: list[_Column], gaps: list[list[_Gap]], data: _Data, n_rows: int, *, seed: int,
               n_boot: int, seconds: float) -> None:
    """Fill each gap's ``boot`` with its signed value on row resamples (the same resamples for every column)."""
    active = [(col, col_gaps) for col, col_gaps in zip(columns, gaps) if col_gaps]
    for idx in resamples(n_rows, n=n_boot, seed=seed, seconds=seconds, at_least=min(MIN_BOOT, n_boot)):
        sample = {k: v[idx] for k, v in data.rows.items()}
        for col, col_gaps in active:
            codes = col.usable_codes[idx]
            keep = codes >= 0
            part = {k: v[keep] for k, v in sample.items()}
            with np.errstate(invalid="ignore", divide="ignore"):
                stats = group_stats(data.task, codes[keep], part, len(col.usable), n_classes=data.n_classes)
                for gap in col_gaps:
                    gap.boot.append(gap.signed(stats))


def _finish(gap: _Gap, col: _Column) -> Disparity:
    values = np.array([v for v in gap.boot if np.isfinite(v)], dtype=float)
    low = high = None
    clear = False
    if len(values):
        tail = (1 - LEVEL) / 2
        low, high = (float(q) for q in np.quantile(values, [tail, 1 - tail]))
        clear = high < 1.0 if gap.ratio else low > 0.0
    return Disparity(name=gap.name, value=gap.value, low=low, high=high, n_boot=len(values), large=gap.large,
                     flagged=bool(gap.large and clear),
                     between=(col.names[col.usable[gap.hi]], col.names[col.usable[gap.lo]]),
                     limit=gap.limit, detail=gap.detail)


def _sentence(audit: ColumnAudit, d: Disparity, gap: _Gap, data: _Data) -> str:
    """One plain sentence for a flagged disparity: column, the two groups with their rates and sizes, the
    value, its interval and the rule it breaks."""
    by_name = {g.group: g for g in audit.groups}
    a, b = by_name[d.between[0]], by_name[d.between[1]]
    class_name = data.class_names[gap.cls] if gap.cls is not None else None
    va, vb = _group_value(a, gap.key, class_name), _group_value(b, gap.key, class_name)
    if gap.key in ("mae", "mean_error"):
        pair = f"{va:.4g} for {a.group} (n={a.n}) but {vb:.4g} for {b.group} (n={b.n})"
    else:
        pair = f"{va:.0%} for {a.group} (n={a.n}) but {vb:.0%} for {b.group} (n={b.n})"
    shares = f"for {va:.0%} of {a.group} (n={a.n}) but {vb:.0%} of {b.group} (n={b.n})"
    what = {"selection_rate": f"the model predicts '{data.positive}' {shares}",
            "true_positive_rate": f"the true positive rate is {pair}",
            "false_positive_rate": f"the false positive rate is {pair}",
            "accuracy": f"accuracy is {pair}",
            "class_rates": f"the model predicts class '{class_name}' {shares}",
            "mae": f"the mean absolute error is {pair}",
            "mean_error": f"the mean error (prediction minus actual) is {pair}"}[gap.key]
    if gap.ratio:
        rule = f"below the four-fifths rule's {RATIO_LARGE:.2f}"
    elif data.task == "regression":
        overall = d.limit / REGRESSION_SHARE
        rule = f"at or above {REGRESSION_SHARE:.0%} of the overall mean absolute error ({overall:.4g})"
    else:
        rule = f"at or above the {d.limit:.2f} limit"
    return (f"{audit.column}: {what}; {d.name.replace('_', ' ').replace('mae', 'MAE')} {d.value:.3g} "
            f"({LEVEL:.0%} interval {d.low:.3g} to {d.high:.3g}), {rule}.")
