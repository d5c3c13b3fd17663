"""Graph nodes from clean data to a saved model: select, tune, finalize, evaluate, refit.

Time is the scarce resource here, and each step spends from its share of the run's time plan
(agent.timing.timeplan). Selection ends by its share; once it has timed the candidates' fits, the final fits'
need is known and pinned, and tuning gets what the plan then gives it.
"""

from __future__ import annotations

import time

import joblib
import numpy as np
import pandas as pd
from langgraph.runtime import Runtime

from agent.decide.planedit import copy_plan, drop_column, features
from agent.decide.policy import Decision, FinalBrief, SelectionBrief
from agent.job.context import RunContext, RunState
from agent.job.fanout import Fanout
from agent.job.publish import gap_to_published, publish, score
from agent.record.runfolder import dump_pickle
from agent.record.trust import check_pickle, signed
from tools.calibrate import CALIBRATED_METRICS, choose_temperature, scale
from tools.candidates import CANDIDATES, get_candidate
from tools.crossval import CVResult, TrainingData, cross_validate, make_folds
from tools.ensemble import MAX_MEMBERS, Pool, blend, select_ensemble
from tools.fmt import number
from tools.goalcheck import check_goal
from tools.metrics import Metric, get_metric
from tools.model import Member, ModelSpec, fit_model
from tools.preprocess import ColumnPlan
from tools.quick import sample_rows
from tools.redact import redact_urls
from tools.threshold import choose_threshold, describe_rule
from tools.tune import TrialRecord, tune

RESULTS = "results.joblib"
JOURNAL = "study.journal"   # the studies' storage unless --storage names a database
REPORT_SECONDS = 2.0
# The lead candidate may take this much of selection's share: a cut lead leaves a weak model.
LEAD_SHARE = 0.6
FINAL_MEMBERS = 3
# Greedy ensemble selection may take this share of the budget (on big tables each round takes a while).
ENSEMBLE_SHARE = 0.03
# Measured on the shared datasets: tuned forests and boosters fitted about twice as slowly as their defaults.
TUNED_COST = 2.0


def _results(ctx: RunContext) -> dict[str, CVResult]:
    """Each candidate's best cross-validated configuration."""
    return ctx.workspace.items.setdefault("results", {})


def _pool(ctx: RunContext) -> Pool:
    """Every candidate's best few configurations with their out-of-fold predictions: what ensembles are
    built from."""
    return ctx.workspace.items.setdefault("pool", Pool())


def _leaderboard(results: dict[str, CVResult], metric_name: str) -> list[dict]:
    metric = get_metric(metric_name)
    rows = [r.summary() for r in results.values() if r.scores]
    rows.sort(key=lambda r: (not r["complete"], -metric.oriented(r["mean"])))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
        row["label"] = get_candidate(row["candidate"]).label
    return rows


def seconds_per_row(results: dict[str, CVResult], names: list[str], data: TrainingData) -> float:
    """Seconds per training row to fit these candidates once, from their cross-validation fit times
    (each fold fits (k - 1) / k of the sample's rows)."""
    folds = len(data.folds)
    rows_per_fit = max(len(data.y) * (folds - 1) / max(folds, 1), 1.0)
    total = 0.0
    for name in names:
        r = results.get(name)
        if r and r.scores:
            total += r.fit_seconds / len(r.scores) / rows_per_fit
    return total


def _plan_final_steps(ctx: RunContext, results: dict[str, CVResult], board: list[dict], data: TrainingData,
                      *, cost: float = TUNED_COST) -> None:
    """Pin the final fits' share to what the leaders' cross-validation fits measured: once on the
    training part, once on all rows (up to 1.3 x more rows). The final model is often a blend of the
    leaders, so the three best are counted. Before tuning, ``cost`` allows for tuned configurations
    being dearer than the defaults timed here (more trees, more rounds); during tuning the best
    configurations are the ones timed, so it is 1."""
    complete = [r["candidate"] for r in board if r["complete"]]
    per_row = seconds_per_row(results, complete[:FINAL_MEMBERS], data)
    # Planned for one fit per member: bagging (k - 1 times dearer) is chosen at the end only when the time
    # left allows it, so it never takes time from tuning (measured: at 60 s, reserving for it cost more
    # than it gained).
    ctx.plan.need("final", per_row * len(ctx.workspace["X_train"]) * 2.3 * cost)


