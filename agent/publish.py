"""Handing a model over: scored on the untouched holdout, then saved with its metrics and the reference
monitoring needs, so that the run folder always holds one consistent model.

A run publishes its first model early (agent.steps_first) and later replaces it with the final one
(agent.steps_model), or with the final one refitted on all rows. Scoring and saving are separate: the
final model is scored first, and saved only if it is to replace the model already there.
"""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd

from agent.context import RunContext, RunState
from agent.runfolder import MODEL, sha256_file, write_json
from tools.evaluate import Evaluation, encode_labels, evaluate_holdout
from tools.metrics import get_metric
from tools.model import ModelSpec, class_probabilities, predict_table
from tools.preprocess import ColumnPlan
from tools.reference import bootstrap_spread, feature_reference, level_shares, numeric_summary

# Distribution summaries for monitoring are as good from this many rows as from millions.
REFERENCE_ROWS = 100_000


def score(ctx: RunContext, state: RunState, model: object, spec: ModelSpec, plan: ColumnPlan, *,
          importance_seconds: float) -> tuple[Evaluation, dict]:
    """The holdout evaluation of ``model`` and its metrics as saved in metrics.json."""
    w = ctx.workspace
    ev = evaluate_holdout(model, spec, w["X_train"][plan.features], w["labels_train"], w["X_hold"][plan.features],
                          w["labels_hold"], primary=state["metric"], seed=ctx.settings.seed,
                          importance_seconds=importance_seconds)
    metrics = ev.to_dict()
    metrics["model"] = spec.label
    metrics["spread"] = _holdout_spread(model, spec, w, state["metric"], ctx.settings.seed)
    return ev, metrics


def publish(ctx: RunContext, state: RunState, model: object, spec: ModelSpec, plan: ColumnPlan, *,
            ev: Evaluation | None, metrics: dict | None, fitted_on: str, step: str) -> None:
    """Save ``model`` as the run's model; with ``ev`` also its holdout metrics and monitoring reference
    (a refit on all rows keeps the metrics of the model it refits)."""
    ctx.workspace["published"] = {"spec": spec, "model": model, "plan": plan}
    if ev is not None and metrics is not None:
        write_json(ctx.run_dir / "metrics.json", metrics)
        ctx.events.emit("holdout_metrics", step=step, model=spec.label, metrics=ev.metrics, baseline=ev.baseline,
                        primary=ev.primary, threshold=ev.threshold, at_threshold=ev.at_threshold,
                        confusion=ev.confusion, rows=ev.n_rows, spread=metrics["spread"])
        ctx.events.emit("importances", step=step, rows=ev.importances[:30], note=ev.importance_note)
        _write_reference(ctx, state, model, spec, plan, metrics)
    _save_model(ctx, model, spec, fitted_on=fitted_on, features=plan.features, step=step)


def _save_model(ctx: RunContext, model: object, spec: ModelSpec, *, fitted_on: str, features: list[str],
                step: str) -> None:
    path = ctx.run_dir / MODEL
    tmp = path.with_name(f".{MODEL}.tmp")
    joblib.dump(model, tmp)
    tmp.replace(path)
    digest = sha256_file(path)
    ctx.manifest.update(model={"file": MODEL, "sha256": digest, "fitted_on": fitted_on, "spec": spec.to_dict(),
                               "features": features})
    ctx.events.emit("model_saved", step=step, file=MODEL, sha256=digest, fitted_on=fitted_on,
                    model=spec.label, bytes=path.stat().st_size)


def _holdout_spread(model: object, spec: ModelSpec, w: object, metric_name: str, seed: int) -> dict:
    metric = get_metric(metric_name)
    X = w["X_hold"]
    if spec.task == "regression":
        pred, y = np.asarray(model.predict(X), dtype=float), np.asarray(w["labels_hold"], dtype=float)
    else:
        pred, y = class_probabilities(model, X, spec), encode_labels(w["labels_hold"], spec.classes)
    return bootstrap_spread(metric, y, pred, seed=seed)


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
        everything = pd.concat([X_train[plan.features].iloc[in_train], X_hold[plan.features].iloc[in_hold]],
                               ignore_index=True)
    else:
        everything = pd.concat([X_train[plan.features], X_hold[plan.features]], ignore_index=True)
    preds = predict_table(model, X_hold, spec)
    if spec.task == "regression":
        prediction = {"kind": "values", **numeric_summary(preds["prediction"].to_numpy(dtype=float))}
    else:
        prediction = {"kind": "classes", **level_shares(preds["prediction"].astype(str))}
        if spec.task == "binary":
            prediction["positive_proba"] = numeric_summary(preds[f"proba_{spec.positive}"].to_numpy(dtype=float))
    write_json(ctx.run_dir / "reference.json", {
        "version": 1, "target": state["target"], "task": state["task"], "metric": state["metric"],
        "classes": [str(c) for c in spec.classes], "rows": rows, "summarised_rows": len(everything),
        "features": feature_reference(everything, kinds), "prediction": prediction,
        "holdout": {"metrics": metrics["metrics"], "baseline": metrics["baseline"], "spread": metrics["spread"],
                    "rows": metrics["n_rows"]},
        "importances": metrics["importances"], "importance_note": metrics.get("importance_note", ""),
    })
