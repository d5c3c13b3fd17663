"""The quick-look node: on a file too big to read, profile and plan within the first few seconds of the
budget, a model fitted on the file's first rows, saved and scored before the whole file is read.

A run is anytime: a model should exist early (within ~15% of the budget) so that a run stopped by the
user or the wall still leaves one. On a big file, reading, profiling and planning alone can take a third
of a short budget; the quick look reads the file's first rows (`tools.intake.read_head_table`), plans on
them with the rules (no language model: it must be quick), fits the first model's LightGBM on part of
them, scores it on the rest and publishes it. It is logged as one decision, and the report says what it
was fitted on. The first model on all the data replaces it; so does nothing when the full reading shows
it cannot stand: another target or task in the plan, or one of its columns typed differently
(`retract_quick_model`).
"""

from __future__ import annotations

import pandas as pd
from langgraph.runtime import Runtime

from agent.decide.policy import ColumnBrief, Decision, GoalBrief, QuickLookBrief
from agent.job.context import RunContext, RunState
from agent.job.publish import publish, score
from agent.record.runfolder import MODEL
from tools.errors import MlpilotError
from tools.intake import Table, read_head_table
from tools.leakage import find_leakage
from tools.preprocess import ColumnPlan
from tools.profile import profile_frame
from tools.quick import fit_first_model
from tools.screen import WIDE, screen_features
from tools.split import holdout_split
from tools.target import check_target, encode_target, infer_task, labels_as_written, usable_rows

# About this many values are read: 1M x 50 gives ~30,000 rows in ~0.4 s, 50k x 2,000 gives 1,000 rows.
HEAD_CELLS = 1_500_000
HOLDOUT_SHARE = 0.2
# A wide table's quick look works on its strongest columns by their own link to the target.
QUICK_FEATURES = 100
LEAK_SECONDS = 0.3
# The fit's seconds: a share of the budget, but at least half a second.
FIT_SHARE = 0.02
# Files written with a model that a retraction removes with it.
MODEL_FILES = (MODEL, "metrics.json", "reference.json", "curves.json")