def training_data(ctx: RunContext, state: RunState) -> TrainingData:
    """The training part (or the decided sample of it) with its folds, into the workspace (seeded: rebuilt
    identically on resume)."""
    plan = ColumnPlan.from_dict(state["column_plan"])
    w = ctx.workspace
    rows = int((state.get("sample") or {}).get("rows") or len(w["y_train"]))
    picked = sample_rows(w["labels_train"], rows, task=state["task"], seed=ctx.settings.seed + 2)
    y = w["y_train"][picked]
    X = w["X_train"][plan.features]
    X = X if len(picked) == len(X) else X.iloc[picked].reset_index(drop=True)
    folds = make_folds(y, state["task"], n_folds=state["validation"]["folds"], seed=ctx.settings.seed)
    data = TrainingData(X, y, state["task"], list(range(len(state["classes"]))), plan, folds, ctx.settings.seed)
    ctx.workspace["data"] = data
    return data


def save_results(ctx: RunContext) -> None:
    """Keep the cross-validation results on disk, so an interrupted run can be resumed without redoing them."""
    path = ctx.run_dir / RESULTS
    dump_pickle({"best": _results(ctx), "pool": _pool(ctx).entries}, path)
    ctx.manifest.update(results={"file": RESULTS, **signed(ctx.settings.home, path)})


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
        select_end = time.monotonic() + max(ctx.plan.remaining("select"), 1.0)
        failed: dict[str, str] = {}
        for i, name in enumerate(names):
            if ctx.should_stop():
                break
            cand = get_candidate(name)
            remaining_cost = sum(CANDIDATES[n].cost for n in names[i:])
            left = select_end - time.monotonic()
            share = LEAD_SHARE if i == 0 else cand.cost / remaining_cost
            deadline = time.monotonic() + max(left * share, 0.5)
            params = cand.defaults(len(y), data.n_features, state["task"])
            try:
                result = cross_validate(cand, params, data, metric, n_jobs=ctx.settings.n_jobs, deadline=deadline)
            except Exception as exc:  # one candidate failing must not sink the run
                failed[name] = f"{type(exc).__name__}: {exc}"[:400]
                ctx.events.emit("candidate_failed", step="select", candidate=name, error=failed[name])
                continue
            results[name] = result
            _pool(ctx).offer(name, result, metric)
            ctx.events.emit("candidate_scored", step="select", **result.summary(),
                            note="" if result.complete else f"cut by its time share after {len(result.scores)} folds")
        board = _leaderboard(results, state["metric"])
        save_results(ctx)
        _plan_final_steps(ctx, results, board, data)
        ctx.events.emit("leaderboard", step="select", stage="selection", metric=metric.name, rows=board)
    return {"step": "select", "leaderboard": board, "failed_candidates": failed,
            "stop_reason": "interrupted" if ctx.should_stop() else None}


