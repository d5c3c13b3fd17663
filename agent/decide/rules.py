"""The deterministic expert policy: good decisions with no network, and the fallback for the LLM.

Each method answers one question from its brief and says why, on what evidence, instead of what. It is
one class of a little over 400 lines because it is the `Policy` protocol's one full implementation: a
reader compares it question by question with the LLM policy and the guard.
"""

from __future__ import annotations

import math
from typing import Any

from agent.decide.goal import (
    column_words,
    conventional_targets,
    match_target,
    metric_intent,
    parse_budget,
)
from agent.decide.policy import (
    ColumnBrief,
    Decision,
    FinalBrief,
    GoalBrief,
    QuickLookBrief,
    SampleBrief,
    SelectionBrief,
    TimeBrief,
)
from agent.settings import DEFAULT_BUDGET
from agent.timing.timeplan import DEFAULT_WEIGHTS, LABELS
from tools.candidates import CANDIDATES
from tools.errors import DataError
from tools.metrics import DEFAULT_METRIC, get_metric
from tools.preprocess import HIGH_CARDINALITY, ROLES
from tools.target import require_column
from tools.tasks import TASKS
from tools.threshold import describe_rule

MIN_SAMPLE = 10_000
MIN_TUNING_TRIALS = 8
PACE_MARGIN = 2.0
SCREEN_PER_SECOND = 4.0
MIN_INDICATOR_MISSING = 0.05
MAX_TUNED = 3
CATBOOST_MAX_ROWS = 100_000
CATBOOST_MIN_SECONDS = 25.0
# Up to this many training rows the final model averages its fold models (k-fold bagging) instead of one
# refit, when the time left allows it: each fold model misses a fifth of the rows, which matters less than
# the variance averaging removes on small tables; above it one fit on all rows is as good and k - 1 times
# cheaper.
BAG_MAX_ROWS = 10_000
# Reading, profiling and planning cost about this much per MB of CSV on a 2-core machine (1M x 50, 430 MB:
# 9 s; 50k x 2,000, 640 MB: 17 s). A quick look costs about 2 s itself, so below QUICK_LOOK_MIN_MB it gains
# nothing; above it, it pays when the preparation would pass QUICK_LOOK_SHARE of the budget.
PREPARE_SECONDS_PER_MB = 0.02
QUICK_LOOK_MIN_MB = 100.0
QUICK_LOOK_SHARE = 0.08