def quick_look(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Fit, score and save a model on the file's first rows when the file is big for the budget."""
    ctx = runtime.context
    s = ctx.settings
    # In the chat the data is read before the clock starts (at approval): nothing to hurry for.
    if not ctx.clock.running or ctx.should_stop() or s.data is None:
        return {"step": "quick_look"}
    brief = QuickLookBrief(file_mb=s.data.stat().st_size / 1e6, budget=ctx.clock.budget)
    if brief.file_mb < 1:  # small files: no question worth logging
        return {"step": "quick_look"}
    with ctx.step("quick_look"):
        if not ctx.decider.one(lambda p: p.choose_quick_look(brief), {}, step="quick_look").choice:
            return {"step": "quick_look"}
        head = read_head_table(s.data, cells=HEAD_CELLS, delimiter=s.delimiter, encoding=s.encoding)
        try:
            look = _look(ctx, head)
        except MlpilotError as exc:  # the full reading will say it again, or not apply to all the rows
            ctx.decider.record(Decision("quick_model", None, f"no model from the first {len(head.frame):,} rows: "
                                        f"{exc}", {"rows": len(head.frame)}), step="quick_look")
            return {"step": "quick_look"}
        finally:
            # The head's data and its published model are not the run's: the full reading brings those.
            for key in ("X_train", "labels_train", "X_hold", "labels_hold", "holdout_prediction", "published"):
                ctx.workspace.items.pop(key, None)
    return {"step": "quick_look", "quick_look": look}


def _look(ctx: RunContext, head: Table) -> dict:
    s = ctx.settings
    rules = ctx.decider.rules
    frame = head.frame
    kinds = {c.name: c.kind for c in head.columns}
    # The rules read the goal and the column names only; profiling waits until a wide table is screened.
    brief = GoalBrief(goal=s.goal, columns=[str(c) for c in frame.columns], profile_summary="", column_kinds=kinds,
                      n_rows=len(frame), forced_target=s.target, forced_task=s.task, forced_metric=s.metric)
    target = rules.choose_target(brief).choice
    labels = labels_as_written(frame[target], head.columns)
    inferred, evidence = infer_task(labels)
    info = check_target(pd.DataFrame({target: labels}), target, rules.choose_task(brief, target, inferred,
                                                                                   evidence).choice, goal=s.goal,
                        overflowing=head.nonfinite.get(target, 0))
    task = info.task
    all_positive = task == "regression" and bool((labels.dropna() > 0).all())
    metric_decisions = rules.choose_metric(brief, task, {"all_positive": all_positive})
    metric = next(d.choice for d in metric_decisions if d.question == "metric")
    rule = next(d.choice for d in metric_decisions if d.question == "threshold_rule")
    keep = usable_rows(labels, info)
    X = frame.loc[keep].drop(columns=[target]).reset_index(drop=True)
    y_labels = labels[keep].reset_index(drop=True)
    y = encode_target(y_labels, info)
    train_idx, hold_idx = holdout_split(y, HOLDOUT_SHARE, task=task, seed=s.seed)
    X_train, labels_train = X.iloc[train_idx].reset_index(drop=True), y_labels.iloc[train_idx].reset_index(drop=True)
    if X.shape[1] > WIDE:
        numeric = [c for c in X.columns if kinds[c] == "numeric"]
        kept = screen_features(X_train, y[train_idx], task, keep=QUICK_FEATURES, numeric=numeric, seed=s.seed).kept
        X, X_train = X[kept], X_train[kept]
    plan = _plan_columns(ctx, X_train, y[train_idx], labels_train, target, task)
    w = ctx.workspace
    w.items.update(X_train=X_train, labels_train=labels_train, X_hold=X.iloc[hold_idx].reset_index(drop=True),
                   labels_hold=y_labels.iloc[hold_idx].reset_index(drop=True))
    fit = fit_first_model(plan, task, list(info.classes), X_train, labels_train, threshold_rule=rule,
                          seconds=max(0.5, FIT_SHARE * ctx.clock.budget), seed=s.seed, n_jobs=s.n_jobs)
    state: RunState = {"target": target, "task": task, "metric": metric}
    ev, metrics = score(ctx, state, fit.model, fit.spec, plan, importance_seconds=0.0)
    on = (f"the file's first {len(frame):,} rows only (a quick look while the rest was read): {fit.rows:,} of "
          f"them to fit, scored on {len(hold_idx):,} others")
    ctx.manifest.update(
        data={"path": str(s.data), "sha256": "", "rows": len(frame), "columns": frame.shape[1],
              "format": head.file_format, "encoding": head.encoding, "delimiter": head.delimiter,
              "decimal": head.decimal, "schema": head.schema(), "head_only": True},
        plan={"target": target, "task": task, "metric": metric, "threshold_rule": rule, "dropped": plan.dropped,
              "features": plan.features, "quick_look": True})
    publish(ctx, state, fit.model, fit.spec, plan, ev=ev, metrics=metrics, fitted_on=on, step="quick_look")
    primary = ev.metrics.get(ev.primary)
    ctx.decider.record(Decision(
        "quick_model", {"target": target, "task": task, "metric": metric, "rows": fit.rows,
                        "features": len(plan.features)},
        f"a LightGBM with default settings on {on}; target, task, metric and columns as the rules read them "
        "there, without the language model"
        + (f", on the {QUICK_FEATURES} columns most linked to the target alone" if frame.shape[1] - 1 > WIDE else "")
        + ". Rows at the top of a file need not be typical: the first model on all the data replaces it",
        {"rows_read": len(frame), "holdout_rows": len(hold_idx), "primary": primary, "seconds": round(fit.seconds, 2)},
        [{"choice": "wait for the whole file", "why_not": "a run stopped while it is read would have no model"}]),
        step="quick_look")
    return {"target": target, "task": task, "rows": len(frame), "primary": primary,
            "columns": {c: kinds[c] for c in [*plan.features, target]}}


def _plan_columns(ctx: RunContext, X_train: pd.DataFrame, y_train: object, labels_train: pd.Series, target: str,
                  task: str) -> ColumnPlan:
    s = ctx.settings
    frame = X_train.copy()  # one block: columns read one by one leave the frame fragmented
    frame[target] = labels_train.to_numpy()
    prof = profile_frame(frame)
    leakage = find_leakage(frame, target, task, seed=s.seed, time_limit=LEAK_SECONDS)
    brief = ColumnBrief.from_training(target, task, prof, leakage, X_train, y_train,
                                      keep=[c for c in s.keep if c in frame], drop=[c for c in s.drop if c in frame])
    plan = next(d.choice for d in ctx.decider.rules.choose_columns(brief) if d.question == "column_plan")
    return ColumnPlan.from_dict(plan)


def retract_quick_model(ctx: RunContext, reason: str) -> None:
    """Remove the quick look's model (and its metrics and reference): ``reason`` says why it cannot stand."""
    for name in MODEL_FILES:
        (ctx.run_dir / name).unlink(missing_ok=True)
    ctx.manifest.data.pop("model", None)
    ctx.manifest.save()
    ctx.workspace.items.pop("published", None)
    ctx.events.emit("model_removed", step="quick_look", reason=reason)


def quick_model_stands(ctx: RunContext, state: RunState, *, table: Table | None = None,
                       target: str | None = None, task: str | None = None) -> bool:
    """Whether the quick look's model still fits what the full reading found: the same kinds for its
    columns (``table``), the same target and task; if not, it is retracted with the reason."""
    look = state.get("quick_look")
    if not look or state.get("first_model") or not (ctx.run_dir / MODEL).exists():
        return True
    reason = None
    if table is not None:
        kinds = {c.name: c.kind for c in table.columns}
        changed = [c for c, k in look["columns"].items() if kinds.get(c) != k]
        if changed:
            reason = (f"read in full, {', '.join(repr(c) for c in changed[:5])} "
                      f"{'is' if len(changed) == 1 else 'are'} typed differently than in the first rows")
    if target is not None and target != look["target"]:
        reason = f"the plan predicts '{target}', not '{look['target']}'"
    elif task is not None and task != look["task"]:
        reason = f"the plan's task is {task}, not {look['task']}"
    if reason is None:
        return True
    retract_quick_model(ctx, f"the model from the file's first rows was removed: {reason}")
    return False
