"""Handing a model over: scored on the untouched holdout, then saved with its metrics and the reference
monitoring needs, so that the run folder always holds one consistent model.

A run publishes its first model early (agent.job.steps_first) and later replaces it with the final one
(agent.job.steps_model), or with the final one refitted on all rows. Scoring and saving are separate: the
final model is scored first, and saved only if it is to replace the model already there.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from agent.job.context import RunContext, RunState
from agent.record.runfolder import MODEL, dump_pickle, write_json
from agent.record.trust import signed
from tools.curves import holdout_curves, partial_dependence
from tools.evaluate import (
    Evaluation,
    encode_labels,
    evaluate_holdout,
    holdout_predictions,
    paired_gap,
)
from tools.fairness import audit_columns
from tools.metrics import get_metric, labels_from_proba
from tools.model import ModelSpec, class_probabilities
from tools.preprocess import ColumnPlan
from tools.reference import (
    bootstrap_spread,
    feature_reference,
    level_shares,
    numeric_summary,
)

# Distribution summaries for monitoring are as good from this many rows as from millions.
REFERENCE_ROWS = 100_000
# What the report's charts are drawn from (tools.curves), beside metrics.json.
CURVES = "curves.json"
# Partial dependence for the most important columns, in a share of the time permutation importance had.
PD_FEATURES = 4
PD_SHARE = 0.3
PD_MAX_SECONDS = 5.0


def score(ctx: RunContext, state: RunState, model: object, spec: ModelSpec, plan: ColumnPlan, *,
          importance_seconds: float) -> tuple[Evaluation, dict]:
    """The holdout evaluation of ``model`` and its metrics as saved in metrics.json."""
    w = ctx.workspace
    # Predicting a big holdout costs seconds: once per model, reused by every figure below.
    began = time.monotonic()
    prediction = holdout_predictions(model, spec, w["X_hold"])
    predict_seconds = time.monotonic() - began
    w["holdout_prediction"] = {"model": id(model), "values": prediction}
    # The training part only fits the baseline, which ignores the features: one column is enough.
    ev = evaluate_holdout(model, spec, w["X_train"][plan.features[:1]], w["labels_train"], w["X_hold"][plan.features],
                          w["labels_hold"], primary=state["metric"], seed=ctx.settings.seed,
                          importance_seconds=importance_seconds, prediction=prediction)
    metrics = ev.to_dict()
    metrics["model"] = spec.label
    truth = holdout_truth(w, spec)
    metrics["spread"] = bootstrap_spread(get_metric(state["metric"]), truth, prediction, seed=ctx.settings.seed)
    metrics["predict_seconds_per_1000"] = round(predict_seconds / max(len(w["X_hold"]), 1) * 1000, 5)
    curves = holdout_curves(spec.task, truth, prediction, spec.classes, spec.threshold)
    top = [r["feature"] for r in ev.importances[:PD_FEATURES] if r["mean"] > 0]
    if top and importance_seconds > 0:
        curves["outputs"] = [] if spec.task == "regression" else \
            [str(spec.classes[1])] if spec.task == "binary" else [str(c) for c in spec.classes]
        curves["partial_dependence"] = partial_dependence(
            lambda X: _outputs(model, spec, X), w["X_hold"][plan.features], top,
            seconds=min(PD_SHARE * importance_seconds, PD_MAX_SECONDS), seed=ctx.settings.seed)
    metrics["curves"] = curves
    return ev, metrics


def _outputs(model: object, spec: ModelSpec, X: pd.DataFrame) -> np.ndarray:
    """What partial dependence averages: the prediction, the positive class's probability, or every
    class's."""
    if spec.task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    proba = class_probabilities(model, X, spec)
    return proba[:, 1] if spec.task == "binary" else proba


def holdout_truth(w: object, spec: ModelSpec) -> np.ndarray:
    """The holdout's target as metrics take it: values, or class indices in the spec's order."""
    if spec.task == "regression":
        return np.asarray(w["labels_hold"], dtype=float)
    return encode_labels(w["labels_hold"], spec.classes)


def cached_prediction(w: object, model: object, spec: ModelSpec) -> np.ndarray:
    """The holdout predictions of ``model``, from the last `score` when it was this model's."""
    cached = w.get("holdout_prediction")
    if cached is not None and cached["model"] == id(model):
        return cached["values"]
    return holdout_predictions(model, spec, w["X_hold"])


def gap_to_published(ctx: RunContext, model: object, spec: ModelSpec,
                     metric: object) -> tuple[dict, np.ndarray] | None:
    """How much better ``model`` scores than the model already published, on the same holdout rows (a paired
    bootstrap, `paired_gap`: positive favours ``model``), with the published model's predictions; None when
    nothing is published yet."""
    published = ctx.workspace.get("published")
    if published is None:
        return None
    w = ctx.workspace
    old = published.get("prediction")
    if old is None:
        old = holdout_predictions(published["model"], published["spec"], w["X_hold"])
    gap = paired_gap(metric, holdout_truth(w, spec), cached_prediction(w, model, spec), old, seed=ctx.settings.seed)
    return gap, old


