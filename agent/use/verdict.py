"""The monitoring verdict: ok, warn or retrain, decided by rules from a batch's measurements.

- retrain: with labels, the batch scores worse than the holdout by more than 3 standard errors and has
  lost at least 10% of the holdout's gain over the baseline; without labels, the features the model relies
  on have drifted a lot (weighted drift >= 0.3) and its predictions have moved too.
- warn: a smaller but significant loss of performance (more than 2.5 standard errors); drift in features that matter (weighted drift
  >= 0.05); drifted predictions; data-quality problems (missing values jumping, values outside the
  training range, unseen categories) in features that matter.
- ok: none of these. Drift in features the model barely uses is reported but raises no alarm.
"""

from __future__ import annotations

from agent.decide.policy import Decision
from tools.monitor import BatchCheck

RETRAIN_LIFT_LOST = 0.10
RETRAIN_DRIFT = 0.3
WARN_DRIFT = 0.05
MATTERS = 0.05
VERDICTS = ("ok", "warn", "retrain")


def decide_verdict(batch: BatchCheck) -> Decision:
    """The verdict for ``batch``, with its reasons, evidence and the verdicts not chosen."""
    retrain: list[str] = []
    warn: list[str] = []
    perf = batch.performance
    if perf is not None and perf.significant:
        what = (f"{perf.metric} {perf.batch:.4g} on {perf.rows:,} labelled rows against {perf.holdout:.4g} on the "
                f"holdout: worse by {-perf.difference / max(perf.standard_error, 1e-12):.1f} times the combined "
                f"noise ({perf.standard_error:.3g}), {perf.lift_lost:.0%} of the gain over the baseline lost")
        (retrain if perf.severe and perf.lift_lost >= RETRAIN_LIFT_LOST else warn).append(what)
    important = [c for c in batch.drifted if batch.weights.get(c.column, 0.0) >= MATTERS]
    described = "; ".join(f"{c.column} (PSI {c.psi:.2f}, {c.change}, weight {batch.weights.get(c.column, 0):.0%})"
                          for c in important[:5])
    prediction_moved = batch.prediction is not None and batch.prediction.drifted
    if batch.weighted_drift >= RETRAIN_DRIFT and prediction_moved:
        retrain.append(f"features the model relies on drifted (weighted drift {batch.weighted_drift:.2f}: "
                       f"{described}) and its predictions moved (PSI {batch.prediction.psi:.2f})")
    elif batch.weighted_drift >= WARN_DRIFT:
        warn.append(f"features the model relies on drifted (weighted drift {batch.weighted_drift:.2f}): {described}")
    if prediction_moved and not retrain:
        warn.append(f"the predictions' distribution moved (PSI {batch.prediction.psi:.2f}, {batch.prediction.change})")
    quality = [c for c in batch.columns if c.quality_issue and batch.weights.get(c.column, 0.0) >= MATTERS]
    for c in quality[:5]:
        warn.append(_quality_text(c))
    ignored = [c for c in batch.drifted if batch.weights.get(c.column, 0.0) < MATTERS]
    notes = ("; drift in columns the model barely uses (no alarm): " + ", ".join(
        f"{c.column} (PSI {c.psi:.2f}, weight {batch.weights.get(c.column, 0):.1%})" for c in ignored[:5])) if ignored else ""
    evidence = {"rows": batch.rows, "weighted_drift": batch.weighted_drift, "weights_note": batch.weights_note,
                "drifted": [c.to_dict() for c in batch.drifted[:10]],
                "prediction": batch.prediction.to_dict() if batch.prediction else None,
                "performance": perf.to_dict() if perf else None}
    if retrain:
        verdict, reason = "retrain", "; ".join(retrain + warn)
    elif warn:
        verdict, reason = "warn", "; ".join(warn)
    else:
        verdict = "ok"
        reason = (f"no drift in the features the model relies on (weighted drift {batch.weighted_drift:.2f}), "
                  "predictions stable" + ("" if perf is None else f", {perf.metric} {perf.batch:.4g} within the "
                                          f"holdout's range ({perf.holdout:.4g})"))
    alternatives = [{"choice": v, "why_not": _why_not(v, verdict)} for v in VERDICTS if v != verdict]
    return Decision("verdict", verdict, reason + notes, evidence, alternatives)


def any_drift(batch: BatchCheck) -> bool:
    """True when any feature or the predictions drifted, whatever their weight (for --fail-on drift)."""
    return bool(batch.drifted) or bool(batch.prediction and batch.prediction.drifted)


def _quality_text(c: object) -> str:
    parts = []
    if c.missing_jump:
        parts.append(f"missing values {c.missing_ref:.0%} -> {c.missing_new:.0%}")
    if c.out_of_range:
        parts.append(f"{c.out_of_range_share:.1%} of values outside the training range")
    if c.unseen:
        parts.append(f"{c.unseen_share:.1%} categories never seen in training (e.g. {', '.join(c.unseen_examples[:3])})")
    return f"data quality in {c.column}: " + ", ".join(parts)


def _why_not(candidate: str, chosen: str) -> str:
    order = {v: i for i, v in enumerate(VERDICTS)}
    if order[candidate] > order[chosen]:
        return "the evidence does not reach its threshold"
    return "there is evidence beyond it (see reason)"
