"""Choosing a decision threshold for a binary classifier, on validation data, to honour a stated goal.

A rule is a small JSON-able dict so it can be logged and proposed by a policy:

- ``{"kind": "max_f1"}`` / ``{"kind": "max_fbeta", "beta": 2}``
- ``{"kind": "min_recall", "value": 0.8}``: the highest precision among thresholds reaching that recall
- ``{"kind": "min_precision", "value": 0.8}``: the highest recall among thresholds reaching that precision
  while flagging at least `MIN_FLAGGED_POSITIVES` positives
- ``{"kind": "max_accuracy"}`` / ``{"kind": "max_balanced_accuracy"}``
- ``{"kind": "fixed", "value": 0.5}``

The threshold is chosen on out-of-fold predictions of the training part, never on the holdout.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tools.errors import ToolArgumentError

# A precision target met only by the few rows at the very top of the ranking is luck, not a threshold to
# trust: a threshold must flag at least this many positives (out of fold) to count as meeting it.
MIN_FLAGGED_POSITIVES = 5

RULE_KINDS = ("max_f1", "max_fbeta", "min_recall", "min_precision", "max_accuracy",
              "max_balanced_accuracy", "fixed")


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold and what it achieved on the validation predictions."""

    threshold: float
    rule: dict
    precision: float
    recall: float
    f1: float
    feasible: bool
    note: str

    def to_dict(self) -> dict:
        return asdict(self)


def describe_rule(rule: dict | None) -> str:
    """A rule in words, for logs and reports."""
    if not rule:
        return "predicted class = most probable class"
    kind = rule.get("kind")
    return {
        "max_f1": "threshold maximising F1",
        "max_fbeta": f"threshold maximising F{rule.get('beta', 2):g} (recall weighted {rule.get('beta', 2):g}x)",
        "min_recall": f"recall >= {rule.get('value', 0.8):.2f}, then the best precision",
        "min_precision": f"precision >= {rule.get('value', 0.8):.2f}, then the best recall",
        "max_accuracy": "threshold maximising accuracy",
        "max_balanced_accuracy": "threshold maximising balanced accuracy",
        "fixed": f"fixed threshold {rule.get('value', 0.5):.2f}",
    }.get(kind, str(rule))


def validate_rule(rule: dict) -> dict:
    """Check a rule's kind and value range; returns a normalised copy.

    Raises:
        ToolArgumentError: unknown kind or a value outside (0, 1); the message lists valid kinds.
    """
    if not isinstance(rule, dict) or rule.get("kind") not in RULE_KINDS:
        raise ToolArgumentError(f"Unknown threshold rule {rule!r}; valid kinds: {', '.join(RULE_KINDS)}.")
    out = dict(rule)
    if out["kind"] in ("min_recall", "min_precision", "fixed"):
        value = float(out.get("value", 0.8 if out["kind"] != "fixed" else 0.5))
        if not 0.0 < value < 1.0:
            raise ToolArgumentError(f"Threshold rule '{out['kind']}' needs a value between 0 and 1; got {value}.")
        out["value"] = value
    if out["kind"] == "max_fbeta":
        beta = float(out.get("beta", 2.0))
        if not 0.0 < beta <= 10.0:
            raise ToolArgumentError(f"Threshold rule 'max_fbeta' needs beta in (0, 10]; got {beta}.")
        out["beta"] = beta
    return out


def choose_threshold(y_true: np.ndarray, scores: np.ndarray, rule: dict) -> ThresholdChoice:
    """Pick the threshold on validation predictions that best honours ``rule``.

    Args:
        y_true: encoded labels, 1 for the positive class.
        scores: predicted probability of the positive class.
        rule: a threshold rule (see module doc).
    """
    rule = validate_rule(rule)
    y = np.asarray(y_true).astype(int)
    s = np.asarray(scores, dtype=float)
    if rule["kind"] == "fixed":
        return _choice_at(y, s, rule["value"], rule, True, "fixed by the plan")

    # Candidate thresholds: the distinct scores, thinned to keep this O(n log n) on large data.
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(1 - y_sorted)
    last_of_run = np.r_[np.diff(s_sorted) != 0, True]
    tp, fp, thr = tp[last_of_run], fp[last_of_run], s_sorted[last_of_run]
    positives, negatives = max(int(y.sum()), 1), max(int((1 - y).sum()), 1)
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / positives
    kind = rule["kind"]
    feasible = True
    note = ""
    if kind in ("max_f1", "max_fbeta"):
        beta2 = rule.get("beta", 1.0) ** 2 if kind == "max_fbeta" else 1.0
        objective = (1 + beta2) * precision * recall / np.maximum(beta2 * precision + recall, 1e-12)
    elif kind == "max_accuracy":
        objective = (tp + (negatives - fp)) / (positives + negatives)
    elif kind == "max_balanced_accuracy":
        objective = 0.5 * (recall + (negatives - fp) / negatives)
    elif kind == "min_recall":
        ok = recall >= rule["value"] - 1e-12
        feasible = bool(ok.any())
        objective = np.where(ok, precision, -1.0) if feasible else recall
        note = "" if feasible else f"no threshold reaches recall {rule['value']:.2f}; using the highest recall"
    else:  # min_precision
        support = tp >= min(MIN_FLAGGED_POSITIVES, positives)
        ok = (precision >= rule["value"] - 1e-12) & support
        feasible = bool(ok.any())
        objective = np.where(ok, recall, -1.0) if feasible else np.where(support, precision, -1.0)
        note = "" if feasible else (f"no threshold flagging at least {min(MIN_FLAGGED_POSITIVES, positives)} positives "
                                    f"reaches precision {rule['value']:.2f}; using the highest such precision")
    best = int(np.argmax(objective))
    # Midpoint to the next lower score so that tiny changes in probability do not flip the decision.
    lower = thr[best + 1] if best + 1 < len(thr) else 0.0
    threshold = float((thr[best] + lower) / 2.0)
    return _choice_at(y, s, threshold, rule, feasible, note or "chosen on out-of-fold predictions")


def _choice_at(y: np.ndarray, s: np.ndarray, threshold: float, rule: dict, feasible: bool,
               note: str) -> ThresholdChoice:
    predicted = s >= threshold
    flagged = int(predicted.sum())
    if flagged in (0, len(s)):  # a threshold that flags nothing or everything honours no goal
        feasible = False
        note = f"the threshold flags {'none' if flagged == 0 else 'all'} of the {len(s):,} rows; {note}"
    tp = float(np.sum(predicted & (y == 1)))
    precision = tp / max(float(predicted.sum()), 1.0)
    recall = tp / max(float((y == 1).sum()), 1.0)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return ThresholdChoice(round(threshold, 6), rule, round(precision, 4), round(recall, 4),
                           round(f1, 4), feasible, note)