def publish(ctx: RunContext, state: RunState, model: object, spec: ModelSpec, plan: ColumnPlan, *,
            ev: Evaluation | None, metrics: dict | None, fitted_on: str, step: str) -> None:
    """Save ``model`` as the run's model; with ``ev`` also its holdout metrics and monitoring reference
    (a refit on all rows keeps the metrics of the model it refits)."""
    published = {"spec": spec, "model": model, "plan": plan}
    if ev is not None and metrics is not None:
        published["prediction"] = cached_prediction(ctx.workspace, model, spec)
        metrics = dict(metrics)
        write_json(ctx.run_dir / CURVES, metrics.pop("curves", {}))
        write_json(ctx.run_dir / "metrics.json", metrics)
        ctx.events.emit("holdout_metrics", step=step, model=spec.label, metrics=ev.metrics, baseline=ev.baseline,
                        primary=ev.primary, threshold=ev.threshold, at_threshold=ev.at_threshold,
                        confusion=ev.confusion, rows=ev.n_rows, spread=metrics["spread"],
                        predict_seconds_per_1000=metrics.get("predict_seconds_per_1000"))
        ctx.events.emit("importances", step=step, rows=ev.importances[:30], note=ev.importance_note)
        _audit(ctx, state, spec, published["prediction"], step=step)
        _write_reference(ctx, state, model, spec, plan, metrics)
    _save_model(ctx, model, spec, fitted_on=fitted_on, features=plan.features, step=step)
    ctx.workspace["published"] = published


def _audit(ctx: RunContext, state: RunState, spec: ModelSpec, prediction: np.ndarray, *, step: str) -> None:
    """The fairness audit of the published model on the holdout, across the groups of each sensitive column
    the plan chose (those dropped from the features too: the holdout keeps every column)."""
    if not state.get("sensitive"):
        return
    # A share of what is left, between half a second and five: the intervals are worth less than the model.
    seconds = min(5.0, max(0.5, 0.03 * ctx.seconds_left()))
    audit = audit_columns(spec.task, holdout_truth(ctx.workspace, spec), prediction, ctx.workspace["X_hold"],
                          state.get("sensitive") or {},
                          classes=[str(c) for c in spec.classes] if spec.task != "regression" else None,
                          threshold=spec.threshold, seed=ctx.settings.seed, seconds=seconds)
    if audit is None:
        return
    ctx.events.emit("fairness_audit", step=step, model=spec.label, **audit.to_dict())


def _save_model(ctx: RunContext, model: object, spec: ModelSpec, *, fitted_on: str, features: list[str],
                step: str) -> None:
    path = ctx.run_dir / MODEL
    dump_pickle(model, path)
    stamp = signed(ctx.settings.home, path)
    digest = stamp["sha256"]
    ctx.manifest.update(model={"file": MODEL, **stamp, "fitted_on": fitted_on, "spec": spec.to_dict(),
                               "features": features})
    ctx.events.emit("model_saved", step=step, file=MODEL, sha256=digest, fitted_on=fitted_on,
                    model=spec.label, bytes=path.stat().st_size)


def _write_reference(ctx: RunContext, state: RunState, model: object, spec: ModelSpec, plan: ColumnPlan,
                     metrics: dict) -> None:
    """reference.json: what monitoring compares new data with (summaries only, no rows)."""
    kinds = {c: "numeric" for c in plan.numeric}
    kinds.update({c: "boolean" for c in plan.boolean})
    kinds.update({c: "categorical" for c in plan.categorical})
    kinds.update({c: "high_cardinality" for c in plan.high_cardinality})
    kinds.update({c: "datetime" for c in plan.datetime})
    X_train, X_hold = ctx.workspace["X_train"], ctx.workspace["X_hold"]
    rows = len(X_train) + len(X_hold)
    if rows > REFERENCE_ROWS:
        picked = np.random.default_rng(ctx.settings.seed).choice(rows, size=REFERENCE_ROWS, replace=False)
        in_train = np.sort(picked[picked < len(X_train)])
        in_hold = np.sort(picked[picked >= len(X_train)]) - len(X_train)
        everything = pd.concat([X_train.iloc[in_train][plan.features], X_hold.iloc[in_hold][plan.features]],
                               ignore_index=True)
    else:
        everything = pd.concat([X_train[plan.features], X_hold[plan.features]], ignore_index=True)
    values = cached_prediction(ctx.workspace, model, spec)
    if spec.task == "regression":
        prediction = {"kind": "values", **numeric_summary(values)}
    else:
        labels = np.asarray([str(c) for c in spec.classes], dtype=object)[labels_from_proba(values, spec.threshold)]
        prediction = {"kind": "classes", **level_shares(pd.Series(labels))}
        if spec.task == "binary":
            prediction["positive_proba"] = numeric_summary(values[:, 1])
    write_json(ctx.run_dir / "reference.json", {
        "version": 1, "target": state["target"], "task": state["task"], "metric": state["metric"],
        "classes": [str(c) for c in spec.classes], "rows": rows, "summarised_rows": len(everything),
        "features": feature_reference(everything, kinds), "prediction": prediction,
        "holdout": {"metrics": metrics["metrics"], "baseline": metrics["baseline"], "spread": metrics["spread"],
                    "rows": metrics["n_rows"]},
        "importances": metrics["importances"], "importance_note": metrics.get("importance_note", ""),
        "sensitive": state.get("sensitive") or {},
    })
