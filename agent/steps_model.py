"""Graph nodes from clean data to a saved model: select, tune, finalize, evaluate, refit.

Time is the scarce resource here. Selection gets about a third of what is left after a reserve for the
final fits and the report; tuning gets the rest up to that reserve, re-estimated from measured fit times.
"""

from __future__ import annotations

import time

import joblib
import numpy as np
import pandas as pd
from langgraph.runtime import Runtime

from agent.context import RunContext, RunState
from agent.planedit import copy_plan, drop_column, features
from agent.policy import Decision, SelectionBrief
from agent.runfolder import MODEL, sha256_file, write_json
from tools.candidates import CANDIDATES, get_candidate
from tools.crossval import CVResult, TrainingData, cross_validate, make_folds
from tools.ensemble import blend, select_ensemble
from tools.evaluate import encode_labels, evaluate_holdout
from tools.metrics import get_metric
from tools.model import Member, ModelSpec, class_probabilities, fit_model, predict_table
from tools.preprocess import ColumnPlan
from tools.reference import bootstrap_spread, feature_reference, level_shares, numeric_summary
from tools.threshold import choose_threshold, describe_rule
from tools.tune import TrialRecord, tune

SELECT_SHARE = 0.35
RESULTS = "results.joblib"
REPORT_SECONDS = 2.0


def _results(ctx: RunContext) -> dict[str, CVResult]:
    return ctx.workspace.items.setdefault("results", {})


def _leaderboard(results: dict[str, CVResult], metric_name: str) -> list[dict]:
    metric = get_metric(metric_name)
    rows = [r.summary() for r in results.values() if r.scores]
    rows.sort(key=lambda r: (not r["complete"], -metric.oriented(r["mean"])))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
        row["label"] = get_candidate(row["candidate"]).label
    return rows


def _fit_estimate(results: dict[str, CVResult], names: list[str], folds: int) -> float:
    """Seconds to fit these candidates once on the whole training part, from their CV fit times."""
    total = 0.0
    for name in names:
        r = results.get(name)
        if r and r.scores:
            total += r.fit_seconds / len(r.scores) * folds / max(folds - 1, 1)
    return total


def _reserve(ctx: RunContext, fit_seconds: float) -> float:
    """Time kept back for the final fit on the training part, the refit on all rows, importances and report."""
    importance = min(10.0, 0.05 * ctx.clock.budget)
    return fit_seconds * 2.3 + importance + REPORT_SECONDS + 1.0


def training_data(ctx: RunContext, state: RunState) -> TrainingData:
    """The training part with its folds, into the workspace (seeded: rebuilt identically on resume)."""
    plan = ColumnPlan.from_dict(state["column_plan"])
    y = ctx.workspace["y_train"]
    folds = make_folds(y, state["task"], n_folds=state["validation"]["folds"], seed=ctx.settings.seed)
    data = TrainingData(ctx.workspace["X_train"][plan.features], y, state["task"],
                        list(range(len(state["classes"]))), plan, folds, ctx.settings.seed)
    ctx.workspace["data"] = data
    return data


def save_results(ctx: RunContext) -> None:
    """Keep the cross-validation results on disk, so an interrupted run can be resumed without redoing them."""
    joblib.dump(_results(ctx), ctx.run_dir / RESULTS)


