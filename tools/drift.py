"""Comparing a new batch with a training reference (tools.reference): drift and data quality per column.

For each column: the population stability index (PSI) over the reference's bins, a two-sample test
(Kolmogorov-Smirnov against the reference's percentiles for numbers, chi-squared over the levels for
categories and for numbers with few distinct values), the jump in missing share, values outside the
training range and categories never seen in training.

Thresholds depend on sample sizes, so that small batches do not raise false alarms and big ones do not
flag trivial differences: a column drifts only when its test is significant after a Bonferroni
correction over the columns checked AND its PSI passes a floor that grows with the noise a batch of that
size would show with no drift at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from tools.reference import MAX_DISCRETE, as_numbers, bin_shares, number_label

ALPHA = 0.01
PSI_FLOOR = 0.1
PSI_NOISE_FACTOR = 3.0
EPS = 1e-4


@dataclass
class ColumnCheck:
    """What changed in one column between the reference and the batch."""

    column: str
    kind: str
    n_ref: int
    n_new: int
    test: str = ""
    statistic: float | None = None
    p_value: float | None = None
    psi: float | None = None
    psi_threshold: float | None = None
    drifted: bool = False
    missing_ref: float = 0.0
    missing_new: float = 0.0
    missing_jump: bool = False
    out_of_range_share: float = 0.0
    out_of_range: bool = False
    unseen_share: float = 0.0
    unseen_examples: list[str] = field(default_factory=list)
    unseen: bool = False
    change: str = ""
    # The distributions compared, for a chart: bin or level labels, reference and batch shares.
    bins: dict = field(default_factory=dict)

    @property
    def quality_issue(self) -> bool:
        return self.missing_jump or self.out_of_range or self.unseen

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["feature_kind"] = out.pop("kind")
        out["quality_issue"] = self.quality_issue
        return out


def psi(ref: np.ndarray, new: np.ndarray) -> float:
    """Population stability index between two share vectors (zeros smoothed)."""
    ref = np.clip(np.asarray(ref, dtype=float), EPS, None)
    new = np.clip(np.asarray(new, dtype=float), EPS, None)
    ref, new = ref / ref.sum(), new / new.sum()
    return float(np.sum((new - ref) * np.log(new / ref)))


def psi_threshold(bins: int, n_ref: int, n_new: int) -> float:
    """The PSI a column must pass to count as drifted: the floor, or a few times the PSI that sampling
    noise alone gives batches of this size (about (bins - 1) x (1/n_ref + 1/n_new))."""
    noise = max(bins - 1, 1) * (1.0 / max(n_ref, 1) + 1.0 / max(n_new, 1))
    return max(PSI_FLOOR, PSI_NOISE_FACTOR * noise)


CHART_LEVELS = 15


def check_column(ref: dict, values: pd.Series, *, n_columns: int) -> ColumnCheck:
    """Compare the batch's ``values`` of one column with its reference entry ``ref``.

    Args:
        ref: the column's entry in reference.json ``features``.
        values: the batch's column, already conformed to the training schema.
        n_columns: how many columns are checked (for the Bonferroni correction).
    """
    alpha = ALPHA / max(n_columns, 1)
    n_ref = int(ref.get("count", 0))
    present = values.dropna()
    check = ColumnCheck(values.name, ref["kind"], n_ref, int(len(present)),
                        missing_ref=float(ref.get("missing_share", 0.0)),
                        missing_new=float(values.isna().mean()) if len(values) else 0.0)
    check.missing_jump = _missing_jump(check, len(values), alpha)
    if len(present) == 0 or n_ref == 0:
        check.change = "no values to compare"
        return check
    if ref["kind"] in ("categorical", "high_cardinality"):
        _compare_levels(check, ref, present.astype(str), alpha, complete=ref.get("other_share", 0) == 0)
    else:
        numbers = as_numbers(present)
        if "levels" in ref and ref.get("n_levels", 99) <= MAX_DISCRETE:
            _compare_levels(check, ref, pd.Series(numbers).map(number_label), alpha, complete=True, numeric=True)
        else:
            _compare_numbers(check, ref, numbers, alpha)
        _range(check, ref, numbers)
    return check


def _missing_jump(check: ColumnCheck, n: int, alpha: float) -> bool:
    jump = check.missing_new - check.missing_ref
    if jump < 0.05 or n == 0:
        return False
    p0 = min(max(check.missing_ref, 1.0 / max(check.n_ref, 1)), 1 - 1e-9)
    z = jump / np.sqrt(p0 * (1 - p0) / n)
    return bool(stats.norm.sf(z) < alpha)


def _compare_numbers(check: ColumnCheck, ref: dict, numbers: np.ndarray, alpha: float) -> None:
    edges, shares = ref.get("edges") or [], ref.get("shares") or []
    if len(edges) >= 2:
        batch_shares = bin_shares(numbers, edges)
        check.psi = psi(np.asarray(shares), batch_shares)
        check.bins = {"labels": [f"{e:.4g}" for e in edges[:-1]], "reference": [round(float(v), 5) for v in shares],
                      "batch": [round(float(v), 5) for v in batch_shares]}
        check.psi_threshold = psi_threshold(len(shares), check.n_ref, check.n_new)
    quantiles = np.asarray(ref.get("quantiles") or [], dtype=float)
    if len(quantiles) >= 2 and np.ptp(quantiles) > 0:
        # The reference distribution function, interpolated between its percentiles.
        probs = np.linspace(0, 1, len(quantiles))
        ref_cdf = np.interp(np.sort(numbers), quantiles, probs, left=0.0, right=1.0)
        ecdf_hi = np.arange(1, len(numbers) + 1) / len(numbers)
        ecdf_lo = np.arange(0, len(numbers)) / len(numbers)
        d = float(max(np.max(np.abs(ecdf_hi - ref_cdf)), np.max(np.abs(ref_cdf - ecdf_lo))))
        n_eff = check.n_ref * check.n_new / (check.n_ref + check.n_new)
        check.test, check.statistic = "ks", d
        check.p_value = float(stats.kstwo.sf(d, max(int(round(n_eff)), 1)))
    check.drifted = _significant(check, alpha)
    if ref.get("mean") is not None:
        mean_new, mean_ref = float(np.mean(numbers)), float(ref["mean"])
        rel = (mean_new - mean_ref) / abs(mean_ref) if mean_ref else float("inf")
        check.change = (f"mean {mean_ref:.4g} -> {mean_new:.4g}" + (f" ({rel:+.0%})" if np.isfinite(rel) else "")
                        + f", sd {float(ref.get('std') or 0):.4g} -> {float(np.std(numbers)):.4g}")


def _compare_levels(check: ColumnCheck, ref: dict, labels: pd.Series, alpha: float, *, complete: bool,
                    numeric: bool = False) -> None:
    levels = list(ref.get("levels", {}))
    ref_shares = np.array([ref["levels"][k] for k in levels] + [ref.get("other_share", 0.0)])
    counts = labels.value_counts()
    known = counts.reindex(levels, fill_value=0).to_numpy(dtype=float)
    other = float(counts.sum() - known.sum())
    new_counts = np.append(known, other)
    new_shares = new_counts / max(new_counts.sum(), 1)
    keep = (ref_shares > 0) | (new_counts > 0)
    check.psi = psi(ref_shares[keep], new_shares[keep])
    check.psi_threshold = psi_threshold(int(keep.sum()), check.n_ref, check.n_new)
    shown = [i for i in np.argsort(-(ref_shares + new_shares), kind="stable") if keep[i]][:CHART_LEVELS]
    names = levels + ["(other)"]
    check.bins = {"labels": [names[i] for i in shown], "reference": [round(float(ref_shares[i]), 5) for i in shown],
                  "batch": [round(float(new_shares[i]), 5) for i in shown]}
    ref_counts = ref_shares[keep] * check.n_ref
    table = np.vstack([ref_counts, new_counts[keep]])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] >= 2:
        chi2, p, _, _ = stats.chi2_contingency(table + 0.5)
        check.test, check.statistic, check.p_value = "chi2", float(chi2), float(p)
    check.drifted = _significant(check, alpha)
    if complete and not numeric:
        unseen = labels[~labels.isin(levels)]
        check.unseen_share = float(len(unseen) / max(len(labels), 1))
        check.unseen_examples = [str(v) for v in unseen.value_counts().index[:5]]
        check.unseen = check.unseen_share > max(0.01, 5.0 / max(len(labels), 1))
    moved = sorted(zip(levels + ["(other)"], ref_shares, new_shares), key=lambda t: -abs(t[2] - t[1]))[:3]
    check.change = ", ".join(f"{name} {a:.0%} -> {b:.0%}" for name, a, b in moved if abs(b - a) >= 0.005) or \
        "level shares unchanged"


def _range(check: ColumnCheck, ref: dict, numbers: np.ndarray) -> None:
    lo, hi = ref.get("min"), ref.get("max")
    if lo is None or hi is None or len(numbers) == 0:
        return
    span = (hi - lo) or 1.0
    outside = (numbers < lo - 1e-9 * span) | (numbers > hi + 1e-9 * span)
    check.out_of_range_share = float(outside.mean())
    # From the same distribution, a new value falls outside the training range about 2 / n_ref of the time.
    check.out_of_range = check.out_of_range_share > max(0.01, 10.0 / max(check.n_ref, 1)) and outside.sum() >= 3


def _significant(check: ColumnCheck, alpha: float) -> bool:
    if check.p_value is None or check.psi is None:
        return False
    return check.p_value < alpha and check.psi >= (check.psi_threshold or PSI_FLOOR)