class RulePolicy:
    """Deterministic rules. ``name`` is the actor recorded on its decisions."""

    name = "rules"

    # ---- budget and goal ---------------------------------------------------------------------------

    def choose_budget(self, goal: str, given: float | None) -> Decision:
        from_goal, phrase = parse_budget(goal)
        if given is not None:
            alts = ([{"choice": from_goal, "why_not": "the --budget option wins over the goal text"}]
                    if from_goal and from_goal != given else [])
            return Decision("budget", given, f"--budget {given:g} seconds was given", {"option": given}, alts)
        if from_goal is not None:
            return Decision("budget", from_goal, f"the goal says '{phrase}'", {"phrase": phrase},
                            [{"choice": DEFAULT_BUDGET, "why_not": "the default applies only when nothing is said"}])
        return Decision("budget", DEFAULT_BUDGET, f"no budget given (--budget or a phrase like 'in 5 minutes'); "
                        f"the default is {DEFAULT_BUDGET:g} seconds", {})

    def choose_target(self, brief: GoalBrief) -> Decision:
        if brief.forced_target:
            require_column(brief.columns, brief.forced_target)
            return Decision("target", brief.forced_target, "--target was given", {"option": brief.forced_target})
        matches = match_target(brief.goal, brief.columns)
        conventional = conventional_targets(brief.columns)
        strong = [m for m in matches if m.score >= 0.9]
        if strong or (matches and len(conventional) != 1):
            best = (strong or matches)[0]
            alts = [{"choice": m.column, "why_not": f"weaker match ({m.score:.2f} vs {best.score:.2f}): {m.why}"}
                    for m in matches[1:4]]
            return Decision("target", best.column, best.why + "; it is the thing to predict",
                            {"match_score": best.score, "goal": brief.goal}, alts)
        if len(conventional) == 1:
            # A word shared with a feature's name ("credit" in credit_amount) is weaker evidence than a
            # column named like a target by convention.
            alts = [{"choice": m.column, "why_not": f"only part of its name is in the goal ({m.why})"}
                    for m in matches[:3]]
            return Decision("target", conventional[0],
                            f"the goal names no column in full; '{conventional[0]}' is named like a target by "
                            "convention", {"goal": brief.goal}, alts)
        listing = ", ".join(brief.columns[:30])
        raise DataError("Could not tell which column to predict: the goal "
                        f"{'is empty' if not brief.goal else repr(brief.goal) + ' names none of the columns'}. "
                        f"Pass --target with one of: {listing}.")

    def choose_task(self, brief: GoalBrief, target: str, inferred: str, evidence: dict) -> Decision:
        if brief.forced_task:
            kind = brief.column_kinds.get(target)
            if brief.forced_task == "regression" and kind is not None and kind not in ("numeric",):
                raise DataError(f"The target column '{target}' holds {kind} values, so it cannot be a regression "
                                "target. Use --task binary or multiclass, or another target.")
            alt = [] if brief.forced_task == inferred else [{"choice": inferred, "why_not": "--task overrides it"}]
            return Decision("task", brief.forced_task, "--task was given", evidence, alt)
        others = [t for t in TASKS if t != inferred]
        why = {"binary": "the target has two distinct values",
               "multiclass": "the target has a few distinct labels",
               "regression": "the target is a numeric quantity with many distinct values"}[inferred]
        alts = [{"choice": t, "why_not": f"does not fit {evidence.get('distinct_values')} distinct "
                 f"{'integer ' if evidence.get('integer_valued') else ''}values"} for t in others]
        if inferred == "multiclass" and evidence.get("integer_valued"):
            alts = [{"choice": "regression", "why_not": "few integer levels: treated as classes; "
                     "use --task regression to predict it as a number"}]
        return Decision("task", inferred, why + f" ({evidence.get('rule')})", evidence, alts)

    def choose_metric(self, brief: GoalBrief, task: str, target_info: dict) -> list[Decision]:
        allows_mape = target_info.get("all_positive", False)
        if brief.forced_metric:
            metric = get_metric(brief.forced_metric, task).name
            rule = default_threshold_rule(metric, task)
            return [Decision("metric", metric, "--metric was given", {"option": brief.forced_metric}),
                    Decision("threshold_rule", rule, _rule_reason(rule, metric, task), {"metric": metric})]
        intent = metric_intent(brief.goal, task)
        default = DEFAULT_METRIC[task]
        if intent is not None and intent.metric == "mape" and not allows_mape:
            intent = None
            default_reason = ("the goal asks for percentage error, but the target has zero or negative values, "
                              "where it is undefined; using RMSE")
        else:
            default_reason = ""
        if intent is not None:
            metric = intent.metric
            rule = intent.threshold_rule if task == "binary" else None
            if task == "binary" and rule is None:
                rule = default_threshold_rule(metric, task)
            alts = intent.alternatives or [{"choice": default, "why_not": f"the default for {task}, "
                                            "but the goal asks for something more specific"}]
            return [Decision("metric", metric, intent.why, {"phrase": intent.phrase, "threshold_rule": rule}, alts),
                    Decision("threshold_rule", rule, _rule_reason(rule, metric, task, intent.phrase),
                             {"phrase": intent.phrase})]
        reason = default_reason or {
            "binary": "no scoring preference in the goal; ROC AUC is the default for two classes: it compares "
                      "how well models rank cases, whatever threshold is used later",
            "multiclass": "no scoring preference in the goal; log loss is the default for several classes: it "
                          "rewards confident correct probabilities for every class",
            "regression": "no scoring preference in the goal; RMSE is the default for numbers, in the target's "
                          "units, weighing large errors more",
        }[task]
        alternatives = {"binary": [{"choice": "pr_auc", "why_not": "better when positives are rare; say "
                                    "'recall matters' or 'avoid false alarms' to steer it"},
                                   {"choice": "accuracy", "why_not": "depends on one threshold"}],
                        "multiclass": [{"choice": "balanced_accuracy", "why_not": "say 'every class matters' "
                                        "to weigh rare classes equally"}, {"choice": "accuracy", "why_not":
                                        "hides poor rare-class performance"}],
                        "regression": [{"choice": "mae", "why_not": "say 'error in dollars' for typical error"},
                                       {"choice": "mape", "why_not": "say 'percentage error' for relative error"}]}[task]
        rule = default_threshold_rule(default, task)
        return [Decision("metric", default, reason, {"goal": brief.goal}, alternatives),
                Decision("threshold_rule", rule, _rule_reason(rule, default, task), {})]

    # ---- time ----------------------------------------------------------------------------------------

    def choose_time_plan(self, brief: TimeBrief) -> Decision:
        weights = {s: w for s, w in DEFAULT_WEIGHTS.items() if s != "prepare" and w > 0}
        notes = []
        if len(brief.candidates) <= 2:
            weights.update(select=0.18, tune=0.44)
            notes.append(f"only {len(brief.candidates)} candidate(s) to compare, so more for tuning")
        if brief.max_trials == 0:
            weights["tune"] = 0.01
            notes.append("--max-trials 0: no tuning")
        cells = brief.n_rows * max(brief.n_features, 1)
        if cells > 5_000_000:
            # On big tables selection and tuning work on samples; the final fit is where all rows pay off.
            weights.update(first_model=0.14, final=0.20, tune=weights["tune"] - 0.14)
            notes.append(f"{brief.n_rows:,} rows x {brief.n_features:,} features: selection and tuning on "
                         "samples, more for the final fit on as many rows as it allows")
        if brief.full_rows:
            # Selection and tuning see the sample; the fit on every row reads the whole table again (and,
            # per round, walks every row), so it gets the largest share.
            weights["scale"] = 0.45
            notes.append(f"the final LightGBM learns from all {brief.full_rows:,} training rows with Dask")
        total = sum(weights.values())
        planned = {s: round(brief.seconds_left * w / total, 1) for s, w in weights.items()}
        reason = (f"{brief.seconds_left:.0f} s left to share after preparing: "
                  + ", ".join(f"{LABELS[s]} {planned[s]:g} s" for s in planned)
                  + (f"; the language model may take up to {brief.llm_cap:.0f} s of the budget "
                     "beside them" if brief.llm_cap else "")
                  + (f" ({'; '.join(notes)})" if notes else "")
                  + ". Re-planned as each step finishes: time a step leaves goes to the later ones")
        return Decision("time_plan", {"weights": weights}, reason,
                        {"budget": brief.budget, "seconds_left": round(brief.seconds_left, 1),
                         "planned_seconds": planned, "llm_cap": round(brief.llm_cap, 1)},
                        [{"choice": "fixed shares of the budget", "why_not": "a step that finishes early "
                          "would leave its time unused, and one that overruns would eat the next"}])

    def choose_screen(self, n_features: int, n_rows: int, budget: float) -> Decision:
        keep = int(min(n_features, max(100, SCREEN_PER_SECOND * budget)))
        evidence = {"features": n_features, "rows": n_rows, "budget": budget}
        if keep >= n_features:
            return Decision("feature_screen", {"keep": None}, f"all {n_features:,} features: {budget:.0f} s is "
                            f"enough to compare and tune models on every one of them", evidence)
        return Decision("feature_screen", {"keep": keep},
                        f"{n_features:,} features are more than {budget:.0f} s can compare and tune models on: the "
                        f"{keep:,} with the strongest link to the target alone (eta squared on deciles or levels) "
                        f"are kept, about {SCREEN_PER_SECOND:g} per second of budget; the rest are dropped, each "
                        "with its score", evidence,
                        [{"choice": {"keep": None}, "why_not": "every model fit would cost many times more: the "
                          "first model and selection would not finish in the budget"}])

    def choose_quick_look(self, brief: QuickLookBrief) -> Decision:
        prepare = PREPARE_SECONDS_PER_MB * brief.file_mb
        evidence = {"file_mb": round(brief.file_mb, 1), "prepare_estimate": round(prepare, 1),
                    "budget": brief.budget}
        if brief.file_mb < QUICK_LOOK_MIN_MB or prepare <= QUICK_LOOK_SHARE * brief.budget:
            return Decision("quick_look", False, f"reading and planning {brief.file_mb:.0f} MB should take about "
                            f"{prepare:.1f} s of the {brief.budget:g} s budget, so the first model comes early anyway",
                            evidence)
        return Decision("quick_look", True,
                        f"reading and planning {brief.file_mb:.0f} MB should take about {prepare:.0f} s of the "
                        f"{brief.budget:g} s budget, so a model is fitted on the file's first rows first: a run "
                        "stopped early still has one, which the first model on all the data replaces", evidence,
                        [{"choice": False, "why_not": "a run stopped while the file is read would have no model"}])

    def choose_sample(self, brief: SampleBrief) -> Decision:
        k = max(brief.folds, 2)
        # One cross-validation of a default LightGBM costs about (k - 1) fits of all the sample's rows;
        # smaller fits cost more per row (fixed costs per fit), hence the margin.
        lead = brief.seconds_per_row * (k - 1) * PACE_MARGIN
        relative = sum(CANDIDATES[c].cost for c in brief.candidates) / CANDIDATES["lightgbm"].cost
        for_select = brief.select_seconds / max(lead * relative, 1e-9)
        # Pruning stops most poor trials after a fold or two.
        for_tune = brief.tune_seconds / max(MIN_TUNING_TRIALS * lead * 0.7, 1e-9)
        rows = int(min(brief.n_rows, max(min(MIN_SAMPLE, brief.n_rows), min(for_select, for_tune))))
        evidence = {"rows": brief.n_rows, "seconds_per_row": brief.seconds_per_row,
                    "select_estimate": round(min(rows, brief.n_rows) * lead * relative, 2),
                    "select_seconds": round(brief.select_seconds, 1), "tune_seconds": round(brief.tune_seconds, 1),
                    "rows_for_selection": int(for_select), "rows_for_tuning": int(for_tune)}
        pace = f"a default LightGBM fit took {brief.seconds_per_row * 10_000:.2g} s per 10,000 rows"
        if rows >= brief.n_rows:
            return Decision("sample", {"rows": brief.n_rows},
                            f"all {brief.n_rows:,} training rows: {pace}, so selection ({brief.select_seconds:.0f} s) "
                            f"and tuning ({brief.tune_seconds:.0f} s) can afford every row", evidence)
        return Decision("sample", {"rows": rows},
                        f"selection and tuning on {rows:,} of the {brief.n_rows:,} training rows: {pace}, so "
                        f"{k}-fold cross-validation of {len(brief.candidates)} candidate(s) fits in "
                        f"{brief.select_seconds:.0f} s and tuning gets at least {MIN_TUNING_TRIALS} trials in "
                        f"{brief.tune_seconds:.0f} s; the final fit then uses as many rows as its share allows",
                        evidence, [{"choice": {"rows": brief.n_rows}, "why_not": "one fit of each candidate on every "
                                    "row would take most of the budget, leaving no comparison or tuning"}])

    # ---- validation and columns --------------------------------------------------------------------

    def choose_validation(self, n_rows: int, task: str, budget: float, forced_folds: int | None) -> Decision:
        holdout = 0.2 if n_rows <= 250_000 else round(50_000 / n_rows, 4)
        train_rows = int(n_rows * (1 - holdout))
        if forced_folds:
            folds, why = forced_folds, "--folds was given"
        elif budget < 30 or train_rows >= 10_000:
            folds, why = 3, ("a short budget favours 3 folds" if budget < 30 else
                             f"with {train_rows:,} training rows each of 3 folds validates on thousands of rows, "
                             "stable enough, and leaves more time for tuning")
        else:
            folds, why = 5, "5 folds give a stable estimate at this size"
        kind = "stratified" if task != "regression" else "shuffled"
        reason = (f"{holdout:.0%} of the rows are held out, untouched until the final evaluation; {kind} "
                  f"{folds}-fold cross-validation on the rest compares and tunes models ({why})")
        return Decision("validation", {"holdout_share": holdout, "folds": folds, "stratified": task != "regression"},
                        reason, {"rows": n_rows, "budget": budget},
                        [{"choice": "no holdout", "why_not": "cross-validation scores used for selection are "
                          "optimistic; an untouched holdout gives an honest estimate"}])

    def choose_columns(self, brief: ColumnBrief) -> list[Decision]:
        decisions: list[Decision] = []
        columns = {c["name"]: c for c in brief.profile["columns"] if c["name"] != brief.target}
        suspects = {s["column"]: s for s in brief.leakage.get("suspects", [])}
        plan: dict[str, Any] = {**{role: [] for role in ROLES}, "datetime_parts": {}, "missing_indicators": [],
                                "dropped": {}}
        for name, col in columns.items():
            reason, evidence, alts = self._drop_reason(name, col, suspects.get(name), brief)
            if reason is not None:
                plan["dropped"][name] = reason
                decisions.append(Decision(f"drop:{name}", "drop", reason, evidence, alts))
                continue
            if name in suspects:
                s = suspects[name]
                if name in brief.keep:
                    decisions.append(Decision(f"drop:{name}", "keep",
                                              f"flagged as a possible leak ({s['reason']}) but kept because you "
                                              "asked with --keep", s.get("evidence", {}),
                                              [{"choice": "drop", "why_not": "overridden by --keep"}], actor="user"))
                else:
                    decisions.append(Decision(
                        f"drop:{name}", "keep",
                        f"flagged as a possible leak ({s['reason']}) but kept: nothing in its name says it is only "
                        f"known after the outcome, and it may simply be the strongest feature. If it is only known "
                        f"afterwards, rerun with --drop {name}", {**s.get("evidence", {}), "rule": s.get("rule")},
                        [{"choice": "drop", "why_not": "would throw away what may be a legitimate strong feature"}]))
            kind = col["kind"]
            if kind == "numeric":
                plan["numeric"].append(name)
            elif kind == "boolean":
                plan["boolean"].append(name)
            elif kind == "datetime":
                plan["datetime"].append(name)
                plan["datetime_parts"][name] = _datetime_parts(brief.datetime_info.get(name, {}))
            elif col["n_unique"] > HIGH_CARDINALITY:
                plan["high_cardinality"].append(name)
            else:
                plan["categorical"].append(name)
        indicators = {c: s for c, s in brief.missing_signal.items() if s.get("signal") and c in plan["numeric"]}
        plan["missing_indicators"] = sorted(indicators)
        if indicators:
            decisions.append(Decision("missing_indicators", sorted(indicators),
                                      "where a value is missing the target behaves differently, so models that "
                                      "fill gaps also get a missing-value indicator for these columns",
                                      {c: s for c, s in indicators.items()},
                                      [{"choice": "impute only", "why_not": "would hide that the gap itself predicts"}]))
        kept = len(plan["numeric"]) + len(plan["boolean"]) + len(plan["categorical"]) + \
            len(plan["high_cardinality"]) + len(plan["datetime"])
        if not kept:
            why = "; ".join(f"'{name}': {text.split(':')[0]}" for name, text in list(plan["dropped"].items())[:12])
            raise DataError(f"Nothing is left to learn from: every column besides the target '{brief.target}' was "
                            f"dropped ({why}). Add columns that describe the rows, or keep one with --keep COLUMN "
                            "if it is not what it looks like.")
        reason = (f"{kept} columns kept: {len(plan['numeric'])} numeric, {len(plan['boolean'])} boolean, "
                  f"{len(plan['categorical'])} categorical with at most {HIGH_CARDINALITY} levels (one-hot for "
                  f"linear models, native categories for boosting), {len(plan['high_cardinality'])} with many "
                  f"levels (target-encoded inside folds), {len(plan['datetime'])} dates (split into parts); "
                  f"{len(plan['dropped'])} dropped")
        decisions.append(Decision("column_plan", plan, reason, {"columns": len(columns)},
                                  [{"choice": "use every column", "why_not": "identifiers, constants and leaks "
                                    "hurt or flatter the model"}]))
        return decisions

    def _drop_reason(self, name: str, col: dict, suspect: dict | None,
                     brief: ColumnBrief) -> tuple[str | None, dict, list[dict]]:
        evidence = {k: col.get(k) for k in ("kind", "missing_share", "n_unique", "unique_share")}
        if name in brief.drop:
            return "you asked to drop it (--drop)", evidence, []
        if name in brief.goal_drop and name not in brief.keep:
            return (f"the goal says not to use it ('{brief.goal_drop[name]}'); the fairness audit still compares "
                    "the model's results across its groups", evidence,
                    [{"choice": "keep", "why_not": "the goal rules it out; --keep would overrule it"}])
        if brief.only and name not in brief.only and name not in brief.keep:
            return (f"the goal says which columns to use ('{brief.only_phrase}'), and this is not one of them",
                    evidence, [{"choice": "keep", "why_not": "the goal names the columns to use; --keep adds one"}])
        if name in brief.only:
            return None, evidence, []
        if name in brief.inherited and name not in brief.keep:
            return f"dropped as in the parent run ({brief.inherited[name]})", evidence, []
        if name in brief.keep:
            return None, evidence, []
        if col["constant"]:
            return ("constant: it has a single value" if col["missing_share"] < 1 else "empty: every value is missing",
                    evidence, [])
        if suspect is not None and _clear_leak(name, suspect):
            severity = "almost surely" if suspect["severity"] == "strong" else "probably"
            return (f"{severity} leaks the target: {suspect['reason']} If it is known at prediction time, "
                    f"keep it with --keep {name}", {**evidence, **suspect.get("evidence", {}),
                                                    "score_alone": suspect.get("score_alone"),
                                                    "rule": suspect.get("rule")},
                    [{"choice": "keep", "why_not": "a model that relies on information from after the outcome "
                      "looks excellent in testing and fails in use"}])
        if col["id_like"]:
            flags = "; ".join(col.get("flags", [])) or "unique per row"
            return (f"identifier ({flags}): it names rows rather than describing them, so it cannot generalise",
                    evidence, [{"choice": "keep", "why_not": "a model would memorise row ids"}])
        if col["free_text"]:
            return ("free text: mlpilot does not model text yet, and as categories it would be unique per row",
                    evidence, [{"choice": "target-encode", "why_not": "almost every value is unique"}])
        if col["near_constant"] and col["kind"] != "numeric" and col["n_unique"] <= 2:
            minority = 1.0 - (col["top_values"][0][1] / max(1, sum(c for _, c in col["top_values"])))
            if minority * brief.profile["n_rows"] < 10:
                return ("nearly constant: fewer than 10 rows differ from the main value, too few to learn from",
                        evidence, [])
        return None, evidence, []

    # ---- models ------------------------------------------------------------------------------------

    def choose_candidates(self, task: str, n_rows: int, n_features: int, seconds_left: float) -> Decision:
        names = list(CANDIDATES)
        dropped: dict[str, str] = {}
        if n_rows > CATBOOST_MAX_ROWS:
            dropped["catboost"] = "CatBoost is slow on this many rows; LightGBM covers boosting"
        elif seconds_left < CATBOOST_MIN_SECONDS:
            dropped["catboost"] = (f"only {seconds_left:.0f} s left: a CatBoost fit costs several LightGBM fits, "
                                   "which go further in so little time")
        if n_rows > 200_000:
            dropped.update({n: "forests are slow on this many rows" for n in ("random_forest", "extra_trees")})
        if seconds_left < 15:
            dropped.update({n: f"only {seconds_left:.0f} s left: the cheapest strong models first"
                            for n in ("random_forest", "extra_trees", "hist_gb")})
            dropped["xgboost"] = (f"only {seconds_left:.0f} s left: a second fast booster would take half of "
                                  "LightGBM's few fits")
        chosen = [n for n in names if n not in dropped]
        reason = ("four boosting implementations (LightGBM, XGBoost with its depth-wise trees, scikit-learn's, "
                  "CatBoost with its symmetric trees, strong on small tables), two forests and a regularised linear "
                  "model cover the usual winners on tables, from cheap to expensive")
        if dropped:
            reason = (f"the usual {len(names)} candidates less {', '.join(dropped)} "
                      f"({'; '.join(dict.fromkeys(dropped.values()))})")
        return Decision("candidates", chosen, reason,
                        {"rows": n_rows, "features": n_features, "seconds_left": round(seconds_left, 1)},
                        [{"choice": n, "why_not": why} for n, why in dropped.items()])

    def choose_tuning(self, brief: SelectionBrief) -> Decision:
        board = [r for r in brief.leaderboard if r.get("mean") is not None and r.get("folds", 0) > 0]
        if not board:
            return Decision("tuning", {"shares": {}}, "no candidate finished selection; nothing to tune", {})
        sign = 1 if brief.greater_is_better else -1
        board.sort(key=lambda r: -sign * r["mean"])
        leader = board[0]
        se = leader["sd"] / math.sqrt(max(leader["folds"], 1))
        margin = max(2 * se, abs(leader["mean"]) * 0.01)
        contenders = [r for r in board if sign * (leader["mean"] - r["mean"]) <= margin][:MAX_TUNED]
        within = len(contenders)
        if within == 1 and len(board) > 1:
            contenders.append(board[1])
        weights = [0.5] + [0.5 / (len(contenders) - 1)] * (len(contenders) - 1) if len(contenders) > 1 else [1.0]
        shares = {r["candidate"]: round(w, 3) for r, w in zip(contenders, weights)}
        others = [{"choice": r["candidate"], "why_not": _not_tuned(r, leader, margin, sign) + _partial(r, brief.folds)}
                  for r in board if r["candidate"] not in shares]
        shown = {r["candidate"] for r in board}
        others += [{"choice": r["candidate"], "why_not": _cut_short(r)}
                   for r in [*brief.leaderboard, *brief.cut] if r["candidate"] not in shown]
        cut_tuned = [f"{r['candidate']} ({_cut_how(r, brief.folds)})" for r in contenders
                     if not r.get("complete", True)]
        evidence = {"leaderboard": board[:6], "margin": margin}
        runner_up = ""
        if len(contenders) > within:
            evidence["runner_up_gap"] = sign * (leader["mean"] - board[1]["mean"])
            runner_up = (f", and the runner-up {board[1]['candidate']} ({evidence['runner_up_gap']:.4f} behind) so "
                         "that tuning can still change the order")
        reason = (f"{leader['candidate']} leads ({leader['mean']:.4f} +- {leader['sd']:.4f}); tuning the "
                  f"{within} candidate(s) within {margin:.4f} of it (twice its standard error, or 1%){runner_up}, "
                  f"half the trials to the leader; about {brief.tune_seconds:.0f} s, re-planned as trials finish")
        if cut_tuned:
            reason += (f". The clock cut the selection of {', '.join(cut_tuned)}, so their scores are rough; "
                       "tuning scores them in full")
        return Decision("tuning", {"shares": shares}, reason, evidence, others)

    def choose_final(self, brief: FinalBrief) -> Decision:
        m, ensemble = get_metric(brief.metric), brief.ensemble
        best = brief.leaderboard[0]
        single = {"kind": "single", "candidate": best["candidate"]}
        if ensemble is None:
            return Decision("final_model", single, f"{best['candidate']} has the best cross-validated "
                            f"{m.label} ({best['mean']:.4f}); no blend with the other candidates scores better out of fold",
                            {"best": best})
        se = best["sd"] / math.sqrt(max(best["folds"], 1))
        gain = m.oriented(ensemble["score"]) - m.oriented(ensemble["best_single_score"])
        noise = 0.1 * se
        evidence = {"ensemble": ensemble, "best_single": best, "gain": gain, "standard_error": se, "noise": noise}
        if gain > noise and gain > 0:
            return Decision("final_model", {"kind": "ensemble", "weights": ensemble["weights"]},
                            f"a weighted average of {_configurations(ensemble['weights'])} scores "
                            f"{ensemble['score']:.4f} out of fold against {ensemble['best_single_score']:.4f} for "
                            f"{_configuration(ensemble['best_single'])} alone", evidence,
                            [{"choice": single, "why_not": "scores lower out of fold"}])
        return Decision("final_model", single, f"{best['candidate']} alone: the best ensemble gains only "
                        f"{gain:.5f}, within the noise ({noise:.5f})", evidence,
                        [{"choice": {"kind": "ensemble", "weights": ensemble["weights"]},
                          "why_not": "gain too small to justify a larger model"}])

    def choose_bagging(self, n_train: int, n_rows: int, smallest_class: int, folds: int, seconds: float,
                       seconds_left: float) -> Decision:
        evidence = {"training_rows": n_train, "rows_cross_validated": n_rows, "smallest_class": smallest_class,
                    "folds": folds, "seconds_estimate": round(seconds, 2), "seconds_left": round(seconds_left, 2)}
        refit = {"choice": 0, "why_not": "one model on all rows varies more from sample to sample on a small "
                 "table than the average of the fold models"}
        bag = {"choice": folds, "why_not": ""}
        if n_train > BAG_MAX_ROWS or n_rows < n_train:
            bag["why_not"] = (f"with {n_train:,} training rows one fit on all of them is as good and "
                              f"{max(folds - 1, 1)} times cheaper")
            return Decision("bagging", 0, f"one fit on all rows: {bag['why_not']}", evidence, [bag])
        if smallest_class < 2:
            bag["why_not"] = "a class has a single row, so one fold model would never see it"
            return Decision("bagging", 0, f"one fit on all rows: {bag['why_not']}", evidence, [bag])
        if seconds > seconds_left:
            bag["why_not"] = (f"the fold models of the leaders would take about {seconds:.0f} s, and the final "
                              f"fit has {seconds_left:.0f} s")
            return Decision("bagging", 0, f"one fit on all rows: {bag['why_not']}", evidence, [bag])
        return Decision("bagging", folds, f"the final model averages the {folds} fold models of each member, each "
                        f"early-stopped on its own fold, as cross-validation scored them: on {n_train:,} rows "
                        "averaging steadies the model more than the fifth of the rows each misses costs it",
                        evidence, [refit])

    def choose_refit(self, refit_seconds: float, seconds_left: float, interrupted: bool) -> Decision:
        evidence = {"refit_seconds_estimate": round(refit_seconds, 2), "seconds_left": round(seconds_left, 2)}
        if interrupted:
            return Decision("refit", False, "the run was stopped: the model fitted on the training part is kept "
                            "as is", evidence)
        if refit_seconds * 1.3 < seconds_left:
            return Decision("refit", True, f"refit on all rows (training part + holdout): more data makes a "
                            f"better model, and the holdout has already given its honest score (about "
                            f"{refit_seconds:.1f} s needed, {seconds_left:.1f} s left)", evidence,
                            [{"choice": False, "why_not": "would waste the holdout rows"}])
        return Decision("refit", False, f"not enough time left to refit on all rows (about {refit_seconds:.1f} s "
                        f"needed, with a 30% margin; {seconds_left:.1f} s left); the model fitted on the training "
                        "part is kept", evidence, [{"choice": True, "why_not": "would break the time budget"}])