def tune_step(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Optuna on the promising candidates, until the reserve for the final steps."""
    ctx = runtime.context
    metric = get_metric(state["metric"])
    results = _results(ctx)
    data: TrainingData = ctx.workspace["data"]
    with ctx.step("tune"):
        # A candidate whose selection the clock cut after some folds is still compared, on those folds: on a
        # big table the strongest model may be the one cut (seen: LightGBM 33,342 MAE on 2 of 3 folds against
        # a complete linear model's 49,926).
        scored = [r for r in state["leaderboard"] if r.get("folds", 0) > 0]
        seconds = ctx.plan.allotment("tune")
        failed = state.get("failed_candidates") or {}
        cut = [{"candidate": n, "mean": None, "folds": 0, "complete": False, "failed": failed.get(n)}
               for n in state["candidates"] if n not in {r["candidate"] for r in scored}]
        brief = SelectionBrief(state["task"], metric.name, metric.greater_is_better, scored, seconds, len(data.y),
                               target=state.get("target"), columns=_table_columns(ctx), cut=cut,
                               folds=len(data.folds))
        facts = {"evaluated": [r["candidate"] for r in scored]}
        decision = ctx.decider.one(lambda p: p.choose_tuning(brief), facts, step="tune")
        if decision.choice.get("iterate"):
            return iterate(ctx, state, decision.choice["iterate"], decision.reason, step="tune")
        # Re-planned after the review: the model's time is no longer in the pool.
        shares_after = ctx.plan.shares("tune")
        seconds = shares_after["tune"]
        later = sum(v for k, v in shares_after.items() if k != "tune")
        shares = decision.choice.get("shares", {})
        cap = ctx.settings.max_trials
        if not shares or seconds < 1.0 or cap == 0 or ctx.should_stop():
            why = ("no candidate to tune" if not shares else "trial cap is 0" if cap == 0 else
                   _stopped_by(ctx) if ctx.should_stop() else
                   f"no time left: the later steps need the {later:.0f} s that remain")
            ctx.events.emit("tuning_skipped", step="tune", reason=why)
            return {"step": "tune", "tuning": {"skipped": why, "trials": 0}}
        ctx.events.emit("tuning_started", step="tune", shares=shares, seconds=round(seconds, 1),
                        reserve=round(later, 1), max_trials=cap)

        live = dict(results)

        def on_best(name: str, cv: CVResult) -> None:
            live[name] = cv
            _plan_final_steps(ctx, live, _leaderboard(live, state["metric"]), data, cost=1.0)

        reserve = {k: v for k, v in shares_after.items() if k != "tune"}

        def due() -> float:
            return ctx.plan.ends(reserve)

        fan = Fanout.start(ctx, data, metric, shares) if ctx.settings.storage else None

        def on_trial(record: TrialRecord) -> None:
            ctx.events.emit("trial", step="tune", **record.to_dict(), seconds_left=round(ctx.seconds_left(), 1))
            if fan is not None:
                fan.tick(due())

        def on_replan(change: dict) -> None:
            if fan is not None:
                fan.tick(due(), change["active"])
            ctx.decider.record(Decision("replan", {"active": change["active"]},
                                        "; ".join(f"{n}: {why}" for n, why in change["dropped"].items()),
                                        {"leader": change["leader"], "leader_score": change["leader_score"],
                                         "trial": change["trial"], **change.get("evidence", {})},
                                        [{"choice": n, "why_not": why} for n, why in change["dropped"].items()]),
                               step="tune")

        pool = _pool(ctx)
        storage = ctx.settings.storage or ctx.run_dir / JOURNAL
        outcome = tune(shares, data, metric, seeds=results, storage=storage, study_prefix=ctx.run_id,
                       seed=ctx.settings.seed, deadline=due, max_trials=cap, should_stop=ctx.should_stop,
                       on_trial=on_trial, on_replan=on_replan, on_best=on_best,
                       on_result=lambda name, cv: pool.offer(name, cv, metric), n_jobs=ctx.settings.n_jobs,
                       on_ready=(lambda: fan.tick(due(), force=True)) if fan is not None else None)
        if fan is not None:
            fan.finish(pool, outcome.best, metric)
        for name, best in outcome.best.items():
            # A complete result always replaces one the clock cut: fewer folds' scores are not comparable.
            if name not in results or not results[name].complete or metric.better(best.mean, results[name].mean):
                results[name] = best
        board = _leaderboard(results, state["metric"])
        save_results(ctx)
        counts = {s: sum(1 for t in outcome.trials if t.state == s) for s in ("complete", "pruned", "failed", "cut")}
        ctx.events.emit("tuning_finished", step="tune", stopped=outcome.stopped, trials=len(outcome.trials),
                        states=counts, prefix=ctx.run_id if ctx.settings.storage else None,
                        storage=redact_urls(ctx.settings.storage) if ctx.settings.storage else JOURNAL)
        ctx.events.emit("leaderboard", step="tune", stage="tuning", metric=metric.name, rows=board)
    return {"step": "tune", "leaderboard": board,
            "tuning": {"trials": len(outcome.trials), "stopped": outcome.stopped, "states": counts}}


def _table_columns(ctx: RunContext) -> list[str]:
    """The table's columns (the target among them): what a review's request for one more iteration may name."""
    return [str(c) for c in ctx.workspace["table"].frame.columns]


def iterate(ctx: RunContext, state: RunState, change: dict, reason: str, *, step: str) -> RunState:
    """Go back once to selection with columns dropped and/or candidates added (asked by the policy)."""
    plan = copy_plan(state["column_plan"])
    dropped = [c for c in change.get("drop", []) if drop_column(plan, c, f"dropped for a second iteration: {reason}")]
    if not features(plan):
        ctx.events.emit("warning", step=step, message="the iteration would leave no feature; it is ignored")
        return {"step": step, "iterating": False}
    candidates = list(dict.fromkeys(list(state["candidates"]) + list(change.get("add", []))))
    ctx.workspace["results"] = {}
    ctx.workspace["pool"] = Pool()
    ctx.workspace["iterated"] = True
    ctx.plan.reopen(["select", "tune", "final"])
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
        bagging = _bagging(ctx, state, data, metric)
        pool = _pool(ctx).entries
        costs = {n: _final_cost(r, data, bagging) for n, r in pool.items()}
        available = ctx.plan.available("final")
        # Its rounds are bounded by time on big tables only: where time is left, two runs of the same seed
        # make the same blend whatever the machine's load.
        ens = select_ensemble(pool, data.y, metric, costs=costs, max_members=_max_members(ctx.clock.budget),
                              max_cost=max(available, min(costs.values(), default=0.0)),
                              seconds=min(max(1.0, ENSEMBLE_SHARE * ctx.clock.budget, 0.2 * available), 10.0))
        facts = {"evaluated": [r["candidate"] for r in board], "pool": list(pool)}
        brief = FinalBrief(metric.name, board, ens.to_dict() if ens else None, target=state.get("target"),
                           columns=_table_columns(ctx))
        decision = ctx.decider.one(lambda p: p.choose_final(brief), facts, step="finalize")
        choice = decision.choice
        if choice.get("kind") == "iterate":
            return iterate(ctx, state, choice["iterate"], decision.reason, step="finalize")
        weights = choice["weights"] if choice["kind"] == "ensemble" else {choice["candidate"]: 1}
        source = pool if choice["kind"] == "ensemble" else results
        members = [Member(source[n].candidate, source[n].params, int(w), list(source[n].iterations))
                   for n, w in weights.items()]
        spec = ModelSpec(members, state["task"], list(state["classes"]), bagging=bagging)
        oof = blend(source, weights) if all(source[n].oof is not None for n in weights) else None
        if oof is not None and state["task"] != "regression" and metric.name in CALIBRATED_METRICS:
            oof = _calibrate(ctx, spec, oof, data, metric)
        if state["task"] == "binary":
            if oof is not None:
                chosen = choose_threshold(data.y, oof[:, 1], state["threshold_rule"])
                spec.threshold = chosen.threshold
                ctx.workspace["threshold_choice"] = chosen.to_dict()
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


def _max_members(budget: float) -> int:
    """Distinct ensemble members a budget affords: each is fitted again (once per fold when bagged) and
    every prediction, permutation importance's many included, runs through all of them."""
    return int(min(MAX_MEMBERS, 2 + budget // 20))


def _bagging(ctx: RunContext, state: RunState, data: TrainingData, metric: Metric) -> int:
    """The policy's decision on k-fold bagging for the final model: the folds to bag over, or 0."""
    counts = np.bincount(data.y.astype(int)) if state["task"] != "regression" else np.array([len(data.y)])
    results = _results(ctx)
    board = [r for r in _leaderboard(results, metric.name) if r["complete"]][:FINAL_MEMBERS]
    bag_seconds = sum(_final_cost(results[r["candidate"]], data, len(data.folds)) for r in board)
    n_train = len(ctx.workspace["X_train"])
    decision = ctx.decider.one(lambda p: p.choose_bagging(n_train, len(data.y), int(counts.min()), len(data.folds),
                                                          bag_seconds, ctx.plan.available("final")),
                               {}, step="finalize")
    return int(decision.choice or 0)


def _final_cost(result: CVResult, data: TrainingData, bagging: int) -> float:
    """Seconds the final fits of this configuration should take (on the training part, then on all rows):
    a bagged member fits every fold again, as cross-validation did; a refit is about one fold's fit."""
    once = result.fit_seconds if bagging else result.fit_seconds / max(len(data.folds) - 1, 1)
    return once * 2.3


def _calibrate(ctx: RunContext, spec: ModelSpec, oof: np.ndarray, data: TrainingData, metric: Metric) -> np.ndarray:
    """Decide on temperature scaling out of fold; returns the out-of-fold predictions the final model
    would give (scaled when it is chosen), on which a threshold is then chosen."""
    cal = choose_temperature(oof, data.y, data.folds, metric)
    T = round(cal.temperature, 4)
    said = (f"out of fold, with each fold scaled by a temperature fitted on the others, {metric.label} goes from "
            f"{cal.before:.4f} to {cal.after:.4f}")
    if cal.worth_it:
        spec.temperature = T
        ctx.decider.record(Decision(
            "calibration", {"method": "temperature", "temperature": T},
            f"probabilities scaled by temperature {T:g} ({'softened' if T > 1 else 'sharpened'}): {said}",
            cal.to_dict(), [{"choice": None, "why_not": f"{metric.label} {cal.before:.4f} out of fold"}]),
            step="finalize")
        return scale(oof, T)
    ctx.decider.record(Decision("calibration", None, f"probabilities left as the model gives them: {said}, "
                                "not a clear gain", cal.to_dict(),
                                [{"choice": {"method": "temperature", "temperature": T},
                                  "why_not": f"{metric.label} {cal.after:.4f} out of fold"}]), step="finalize")
    return oof


def _stopped_by(ctx: RunContext) -> str:
    return "the time wall was reached" if ctx.stop_cause == "wall" else "stopped by the user"


def _final_deadline(ctx: RunContext) -> float:
    """Final fits may run a little past the budget (never near the hard wall): a model cut short for want
    of a second is worse than a run that ends a second late."""
    clock = ctx.clock
    return min(clock.end + 0.05 * clock.budget + 2.0, clock.hard_end - 4.0)


def evaluate(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Fit the final spec on the training part (as many rows as its share allows), score it on the
    untouched holdout, and save it in place of the first model."""
    ctx = runtime.context
    spec: ModelSpec = ctx.workspace["spec"]
    plan = ColumnPlan.from_dict(state["column_plan"])
    w = ctx.workspace
    with ctx.step("evaluate", model=spec.label):
        rows = _final_rows(ctx, state, spec)
        X_fit, labels_fit = w["X_train"], w["labels_train"]
        if rows < len(X_fit):
            picked = sample_rows(labels_fit, rows, task=spec.task, seed=ctx.settings.seed + 3)
            X_fit, labels_fit = X_fit.iloc[picked], labels_fit.iloc[picked]
        data: TrainingData | None = w.get("data")
        # Bagged on the training part, the members are the very models cross-validation scored.
        folds = data.folds if spec.bagging and data is not None and len(data.y) == len(X_fit) else None
        with ctx.plan.spending("final"):
            fitted = fit_model(spec, plan, X_fit, labels_fit, seed=ctx.settings.seed,
                               n_jobs=ctx.settings.n_jobs, deadline=_final_deadline(ctx), folds=folds)
        model = fitted.estimator
        if fitted.cut:
            ctx.events.emit("warning", step="evaluate", message=f"the time budget cut the final fit of "
                            f"{', '.join(fitted.cut)} short: it has fewer trees or rounds than tuned")
        w["fit_seconds"] = fitted.seconds
        w["final_rows"] = len(X_fit)
        left = _final_deadline(ctx) - time.monotonic() - REPORT_SECONDS
        # Monitoring weighs drift by these importances, so they get 1.5 s at least, when the wall allows,
        # even if that leaves too little for the refit on all rows; beyond it, the refit's time comes first.
        allowance = 0.0 if ctx.should_stop() else max(min(1.5, left), min(10.0, max(1.0, 0.6 * ctx.plan.remaining(
            "evaluate")), left - fitted.seconds * 1.5), 0.0)
        ev, metrics = score(ctx, state, model, spec, plan, importance_seconds=allowance)
        on = "training part" if len(X_fit) == len(w["X_train"]) else f"{len(X_fit):,} of the training rows"
        replaced = _replace(ctx, state, spec, model, ev, bool(fitted.cut))
        if replaced:
            publish(ctx, state, model, spec, plan, ev=ev, metrics=metrics, fitted_on=on, step="evaluate")
            _check_goal(ctx, state, ev)
        else:
            ctx.events.emit("candidate_holdout", step="evaluate", model=spec.label, metrics=ev.metrics,
                            primary=ev.primary)
    return {"step": "evaluate", "evaluation": {"metrics": ev.metrics, "baseline": ev.baseline,
                                               "primary": ev.primary, "published": replaced}}


def _check_goal(ctx: RunContext, state: RunState, ev: object) -> None:
    """Say at once when the holdout does not honour the goal's threshold target (or the threshold flags
    nothing or everything): a warning, and the facts for the report's summary."""
    if state["task"] != "binary":
        return
    check = check_goal(state.get("threshold_rule"), ev.at_threshold, ev.confusion,
                       out_of_fold=ctx.workspace.get("threshold_choice"))
    if check is None:
        return
    ctx.events.emit("goal_check", step="evaluate", **check.to_dict())
    if not check.met:
        ctx.events.emit("warning", step="evaluate", message="the goal is not met: " + "; ".join(check.problems)
                        + f" ({check.flagged:,} of {check.rows:,} held-out rows flagged); {check.advice}")


def _final_rows(ctx: RunContext, state: RunState, spec: ModelSpec) -> int:
    """Every training row when the final share allows two fits of them (this one and the refit on all
    rows), else as many as one fit can take in it; never fewer than selection and tuning saw."""
    n_train = len(ctx.workspace["X_train"])
    data: TrainingData | None = ctx.workspace.get("data")
    if data is None or spec.bagging:  # bagging was chosen for small tables, when its time was there
        return n_train
    per_row = seconds_per_row(_results(ctx), [m.candidate for m in spec.members], data)
    seconds = ctx.plan.available("final")
    if per_row <= 0 or per_row * n_train * 2.3 <= seconds:
        return n_train
    rows = int(min(n_train, max(len(data.y), 0.8 * seconds / per_row)))
    if rows < n_train:
        ctx.decider.record(Decision("final_rows", rows, f"the final fit on {rows:,} of the {n_train:,} training "
                                    f"rows: cross-validation measured {per_row * 10_000:.2g} s per 10,000 rows for "
                                    f"{spec.label}, and the final fit has {seconds:.0f} s",
                                    {"seconds_per_row": per_row, "seconds": round(seconds, 1), "rows": n_train},
                                    [{"choice": n_train, "why_not": f"about {per_row * n_train:.0f} s, past the "
                                      "time plan's share for the final fit"}]), step="evaluate")
    return rows


def _replace(ctx: RunContext, state: RunState, spec: ModelSpec, model: object, ev: object, cut: bool) -> bool:
    """Whether the final model replaces the one already saved (the first model), as a decision.

    Cross-validation chose the final model on more evidence than one holdout holds, so it replaces the
    first model unless the holdout says it is clearly worse (a paired bootstrap of the difference, 90%
    interval below zero) or its fit was cut short by time and it scores lower."""
    metric = get_metric(ev.primary)
    compared = gap_to_published(ctx, model, spec, metric)
    if compared is None:
        return True
    gap = compared[0]
    first = (state.get("first_model") or {}).get("primary")
    new = ev.metrics.get(ev.primary)
    evidence = {"final": new, "first": first, "gap": gap}
    said = (f"holdout {metric.label} {number(new)} against {number(first)} for the first model; paired bootstrap "
            f"difference {gap['difference']:+.4g}, 90% interval {gap['p05']:+.4g} to {gap['p95']:+.4g}, positive "
            "favours the final model")
    if gap["p95"] < 0 or (cut and gap["difference"] < 0):
        why = (f"{spec.label} is clearly worse on the holdout" if gap["p95"] < 0 else
               f"the time budget cut the fit of {spec.label} short and it scores lower on the holdout")
        ctx.decider.record(Decision("replace_first_model", False,
                                    f"the first model is kept: {why} ({said}). Choosing between the "
                                    "two on the holdout makes its score slightly optimistic", evidence,
                                    [{"choice": True, "why_not": why}]), step="evaluate")
        ctx.events.emit("warning", step="evaluate", message=f"the final model was not kept: {why}; the first "
                        "model stays the run's model")
        return False
    tuned = " and tuning" if (state.get("tuning") or {}).get("trials") else ""
    ctx.decider.record(Decision("replace_first_model", True, f"{spec.label}, chosen by cross-validation{tuned}, "
                                f"replaces the first model ({said})", evidence,
                                [{"choice": False, "why_not": "cross-validation saw more evidence than one holdout"}]),
                       step="evaluate")
    return True


def refit(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Refit on all rows when time allows (a decision), and save the model the run hands over."""
    ctx = runtime.context
    spec: ModelSpec = ctx.workspace["spec"]
    plan = ColumnPlan.from_dict(state["column_plan"])
    w = ctx.workspace
    if not state.get("evaluation", {}).get("published", True) or w.get("final_rows", 0) < len(w["X_train"]):
        # The first model was kept, or the final model saw only part of the training rows: nothing to refit.
        return {"step": "refit", "refit": False}
    if w.get("big") is not None:
        ctx.decider.record(Decision("refit", False, "no refit of the sample's model on its holdout rows: with Dask "
                                    "the holdout stays unseen, so that the fit on every training row (next) is "
                                    "judged against this model on the same rows", {}), step="refit")
        return {"step": "refit", "refit": False}
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
                publish(ctx, state, fitted.estimator, spec, plan, ev=None, metrics=None, fitted_on="all rows",
                        step="refit")
                refitted = True
    return {"step": "refit", "refit": refitted}


def rebuild(ctx: RunContext, state: RunState, *, trust: bool = False) -> None:
    """Reload the saved cross-validation results and rebuild the training data and the final spec the
    saved ``state`` refers to (a resumed run; the data step's `rebuild` ran first).

    Raises:
        UntrustedFile: the results file is not signed by this user and ``trust`` is not given.
    """
    results_path = ctx.run_dir / RESULTS
    if results_path.exists():
        recorded = (ctx.manifest.data.get("results") or {}).get("signature")
        warning = check_pickle(results_path, recorded, home=ctx.settings.home, trust=trust,
                               what="the run's cross-validation results")
        if warning:
            ctx.events.emit("warning", step="resume", message=warning)
        saved = joblib.load(results_path)
        ctx.workspace["results"] = saved.get("best", {})
        ctx.workspace["pool"] = Pool(dict(saved.get("pool", {})))
    if "column_plan" in state and ctx.workspace.get("X_train") is not None:
        training_data(ctx, state)
    if state.get("final"):
        ctx.workspace["spec"] = ModelSpec.from_dict(state["final"])
