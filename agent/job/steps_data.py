"""Graph nodes from file to plan: intake, profile, plan, clean.

Each node takes the state and the runtime context, does its step through tools, logs what it decided,
and returns a partial state update.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from langgraph.runtime import Runtime

from agent.decide.goal import goal_columns, says_hard
from agent.decide.planedit import copy_plan, drop_column, features
from agent.decide.policy import ColumnBrief, Decision, GoalBrief, TimeBrief
from agent.decide.sensitive import GoalFairness, choose_sensitive, goal_fairness
from agent.job.context import RunContext, RunState
from agent.job.steps_quick import quick_model_stands
from agent.job.steps_scale import profile_every_row, read_big_table, training_rows
from agent.record.runfolder import write_json
from tools.errors import ConfigError
from tools.intake import read_table
from tools.leakage import find_leakage
from tools.placeholders import capped_target, find_placeholders
from tools.preprocess import ColumnPlan, build_preprocessor
from tools.profile import profile_frame
from tools.screen import WIDE, screen_features
from tools.sensitive import find_sensitive
from tools.split import holdout_split
from tools.target import (
    MIN_CLASS_ROWS,
    check_target,
    encode_target,
    infer_task,
    labels_as_written,
    usable_rows,
)


def intake(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Read the file."""
    ctx = runtime.context
    s = ctx.settings
    with ctx.step("intake", file=str(s.data)):
        table = read_big_table(ctx) if s.dask else read_table(s.data, delimiter=s.delimiter, encoding=s.encoding)
        ctx.workspace["table"] = table
        ctx.manifest.update(data={"path": str(s.data), "sha256": table.sha256, "rows": table.shape[0],
                                  "columns": table.shape[1], "format": table.file_format,
                                  "encoding": table.encoding, "delimiter": table.delimiter,
                                  "decimal": table.decimal, "schema": table.schema()})
        ctx.events.emit("data_read", step="intake", rows=table.shape[0], columns=table.shape[1],
                        sha256=table.sha256, delimiter=table.delimiter, encoding=table.encoding,
                        decimal=table.decimal, notes=list(table.notes))
        for warning in table.warnings:
            ctx.events.emit("warning", step="intake", message=warning)
        quick_model_stands(ctx, state, table=table)
    return {"step": "intake"}