def _configuration(name: str) -> str:
    """A pool entry in words: ``lightgbm#12`` is trial 12 of LightGBM's study, a bare name its defaults."""
    return name.replace("#", " trial ") if "#" in name else f"{name} defaults"


def _configurations(weights: dict[str, int]) -> str:
    return f"{len(weights)} configurations ({', '.join(map(_configuration, weights))})"


# Words naming things known only once the outcome is known: how long it lasted, what it came to in the
# end, how it was settled. A suspect column whose name holds one is treated as a leak.
AFTER_THE_FACT = frozenset("""duration length total sum final outcome result status resolution resolved
settled settlement closed closing paid payout refund refunded charged billed end ended after post outcome
response responded converted churned cancelled canceled returned""".split())


def _clear_leak(name: str, suspect: dict) -> bool:
    """A suspect is dropped when it is near-certain, rebuilds the target arithmetically, or is named like
    something known only after the outcome; otherwise it is kept with a warning."""
    if suspect.get("severity") == "strong" or suspect.get("rule") == "reconstructs_target":
        return True
    return bool(AFTER_THE_FACT & set(column_words(name)))


def default_threshold_rule(metric: str, task: str) -> dict | None:
    """The threshold rule that goes with a metric (binary tasks; None otherwise)."""
    if task != "binary":
        return None
    return {"accuracy": {"kind": "max_accuracy"}, "balanced_accuracy": {"kind": "max_balanced_accuracy"},
            "log_loss": {"kind": "fixed", "value": 0.5}, "brier": {"kind": "fixed", "value": 0.5},
            "precision": {"kind": "min_precision", "value": 0.8},
            "recall": {"kind": "min_recall", "value": 0.8}}.get(metric, {"kind": "max_f1"})