def select(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Score every candidate's defaults on the same folds of the training part."""
    ctx = runtime.context
    metric = get_metric(state["metric"])
    with ctx.step("select"):
        data = training_data(ctx, state)
        y = data.y
        results = _results(ctx)
        # The strongest default first, with the whole window if it needs it; the rest share what is left.
        names = sorted(state["candidates"], key=lambda n: (n != "lightgbm", CANDIDATES[n].cost,
                                                           list(CANDIDATES).index(n)))
        initial_reserve = 0.12 * ctx.clock.budget + REPORT_SECONDS
        available = max(ctx.seconds_left() - initial_reserve, 1.0)
        select_end = time.monotonic() + SELECT_SHARE * available if state["candidates"] else time.monotonic()
        for i, name in enumerate(names):
            if ctx.should_stop():
                break
            cand = get_candidate(name)
            remaining_cost = sum(CANDIDATES[n].cost for n in names[i:])
            left = select_end - time.monotonic()
            if i == 0:
                # The lead candidate may take most of what is left: a cut lead leaves a weak model.
                deadline = time.monotonic() + max(left, 0.8 * available)
            else:
                deadline = time.monotonic() + max(left * cand.cost / remaining_cost, 0.5)
            params = cand.defaults(len(y), data.n_features, state["task"])
            try:
                result = cross_validate(cand, params, data, metric, n_jobs=ctx.settings.n_jobs, deadline=deadline)
            except Exception as exc:  # one candidate failing must not sink the run
                ctx.events.emit("candidate_failed", step="select", candidate=name,
                                error=f"{type(exc).__name__}: {exc}"[:400])
                continue
            results[name] = result
            ctx.events.emit("candidate_scored", step="select", **result.summary(),
                            note="" if result.complete else f"cut by its time share after {len(result.scores)} folds")
        board = _leaderboard(results, state["metric"])
        save_results(ctx)
        ctx.events.emit("leaderboard", step="select", stage="selection", metric=metric.name, rows=board)
    return {"step": "select", "leaderboard": board, "stop_reason": "interrupted" if ctx.should_stop() else None}


def tune_step(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Optuna on the promising candidates, until the reserve for the final steps."""
    ctx = runtime.context
    metric = get_metric(state["metric"])
    results = _results(ctx)
    data: TrainingData = ctx.workspace["data"]
    with ctx.step("tune"):
        complete = [r for r in state["leaderboard"] if r["complete"]]
        folds = len(data.folds)
        fit_est = _fit_estimate(results, [r["candidate"] for r in complete[:2]], folds)
        reserve = _reserve(ctx, fit_est)
        seconds = ctx.seconds_left() - reserve
        brief = SelectionBrief(state["task"], metric.name, metric.greater_is_better, complete, seconds, len(data.y))
        facts = {"evaluated": [r["candidate"] for r in complete]}
        decision = ctx.decider.one(lambda p: p.choose_tuning(brief), facts, step="tune")
        if decision.choice.get("iterate"):
            return iterate(ctx, state, decision.choice["iterate"], decision.reason, step="tune")
        seconds = ctx.seconds_left() - reserve
        shares = decision.choice.get("shares", {})
        cap = ctx.settings.max_trials
        if not shares or seconds < 1.0 or cap == 0 or ctx.should_stop():
            why = ("no candidate to tune" if not shares else "trial cap is 0" if cap == 0 else
                   "stopped by the user" if ctx.should_stop() else f"no time left after the reserve of {reserve:.0f} s")
            ctx.events.emit("tuning_skipped", step="tune", reason=why)
            return {"step": "tune", "tuning": {"skipped": why, "trials": 0}}
        deadline = time.monotonic() + seconds
        ctx.events.emit("tuning_started", step="tune", shares=shares, seconds=round(seconds, 1),
                        reserve=round(reserve, 1), max_trials=cap)

        def on_trial(record: TrialRecord) -> None:
            ctx.events.emit("trial", step="tune", **record.to_dict(), seconds_left=round(ctx.seconds_left(), 1))

        def on_replan(change: dict) -> None:
            ctx.decider.record(Decision("replan", {"active": change["active"]},
                                        "; ".join(f"{n}: {why}" for n, why in change["dropped"].items()),
                                        {"leader": change["leader"], "leader_score": change["leader_score"],
                                         "trial": change["trial"]},
                                        [{"choice": n, "why_not": why} for n, why in change["dropped"].items()]),
                               step="tune")

        outcome = tune(shares, data, metric, seeds=results, storage_path=ctx.run_dir / "study.journal",
                       seed=ctx.settings.seed, deadline=deadline, max_trials=cap, should_stop=ctx.should_stop,
                       on_trial=on_trial, on_replan=on_replan, n_jobs=ctx.settings.n_jobs)
        for name, best in outcome.best.items():
            if name not in results or metric.better(best.mean, results[name].mean):
                results[name] = best
        board = _leaderboard(results, state["metric"])
        save_results(ctx)
        counts = {s: sum(1 for t in outcome.trials if t.state == s) for s in ("complete", "pruned", "failed", "cut")}
        ctx.events.emit("tuning_finished", step="tune", stopped=outcome.stopped, trials=len(outcome.trials),
                        states=counts, storage="study.journal")
        ctx.events.emit("leaderboard", step="tune", stage="tuning", metric=metric.name, rows=board)
    return {"step": "tune", "leaderboard": board,
            "tuning": {"trials": len(outcome.trials), "stopped": outcome.stopped, "states": counts}}


def iterate(ctx: RunContext, state: RunState, change: dict, reason: str, *, step: str) -> RunState:
    """Go back once to selection with columns dropped and/or candidates added (asked by the policy)."""
    plan = copy_plan(state["column_plan"])
    dropped = [c for c in change.get("drop", []) if drop_column(plan, c, f"dropped for a second iteration: {reason}")]
    if not features(plan):
        ctx.events.emit("warning", step=step, message="the iteration would leave no feature; it is ignored")
        return {"step": step, "iterating": False}
    candidates = list(dict.fromkeys(list(state["candidates"]) + list(change.get("add", []))))
    ctx.workspace["results"] = {}
    ctx.workspace["iterated"] = True
    ctx.events.emit("iteration", step=step, dropped=dropped, added=change.get("add", []), reason=reason)
    return {"step": step, "column_plan": plan, "candidates": candidates, "iterating": True,
            "leaderboard": [], "final": {}}


def finalize(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Choose the final model (single or ensemble) and, for binary tasks, its threshold."""
    ctx = runtime.context
    metric = get_metric(state["metric"])
    results = _results(ctx)
    data: TrainingData = ctx.workspace.get("data")
    with ctx.step("finalize"):
        board = [r for r in _leaderboard(results, state["metric"]) if r["complete"]]
        if not board:
            board = _leaderboard(results, state["metric"])
        if not board:
            ctx.events.emit("warning", step="finalize", message="no candidate finished a single fold: no model")
            return {"step": "finalize", "final": {}}
        top = {r["candidate"]: results[r["candidate"]] for r in board[:4] if r["complete"]}
        ens = select_ensemble(top, data.y, metric) if len(top) > 1 else None
        facts = {"evaluated": [r["candidate"] for r in board]}
        decision = ctx.decider.one(lambda p: p.choose_final(metric.name, board, ens.to_dict() if ens else None),
                                   facts, step="finalize")
        choice = decision.choice
        if choice.get("kind") == "iterate":
            return iterate(ctx, state, choice["iterate"], decision.reason, step="finalize")
        weights = choice["weights"] if choice["kind"] == "ensemble" else {choice["candidate"]: 1}
        members = [Member(n, results[n].params, int(w), list(results[n].iterations)) for n, w in weights.items()]
        spec = ModelSpec(members, state["task"], list(state["classes"]))
        if state["task"] == "binary":
            oof = blend(results, weights) if all(results[n].oof is not None for n in weights) else None
            if oof is not None:
                chosen = choose_threshold(data.y, oof[:, 1], state["threshold_rule"])
                spec.threshold = chosen.threshold
                ctx.decider.record(Decision("threshold", chosen.threshold,
                                            f"{describe_rule(state['threshold_rule'])}: on out-of-fold predictions "
                                            f"it gives precision {chosen.precision:.3f}, recall {chosen.recall:.3f}"
                                            + (f" ({chosen.note})" if not chosen.feasible else ""),
                                            chosen.to_dict(),
                                            [{"choice": 0.5, "why_not": "ignores the goal's trade-off"}]),
                                   step="finalize")
            else:
                spec.threshold = 0.5
        ctx.workspace["spec"] = spec
    return {"step": "finalize", "final": spec.to_dict()}


def _final_deadline(ctx: RunContext) -> float:
    """Final fits may run a little past the budget (never near the hard wall): a model cut short for want
    of a second is worse than a run that ends a second late."""
    clock = ctx.clock
    return min(clock.end + 0.05 * clock.budget + 2.0, clock.hard_end - 4.0)


def evaluate(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Fit the final spec on the training part, score it on the untouched holdout, save it."""
    ctx = runtime.context
    spec: ModelSpec = ctx.workspace["spec"]
    plan = ColumnPlan.from_dict(state["column_plan"])
    w = ctx.workspace
    with ctx.step("evaluate", model=spec.label):
        fitted = fit_model(spec, plan, w["X_train"], w["labels_train"], seed=ctx.settings.seed,
                           n_jobs=ctx.settings.n_jobs, deadline=_final_deadline(ctx))
        model = fitted.estimator
        if fitted.cut:
            ctx.events.emit("warning", step="evaluate", message=f"the time budget cut the final fit of "
                            f"{', '.join(fitted.cut)} short: it has fewer trees or rounds than tuned")
        w["model"] = model
        w["fit_seconds"] = fitted.seconds
        _save_model(ctx, model, fitted_on="training part", features=plan.features)
        left = _final_deadline(ctx) - time.monotonic() - REPORT_SECONDS
        # Monitoring weighs drift by these importances, so they get a few seconds even on short budgets.
        allowance = 0.0 if ctx.should_stop() else max(0.0, min(max(3.0, min(10.0, 0.05 * ctx.clock.budget)),
                                                               left - fitted.seconds * 1.5))
        ev = evaluate_holdout(model, spec, w["X_train"][plan.features], w["labels_train"],
                              w["X_hold"][plan.features], w["labels_hold"], primary=state["metric"],
                              seed=ctx.settings.seed, importance_seconds=allowance)
        metrics = ev.to_dict()
        metrics["model"] = spec.label
        metrics["spread"] = _holdout_spread(model, spec, w, state["metric"], ctx.settings.seed)
        write_json(ctx.run_dir / "metrics.json", metrics)
        ctx.events.emit("holdout_metrics", step="evaluate", metrics=ev.metrics, baseline=ev.baseline,
                        primary=ev.primary, threshold=ev.threshold, at_threshold=ev.at_threshold,
                        confusion=ev.confusion, rows=ev.n_rows, spread=metrics["spread"])
        ctx.events.emit("importances", step="evaluate", rows=ev.importances[:30], note=ev.importance_note)
        _write_reference(ctx, state, model, spec, plan, metrics)
    return {"step": "evaluate", "evaluation": {"metrics": ev.metrics, "baseline": ev.baseline,
                                               "primary": ev.primary}}


def refit(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Refit on all rows when time allows (a decision), and save the model the run hands over."""
    ctx = runtime.context
    spec: ModelSpec = ctx.workspace["spec"]
    plan = ColumnPlan.from_dict(state["column_plan"])
    w = ctx.workspace
    with ctx.step("refit"):
        rows = len(w["X_train"]) + len(w["X_hold"])
        estimate = w["fit_seconds"] * rows / max(len(w["X_train"]), 1)
        left = _final_deadline(ctx) - time.monotonic() - REPORT_SECONDS
        decision = ctx.decider.one(lambda p: p.choose_refit(estimate, left, ctx.should_stop()), {}, step="refit")
        refitted = False
        if decision.choice:
            X_all = pd.concat([w["X_train"], w["X_hold"]], ignore_index=True)
            labels_all = pd.concat([w["labels_train"], w["labels_hold"]], ignore_index=True)
            fitted = fit_model(spec, plan, X_all, labels_all, seed=ctx.settings.seed, n_jobs=ctx.settings.n_jobs,
                               deadline=_final_deadline(ctx))
            if fitted.cut:
                ctx.events.emit("warning", step="refit", message="the time budget cut the refit on all rows "
                                "short; the complete model fitted on the training part is kept")
            else:
                w["model"] = fitted.estimator
                _save_model(ctx, fitted.estimator, fitted_on="all rows", features=plan.features)
                refitted = True
    return {"step": "refit", "refit": refitted}


def _save_model(ctx: RunContext, model: object, *, fitted_on: str, features: list[str]) -> None:
    path = ctx.run_dir / MODEL
    tmp = path.with_name(f".{MODEL}.tmp")
    joblib.dump(model, tmp)
    tmp.replace(path)
    digest = sha256_file(path)
    spec: ModelSpec = ctx.workspace["spec"]
    ctx.manifest.update(model={"file": MODEL, "sha256": digest, "fitted_on": fitted_on, "spec": spec.to_dict(),
                               "features": features})
    ctx.events.emit("model_saved", step="evaluate" if fitted_on == "training part" else "refit",
                    file=MODEL, sha256=digest, fitted_on=fitted_on, bytes=path.stat().st_size)


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
    X_hold = ctx.workspace["X_hold"]
    everything = pd.concat([ctx.workspace["X_train"], X_hold], ignore_index=True)
    preds = predict_table(model, X_hold, spec)
    if spec.task == "regression":
        prediction = {"kind": "values", **numeric_summary(preds["prediction"].to_numpy(dtype=float))}
    else:
        prediction = {"kind": "classes", **level_shares(preds["prediction"].astype(str))}
        if spec.task == "binary":
            prediction["positive_proba"] = numeric_summary(preds[f"proba_{spec.positive}"].to_numpy(dtype=float))
    write_json(ctx.run_dir / "reference.json", {
        "version": 1, "target": state["target"], "task": state["task"], "metric": state["metric"],
        "classes": [str(c) for c in spec.classes], "rows": len(everything),
        "features": feature_reference(everything, kinds), "prediction": prediction,
        "holdout": {"metrics": metrics["metrics"], "baseline": metrics["baseline"], "spread": metrics["spread"],
                    "rows": metrics["n_rows"]},
        "importances": metrics["importances"], "importance_note": metrics.get("importance_note", ""),
    })