def profile(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Profile every column (no target yet: target-aware checks wait for the training part)."""
    ctx = runtime.context
    with ctx.step("profile"):
        prof = profile_frame(ctx.workspace["table"].frame)
        ctx.workspace["profile"] = prof
        if ctx.workspace.get("big") is not None:
            profile_every_row(ctx)
        write_json(ctx.run_dir / "profile.json", prof.to_dict())
        flagged = {c.name: list(c.flags) for c in prof.columns if c.flags}
        ctx.events.emit("profiled", step="profile", rows=prof.n_rows, columns=prof.n_columns,
                        duplicate_rows=prof.duplicate_rows, seconds=round(prof.seconds, 3), flagged=flagged)
        warnings = []
        if prof.duplicate_rows:
            warnings.append(f"{prof.duplicate_rows:,} duplicate rows: a row and its copy may land on both sides "
                            "of a split and flatter the scores a little")
            ctx.events.emit("warning", step="profile", message=warnings[-1])
    return {"step": "profile", "warnings": warnings}


def plan(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Target, task, metric, validation; split off the holdout; then the columns and the candidates."""
    ctx = runtime.context
    s = ctx.settings
    table = ctx.workspace["table"]
    frame: pd.DataFrame = table.frame
    prof = ctx.workspace["profile"]
    with ctx.step("plan"):
        brief = GoalBrief(goal=s.goal, columns=[str(c) for c in frame.columns], profile_summary=prof.summary(),
                          column_kinds={c.name: c.kind for c in prof.columns}, n_rows=len(frame),
                          forced_target=s.target, forced_task=s.task, forced_metric=s.metric,
                          profile=prof.to_dict())
        facts = {"columns": brief.columns}
        target = ctx.decider.one(lambda p: p.choose_target(brief), facts, step="plan").choice
        labels = labels_as_written(frame[target], table.columns)
        inferred, evidence = infer_task(labels)
        facts.update(target=target, target_numeric=pd.api.types.is_numeric_dtype(labels)
                     and not pd.api.types.is_bool_dtype(labels))
        task = ctx.decider.one(lambda p: p.choose_task(brief, target, inferred, evidence), facts, step="plan").choice
        info = check_target(pd.DataFrame({target: labels}), target, task, goal=s.goal,
                            overflowing=table.nonfinite.get(target, 0))
        task = info.task
        quick_model_stands(ctx, state, target=target, task=task)
        _log_target_facts(ctx, info)
        all_positive = task == "regression" and bool((labels.dropna() > 0).all())
        facts["task"] = task
        metric_decisions = ctx.decider.ask(lambda p: p.choose_metric(brief, task, {"all_positive": all_positive}),
                                           facts, step="plan")
        metric = next(d.choice for d in metric_decisions if d.question == "metric")
        rule = next(d.choice for d in metric_decisions if d.question == "threshold_rule")
        keep = usable_rows(labels, info)
        facts["usable_rows"] = int(keep.sum())
        validation = ctx.decider.one(lambda p: p.choose_validation(int(keep.sum()), task, ctx.clock.budget,
                                                                   s.folds), facts, step="plan").choice
        train_rows, hold_rows = split_rows(ctx, target, info, validation)
        ctx.events.emit("split", step="plan", train_rows=train_rows, holdout_rows=hold_rows,
                        seed=s.seed, stratified=task != "regression")
        column_plan = _plan_columns(ctx, target, task, prof)
        _note_stand_ins(ctx, frame, target, task, column_plan.features)
        n_features = len(column_plan.features)
        candidates = ctx.decider.one(lambda p: p.choose_candidates(task, train_rows, n_features,
                                                                   ctx.seconds_left()),
                                     facts, step="plan").choice
        sensitive = ctx.workspace.get("sensitive", {})
        ctx.manifest.update(plan={"target": target, "task": task, "metric": metric, "threshold_rule": rule,
                                  "dropped": column_plan.dropped, "features": column_plan.features,
                                  "sensitive": sensitive})
        time_brief = TimeBrief(budget=ctx.clock.budget, seconds_left=ctx.plan.pool(), llm_cap=ctx.plan.llm_cap,
                               n_rows=train_rows, n_features=n_features, candidates=list(candidates),
                               max_trials=s.max_trials, full_rows=training_rows(ctx))
        time_plan = ctx.decider.one(lambda p: p.choose_time_plan(time_brief), {}, step="plan")
        ctx.plan.set_weights(time_plan.choice["weights"])
    return {"step": "plan", "target": target, "task": task, "classes": info.to_dict()["classes"],
            "metric": metric, "threshold_rule": rule, "validation": validation,
            "column_plan": column_plan.to_dict(), "candidates": list(candidates), "sensitive": sensitive}


def split_rows(ctx: RunContext, target: str, info: object, validation: dict) -> tuple[int, int]:
    """Drop unusable rows and split the holdout off, into the workspace (seeded, so a resumed run gets
    the very same split). Returns the sizes of the training part and the holdout."""
    table = ctx.workspace["table"]
    labels = labels_as_written(table.frame[target], table.columns)
    keep = usable_rows(labels, info)
    X = table.frame.loc[keep].drop(columns=[target]).reset_index(drop=True)
    y_labels = labels[keep].reset_index(drop=True)
    y = encode_target(y_labels, info)
    big = ctx.workspace.get("big")
    if big is not None:  # the sample's rows held out of the whole table (see agent.job.steps_scale)
        held = big.holdout[np.asarray(keep)]
        train_idx, hold_idx = np.flatnonzero(~held), np.flatnonzero(held)
    else:
        train_idx, hold_idx = holdout_split(y, validation["holdout_share"], task=info.task, seed=ctx.settings.seed)
    ctx.workspace.items.update(X_train=X.iloc[train_idx].reset_index(drop=True), y_train=y[train_idx],
                               labels_train=y_labels.iloc[train_idx].reset_index(drop=True),
                               X_hold=X.iloc[hold_idx].reset_index(drop=True), y_hold=y[hold_idx],
                               labels_hold=y_labels.iloc[hold_idx].reset_index(drop=True), target_info=info)
    return len(train_idx), len(hold_idx)


def _log_target_facts(ctx: RunContext, info: object) -> None:
    if info.missing_rows:
        reason = (f"the target '{info.name}' is missing in {info.missing_rows:,} rows; they cannot be learned from "
                  "or scored")
        ctx.events.emit("rows_dropped", step="plan", rows=info.missing_rows, reason=reason)
        ctx.events.emit("warning", step="plan", message=f"{info.missing_rows:,} rows left out: {reason}")
    if info.rare_classes:
        listed = ", ".join(f"{label!r} ({count} rows)" for label, count in info.rare_classes.items())
        ctx.events.emit("warning", step="plan", message=(
            f"rare classes kept: {listed}, fewer than {MIN_CLASS_ROWS} rows each; the model gives them "
            "probabilities, but there are too few rows to judge those classes on the holdout"))
    for label, count in info.rare_classes.items():
        ctx.decider.record(Decision(f"rare_class:{label}", "keep",
                                    f"class {label!r} has {count} rows, fewer than {MIN_CLASS_ROWS}: kept, so the "
                                    "model gives it a probability, which leans on its share of the rows; too few to "
                                    "judge that class alone on the holdout",
                                    {"rows": count},
                                    [{"choice": "drop rows", "why_not": "its rows would get probability 0 in use, "
                                      "which log loss punishes without limit"}]), step="plan")
    if info.task == "binary":
        ctx.decider.record(Decision("positive_class", info.classes[1], info.positive_reason,
                                    {"counts": info.counts},
                                    [{"choice": info.classes[0],
                                      "why_not": f"the other label; a goal that mentions '{info.classes[0]}' makes it "
                                      "the positive class"}]), step="plan")


def _plan_columns(ctx: RunContext, target: str, task: str, prof: object) -> ColumnPlan:
    s = ctx.settings
    X_train, y_train = ctx.workspace["X_train"], ctx.workspace["y_train"]
    table = ctx.workspace["table"]
    train_frame = X_train.assign(**{target: ctx.workspace["labels_train"].to_numpy()})
    # What is left of the preparation's share, but a couple of seconds at least: a leak missed costs more.
    leak_limit = min(15.0, max(2.0, ctx.plan.remaining("prepare")))
    leakage = find_leakage(train_frame, target, task, seed=s.seed, time_limit=leak_limit)
    ctx.workspace["leakage"] = leakage
    ctx.events.emit("leakage_check", step="plan", **leakage.to_dict())
    _too_good(ctx, leakage)
    named = goal_columns(s.goal, [str(c) for c in table.frame.columns], target)
    only, phrase = (named.columns, named.phrase) if named and not named.unknown else ([], "")
    if named and named.unknown:
        ctx.events.emit("warning", step="plan", message=(
            f"the goal says which columns to use ('{named.phrase}'), but {', '.join(repr(u) for u in named.unknown)} "
            "is not a column of the table, so every usable column was used; name the columns as the table does"))
    unknown = [c for c in list(s.keep) + list(s.drop) + list(s.sensitive) + list(s.not_sensitive)
               if c not in table.frame.columns]
    if unknown:
        from tools.errors import DataError
        raise DataError(f"--keep/--drop/--sensitive/--not-sensitive name columns that are not in the data: "
                        f"{', '.join(unknown)}. Columns: {', '.join(map(str, table.frame.columns[:30]))}.")
    sensitive = _sensitive(ctx, target)
    brief = ColumnBrief.from_training(target, task, prof, leakage, X_train, y_train, keep=list(s.keep),
                                      drop=list(s.drop), inherited=dict(s.inherited), only=only, only_phrase=phrase,
                                      goal_drop=sensitive.drop)
    facts = {"columns": [str(c) for c in table.frame.columns], "target": target, "task": task}
    decisions = ctx.decider.ask(lambda p: p.choose_columns(brief), facts, step="plan")
    for d in decisions:
        if d.question.startswith("drop:") and d.choice == "keep" and d.actor != "user":
            ctx.events.emit("warning", step="plan", message=f"'{d.question[5:]}' looks like it could leak the "
                            f"target and was kept: {d.reason}")
    plan_dict = next(d.choice for d in decisions if d.question == "column_plan")
    beyond = [c for c in features(plan_dict) if only and c not in only and c not in s.keep]
    if beyond:
        ctx.events.emit("warning", step="plan", message=(
            f"the goal says which columns to use ('{phrase}'), but the plan also uses {', '.join(beyond)}"))
    if len(features(plan_dict)) > WIDE:
        plan_dict = _screen_columns(ctx, plan_dict, task)
    return ColumnPlan.from_dict(plan_dict)


def _sensitive(ctx: RunContext, target: str) -> GoalFairness:
    """Decide which columns the fairness audit compares groups by (into the workspace) and return what the
    goal said about them (the columns it keeps out of the model)."""
    s = ctx.settings
    frame = ctx.workspace["table"].frame
    columns = [str(c) for c in frame.columns]
    found = find_sensitive(frame, target=target)
    said = goal_fairness(s.goal, columns, {c.column: ",".join([c.category, *c.also]) for c in found}, target)
    decision = choose_sensitive([c.to_dict() for c in found], said, added=list(s.sensitive),
                                removed=list(s.not_sensitive), columns=columns)
    ctx.decider.record(decision, step="plan")
    ctx.workspace["sensitive"] = decision.choice
    return said


def _screen_columns(ctx: RunContext, plan: dict, task: str) -> dict:
    """On a very wide table, keep the columns with the strongest single-column link to the target (a
    decision of the policy how many); the others are dropped with their score as the reason."""
    s = ctx.settings
    used = features(plan)
    decision = ctx.decider.one(lambda p: p.choose_screen(len(used), len(ctx.workspace["X_train"]),
                                                         ctx.clock.budget), {}, step="plan")
    keep = decision.choice.get("keep")
    if keep is None or keep >= len(used):
        return plan
    always = [c for c in used if c in plan.get("datetime", []) or c in s.keep]
    screen = screen_features(ctx.workspace["X_train"], ctx.workspace["y_train"], task, keep=int(keep),
                             numeric=plan.get("numeric", []), columns=used, always=always, seed=s.seed)
    kept = set(screen.kept)
    cutoff = min((screen.scores[c] for c in screen.kept if c in screen.scores), default=0.0)
    plan = copy_plan(plan)
    for column in screen.dropped():
        drop_column(plan, column, f"screened out on a wide table: its link to the target alone (eta squared "
                                  f"{screen.scores[column]:.4f}) is weaker than the {len(kept):,} kept "
                                  f"(at least {cutoff:.4f})")
    top = sorted(screen.scores.items(), key=lambda kv: -kv[1])[:10]
    ctx.events.emit("feature_screen", step="plan", kept=len(kept), dropped=len(screen.dropped()), rows=screen.rows,
                    cutoff=cutoff, top=dict(top))
    return plan


def clean(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Build the cleaning pipelines and check them once on the training part."""
    ctx = runtime.context
    plan = ColumnPlan.from_dict(state["column_plan"])
    with ctx.step("clean"):
        X_train, y_train = ctx.workspace["X_train"], ctx.workspace["y_train"]
        sample = X_train.iloc[: min(len(X_train), 2000)]
        shapes = {}
        for encoding in ("native", "ordinal", "onehot"):
            prep = build_preprocessor(plan, encoding=encoding, task=state["task"], seed=ctx.settings.seed)
            out = prep.fit_transform(sample, y_train[: len(sample)])
            shapes[encoding] = int(out.shape[1])
        ctx.events.emit("cleaning", step="clean", features_in=len(plan.features), features_out=shapes,
                        steps=_cleaning_steps(plan),
                        note="fitted inside each training fold during selection and tuning, never on "
                             "validation or holdout rows")
    return {"step": "clean", "iterating": False}


def _cleaning_steps(plan: ColumnPlan) -> list[str]:
    steps = []
    if plan.numeric:
        steps.append(f"{len(plan.numeric)} numeric: kept with gaps for trees; median-imputed and scaled "
                     "for the linear model")
    if plan.missing_indicators:
        steps.append(f"missing-value indicators for {', '.join(plan.missing_indicators)}")
    if plan.boolean:
        steps.append(f"{len(plan.boolean)} boolean: as 0/1")
    if plan.categorical:
        steps.append(f"{len(plan.categorical)} categorical: native categories (boosting), ordinal codes "
                     "(forests), one-hot (linear); levels seen fewer than 5 times grouped")
    if plan.high_cardinality:
        steps.append(f"{len(plan.high_cardinality)} with many levels ({', '.join(plan.high_cardinality)}): "
                     "target encoding with internal cross-fitting")
    for col, parts in plan.datetime_parts.items():
        steps.append(f"date '{col}': {', '.join(parts)}")
    return steps


def rebuild(ctx: RunContext, state: RunState, *, sha256: str) -> None:
    """Read the data again, profile it and redo the seeded split the saved ``state`` was made on (a
    resumed run); the file must be the bytes the run started from.

    Raises:
        ConfigError: the file changed since the run started.
    """
    s = ctx.settings
    table = read_big_table(ctx) if s.dask else read_table(s.data, delimiter=s.delimiter, encoding=s.encoding)
    if table.sha256 != sha256:
        raise ConfigError(f"'{s.data}' changed since the run started (its sha256 differs); it cannot be resumed. "
                          "Start a new run on the new data.")
    ctx.workspace["table"] = table
    ctx.workspace["profile"] = profile_frame(table.frame)
    if s.dask:  # the same seeded sample and marks as before; the profile of every row types the big frame
        profile_every_row(ctx)
    if "target" in state and "validation" in state:
        labels = labels_as_written(table.frame[state["target"]], table.columns)
        info = check_target(pd.DataFrame({state["target"]: labels}), state["target"], state["task"], goal=s.goal)
        split_rows(ctx, state["target"], info, state["validation"])


def _note_stand_ins(ctx: RunContext, frame: pd.DataFrame, target: str, task: str, features: list[str]) -> None:
    """Warn about values that stand for something else: placeholders in the features the model uses, and a
    regression target capped at its maximum."""
    for p in find_placeholders(frame[[c for c in features if c in frame.columns]]):
        ctx.events.emit("warning", step="plan", message=(
            f"column '{p['column']}': {p['value']:g} in {p['rows']:,} rows ({p['share']:.0%}) looks like a placeholder "
            f"(for 'none' or 'missing'), not a quantity: {p['why']}. Tree models use it as it is; read statistics "
            "and linear effects of this column with that in mind"))
    if task == "regression":
        cap = capped_target(frame[target])
        if cap:
            ctx.events.emit("warning", step="plan", message=(
                f"the target '{target}' looks capped at {cap['value']:g}: {cap['rows']:,} rows ({cap['share']:.1%}) "
                f"hold exactly that value (no other value appears more than {cap['next_most_common']:,} times), so "
                "true values above it were recorded as the cap; predictions near it are censored"))


# A quick model near these scores on a problem its owner calls hard is more likely a leak than a discovery.
TOO_GOOD = {"roc_auc": 0.98, "r2": 0.95}


def _too_good(ctx: RunContext, leakage: object) -> None:
    """Warn when the leakage check's quick model is near-perfect although the goal calls the problem hard."""
    hard = says_hard(ctx.settings.goal)
    full = leakage.full_score
    if hard is None or full is None or full < TOO_GOOD.get(leakage.metric, 1.0):
        return
    if any(s.severity == "strong" for s in leakage.suspects):  # explained, and dropped
        return
    strongest = sorted(leakage.single_column_scores.items(), key=lambda kv: -kv[1])[:3]
    ctx.events.emit("warning", step="plan", message=(
        f"too good to be true? The goal calls the problem {hard!r}, yet a quick model on all columns scores "
        f"{leakage.metric} {full:.3f} out of fold. Check that the strongest columns ("
        + ", ".join(f"{name} {score:.3f}" for name, score in strongest)
        + ") are known when a prediction is made; --drop removes one"))