def _rule_reason(rule: dict | None, metric: str, task: str, phrase: str = "") -> str:
    if task == "regression":
        return "a regression predicts values: no decision threshold"
    if task != "binary":
        return "several classes: each row gets its most probable class"
    source = f"the goal says '{phrase}'" if phrase else f"it matches the metric ({metric})"
    return f"{describe_rule(rule)}, chosen on out-of-fold predictions of the training part; {source}"


def _datetime_parts(info: dict) -> list[str]:
    parts = ["month", "day_of_week", "day"]
    if info.get("years", 1) > 1:
        parts.insert(0, "year")
    if info.get("has_time"):
        parts.append("hour")
    return parts


def _cut_short(row: dict) -> str:
    """Why a candidate without a score is not tuned: it failed, or the clock cut it before a fold finished."""
    if row.get("failed"):
        return f"it failed in selection ({row['failed'][:160]})"
    return "no cross-validation score: its selection was cut by time before a fold finished"


def _cut_how(row: dict, planned: int) -> str:
    """How the clock cut a candidate's selection: folds left unscored, or fits stopped early on every fold."""
    return f"{row['folds']} of {planned} folds" if row["folds"] < planned else "fits stopped early"


def _partial(row: dict, planned: int) -> str:
    """A note on a score the clock cut short, so it is rough."""
    return "" if row.get("complete", True) else f" (its selection was cut by time: {_cut_how(row, planned)})"


def _not_tuned(row: dict, leader: dict, margin: float, sign: int) -> str:
    """Why a scored candidate is not tuned, as it was: too far behind, or within reach but over the cap."""
    gap = sign * (leader["mean"] - row["mean"])
    if gap <= margin:
        return (f"{row['mean']:.4f} is within {margin:.4f} of the leader, but the cap of {MAX_TUNED} tuned "
                "candidates left it out (closer ones come first)")
    return f"{row['mean']:.4f} is {gap:.4f} behind the leader, more than the margin of {margin:.4f}"

