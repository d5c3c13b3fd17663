"""The first-model node: a saved, evaluated model early in the run, and the sample sizes the rest of
the run can afford, measured on it.

The run is anytime: from here on there is always a model in the run folder, and every later step only
replaces it (agent.job.steps_model). The first fit also times a default LightGBM on this data, from which
the policy sizes selection's and tuning's row sample (the ``sample`` decision) so no single fit can
overrun its share of the time plan.
"""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from agent.decide.policy import Decision, SampleBrief
from agent.job.context import RunContext, RunState
from agent.job.publish import publish, score
from agent.record.runfolder import MODEL
from tools.preprocess import ColumnPlan
from tools.quick import GROWTH, START_ROWS, fit_first_model

# Of the first model's share: the fit, then scoring it on the holdout (and a few importances).
FIT_SHARE = 0.7
IMPORTANCE_SECONDS = 1.0


def first_model(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Fit, score and save the first model; decide selection's and tuning's sample."""
    ctx = runtime.context
    replacing = bool(state.get("quick_look")) and (ctx.run_dir / MODEL).exists()
    if replacing and ctx.should_stop():
        return {"step": "first_model"}  # stopped while the file was read: the quick look's model stays
    w = ctx.workspace
    plan = ColumnPlan.from_dict(state["column_plan"])
    with ctx.step("first_model"):
        seconds = ctx.plan.remaining("first_model")
        fit = fit_first_model(plan, state["task"], list(state["classes"]), w["X_train"], w["labels_train"],
                              threshold_rule=state.get("threshold_rule"), seconds=FIT_SHARE * seconds,
                              seed=ctx.settings.seed, n_jobs=ctx.settings.n_jobs)
        on = ("the training part" if fit.rows >= fit.of_rows else
              f"a sample of {fit.rows:,} of the {fit.of_rows:,} training rows")
        evidence = {"rows": fit.rows, "of_rows": fit.of_rows, "seconds": round(fit.seconds, 2),
                    "rounds": fit.spec.members[0].iterations[0], "cut_by_time": fit.cut,
                    "seconds_per_row": fit.seconds_per_row,
                    "threshold": fit.threshold.to_dict() if fit.threshold else None}
        ctx.decider.record(Decision(
            "first_model", {"candidate": "lightgbm", "rows": fit.rows, "params": fit.spec.members[0].params},
            f"a LightGBM with default settings on {on}, early-stopped on a held-back part of it"
            + (f" (grown from {START_ROWS:,} rows, {GROWTH} times at a time, while the last fit's pace "
               f"said the next would end within about {FIT_SHARE * seconds:.0f} s)" if fit.rows < fit.of_rows else "")
            + ": a saved, evaluated model early in the run, which later steps replace only with a better one"
            + ("; it replaces the quick look's model from the file's first rows" if replacing else ""),
            evidence, [{"choice": "no model until tuning ends", "why_not": "a run cut short by time or by the "
                        "user would leave nothing"}]), step="first_model")
        allowance = 0.0 if ctx.should_stop() else min(IMPORTANCE_SECONDS, max(0.0, ctx.plan.remaining("first_model")))
        scoring = time.monotonic()
        ev, metrics = score(ctx, state, fit.model, fit.spec, plan, importance_seconds=allowance)
        publish(ctx, state, fit.model, fit.spec, plan, ev=ev, metrics=metrics, fitted_on=on, step="first_model")
        # Scoring and saving the final model (an ensemble, perhaps) will cost about half again what this
        # one did, importances included.
        ctx.plan.need("evaluate", 1.5 * (time.monotonic() - scoring) + 0.5)
        sample = _decide_sample(ctx, state, plan, fit.seconds_per_row)
    return {"step": "first_model", "first_model": {"rows": fit.rows, "primary": ev.metrics.get(ev.primary),
                                                   "label": fit.spec.label},
            "sample": sample}


def _decide_sample(ctx: RunContext, state: RunState, plan: ColumnPlan, seconds_per_row: float) -> dict:
    shares = ctx.plan.shares("select")
    n_rows = len(ctx.workspace["X_train"])
    brief = SampleBrief(n_rows=n_rows, n_features=len(plan.features), seconds_per_row=seconds_per_row,
                        folds=int(state["validation"]["folds"]), select_seconds=shares["select"],
                        tune_seconds=shares["tune"], candidates=list(state["candidates"]))
    decision = ctx.decider.one(lambda p: p.choose_sample(brief), {"rows": n_rows}, step="first_model")
    # Selection must at least finish on that sample: its estimate pins its share (up to twice its weight).
    ctx.plan.need("select", float(decision.evidence.get("select_estimate", 0.0)))
    return {"rows": int(decision.choice["rows"]), "seconds_per_row": seconds_per_row}
