"""The run report (``report.md``), rendered only from the run folder: the event log, the manifest and
the artifacts (metrics.json, profile.json). Rendering again at any time gives the same report, which is
what ``mlpilot report RUN`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.record.fairness_report import MODEL_CARD, fairness_section, fairness_warnings, render_model_card
from agent.record.reader import RunRecord
from agent.record.runfolder import MODEL, read_json, read_manifest, write_text
from agent.record.runlock import effective_status
from agent.record.status import describe_status
from agent.timing.timeplan import LABELS, ORDER
from tools.fmt import markdown_table as _table
from tools.fmt import number
from tools.metrics import METRICS, metric_label


def render_report(run_dir: Path) -> Path:
    """Write ``report.md`` and ``report.html`` in ``run_dir`` from its events and artifacts; returns the
    Markdown's path (the HTML is beside it)."""
    run_dir = Path(run_dir)
    read_manifest(run_dir)   # a folder without a readable manifest is no run: its error says so
    run = RunRecord(run_dir)
    parts = [section(run) for section in (_header, _retrained, _plan, _asked, _data, _decisions, _leakage, _selection,
                                          _tuning, _holdout, _importances, fairness_section, _narrative, _llm, _time,
                                          _warnings, _reproduce)]
    path = run_dir / "report.md"
    write_text(path, "\n".join(p for p in parts if p).rstrip() + "\n")
    from agent.record.html_report import render_html  # it renders this module's sections as HTML

    render_html(run_dir)
    render_model_card(run_dir)
    return path


def _header(run: RunRecord) -> str:
    manifest = run.manifest
    metrics = run.metrics
    status = effective_status(run.dir, manifest.get("status"))
    lines = [f"# mlpilot run `{manifest['run_id']}`", ""]
    saved = manifest.get("model_saved", bool(manifest.get("model")))
    described = describe_status(status, saved if status in ("timed_out", "interrupted") else None)
    if status != "completed":
        logged = " (this report shows what was logged)" if status in ("running", "died") else ""
        described = f"**{described}**{logged}"
    lines.append(f"Status: {described}"
                 + (f" after {manifest['elapsed_seconds']:.1f} s of a {manifest.get('budget') or 0:.0f} s budget"
                    if manifest.get("elapsed_seconds") is not None else ""))
    if manifest.get("error"):
        lines += ["", f"> Error: {manifest['error']}"]
    if metrics:
        primary = metrics["primary"]
        value, base = metrics["metrics"].get(primary), metrics["baseline"].get(primary)
        lines += ["", f"**Result:** {metrics.get('model', 'model')} scores **{metric_label(primary)} {number(value)}** on "
                      f"{metrics['n_rows']:,} held-out rows it never saw, against {number(base)} for a baseline that "
                      "ignores the features."]
        if metrics.get("threshold") is not None:
            at = metrics.get("at_threshold", {})
            lines.append(f"At its decision threshold {metrics['threshold']:.3f}: precision {number(at.get('precision'), digits=3)}, "
                         f"recall {number(at.get('recall'), digits=3)}, F1 {number(at.get('f1'), digits=3)}.")
    goal = run.last("goal_check")
    if goal and not goal["met"]:
        advice = goal["advice"][:1].upper() + goal["advice"][1:]
        lines += ["", "**The goal is not met:** " + "; ".join(goal["problems"])
                  + f" ({goal['flagged']:,} of {goal['rows']:,} held-out rows flagged). {advice}."]
    elif goal and goal["target"]:
        held = ", ".join(f"{k} {goal['holdout'][k]:.3f} (goal {v:.2f})" for k, v in goal["target"].items())
        lines += ["", f"The goal's target holds on the holdout: {held}."]
    data_notes = [e["message"] for e in run.all("warning") if e.get("step") in ("intake", "plan")]
    if data_notes:
        lines += ["", "**About the data** (also under Warnings):", ""] + [f"- {note}" for note in data_notes]
    refit = run.decision("refit")
    model = manifest.get("model")
    if model:
        lines += ["", f"The saved model (`{MODEL}`) was fitted on {model.get('fitted_on', '?')}"
                      + (f": {refit['reason']}" if refit else ".")]
    return "\n".join(lines) + "\n"


def _retrained(run: RunRecord) -> str:
    manifest = run.manifest
    run_dir = run.dir
    info = manifest.get("retrain")
    path = run_dir / "comparison.json"
    if not info or not path.exists():
        return ""
    c = read_json(path)
    rows = c.get("rows", {})
    return (f"## Retrained from `{info['parent']}`\n\nSame goal and plan as the parent, on its {rows.get('old', 0):,} "
            f"rows plus {rows.get('new_learned', 0):,} new ones ({rows.get('trained_on', 0):,} rows"
            + (f", the most recent {rows['window']:,}" if rows.get("window") else "") + f"). "
            f"{rows.get('new_compared', 0):,} further new rows were held back to compare the two models.\n\n"
            + _table(["model", c["metric"]], [["old (parent)", number(c["scores"]["old"])], ["new (this run)",
                                                                                     number(c["scores"]["new"])]])
            + f"\n**Keep the {c['keep']} model**: {c['reason']}.\n")


def _plan(run: RunRecord) -> str:
    """The plan in a few lines: what a reader wants before the details."""
    lines = []
    target, task = run.decision("target"), run.decision("task")
    if target and task:
        positive = run.decision("positive_class")
        lines.append(f"- Predict **{target['choice']}** ({task['choice']}"
                     + (f", positive class {positive['choice']!r}" if positive else "") + f"): {target['reason']}.")
    metric, rule = run.decision("metric"), run.decision("threshold_rule")
    if metric:
        lines.append(f"- Judge models by **{metric_label(metric['choice'])}**: {metric['reason']}.")
    if rule and rule["choice"]:
        lines.append(f"- Decision threshold: {rule['reason']}.")
    drops = [e for e in run.decisions("drop:") if e["choice"] == "drop"]
    if drops:
        lines.append("- Dropped: " + "; ".join(f"**{d['question'][5:]}** ({_short(d['reason'], 90)})"
                                               for d in drops) + ".")
    final = run.decision("final_model")
    if final:
        lines.append(f"- Final model: {final['reason']}.")
    return "## The plan in short\n\n" + "\n".join(lines) + "\n" if lines else ""


def _asked(run: RunRecord) -> str:
    manifest = run.manifest
    s = manifest.get("settings", {})
    budget = run.decision("budget")
    rows = [["goal", manifest.get("goal") or "(none)"], ["data", s.get("data")],
            ["budget", f"{budget['choice']:g} s ({budget['reason']})" if budget else s.get("budget")],
            ["seed", s.get("seed")]]
    for key in ("target", "task", "metric", "folds", "max_trials"):
        if s.get(key) is not None:
            rows.append([f"--{key.replace('_', '-')}", s[key]])
    for key in ("keep", "drop"):
        if s.get(key):
            rows.append([f"--{key}", ", ".join(s[key])])
    started = run.first("run_started")
    if started:
        rows.append(["decided by", _deciders(run, started)])
    return "## What was asked\n\n" + _table(["", ""], rows)


def _deciders(run: RunRecord, started: dict) -> str:
    """Who decided, as counted in the log: a model that was asked may have decided nothing."""
    if started.get("policy") == "rules":
        return "the rule policy (offline)"
    actors: dict[str, int] = {}
    for e in run.all("decision"):
        actors[e["actor"]] = actors.get(e["actor"], 0) + 1
    model, by_model = started.get("model"), actors.get("llm", 0)
    counts = ", ".join(f"{n} by {'the model' if a == 'llm' else 'the ' + a}" for a, n in sorted(actors.items()))
    if not by_model:
        return f"the rules: the language model `{model}` was asked but decided nothing ({counts})"
    return f"the language model `{model}`, checked by the guard, with the rules as fallback ({counts})"


def _data(run: RunRecord) -> str:
    manifest = run.manifest
    profile = run.profile
    data = manifest.get("data", {})
    if not data:
        return ""
    lines = ["## The data", "",
             f"{data.get('rows', 0):,} rows x {data.get('columns', 0)} columns from `{data.get('path')}` "
             f"({data.get('format')}, encoding {data.get('encoding')}, delimiter {data.get('delimiter')!r}, "
             f"decimal {data.get('decimal')!r}); sha256 `{str(data.get('sha256'))[:16]}...`.", ""]
    read = run.first("data_read")
    for note in (read or {}).get("notes", []):
        lines.append(f"- {note}")
    lines += _dask_lines(run)
    split = run.first("split")
    if split:
        lines.append(f"- Split: {split['train_rows']:,} rows for training and cross-validation, "
                     f"{split['holdout_rows']:,} held out (seed {split['seed']}"
                     f"{', stratified' if split.get('stratified') else ''}).")
    dropped = run.first("rows_dropped")
    if dropped:
        lines.append(f"- {dropped['rows']:,} rows dropped: {dropped['reason']}.")
    cols = profile.get("columns", [])
    if cols:
        rows = []
        for c in cols:
            flags = "; ".join(c.get("flags", []))
            rows.append([c["name"], c["kind"], f"{c['missing_share']:.1%}" if c.get("missing_share") is not None
                         else "", f"{c['n_unique']:,}", flags])
        lines += ["", _table(["column", "kind", "missing", "distinct", "flags"], rows)]
    if profile.get("duplicate_rows"):
        lines.append(f"Duplicate rows: {profile['duplicate_rows']:,}.\n")
    return "\n".join(lines) + "\n"


def _dask_lines(run: RunRecord) -> list[str]:
    """How a big table was read, profiled and learned from with Dask (runs with --dask)."""
    read = run.first("dask_read")
    if not read:
        return []
    memory = read.get("memory_limit_per_worker") or 0
    lines = [f"- Read with Dask: {read['workers']} worker(s), {read.get('threads', '?')} thread(s)"
             + (f", {memory / 1e9:.1f} GB memory limit per worker" if memory else "")
             + f", {read['partitions']:,} partition(s). The run planned, selected and tuned on a uniform sample of "
             f"{read['sample_rows']:,} rows; its {read['sample_holdout_rows']:,} holdout rows are rows held out of the "
             "whole table, never seen by any fit."]
    prof = run.first("dask_profile")
    if prof:
        missing = prof.get("missing") or {}
        lines.append(f"- Every row profiled with Dask: {prof['rows']:,} rows in {prof.get('seconds', 0):.1f} s"
                     + ("; missing values: " + ", ".join(f"{c} {n:,}" for c, n in list(missing.items())[:10])
                        if missing else "; no missing values") + " (the table below profiles the sample).")
    fit = run.first("dask_fit")
    if fit:
        lines.append(f"- The final LightGBM learned from {fit['rows']:,} training rows on the cluster: "
                     f"{fit['rounds']} rounds in {fit['seconds']:.1f} s"
                     + (f"; rows without a target ({fit['target_missing']:,} in the whole table) left out"
                        if fit.get("target_missing") else "") + ".")
    return lines


def _decisions(run: RunRecord) -> str:
    decisions = run.all("decision")
    if not decisions:
        return ""
    rows = []
    for d in decisions:
        choice = d["choice"]
        if d["question"] == "column_plan":
            choice = "see reason"
        elif isinstance(choice, dict):
            choice = ", ".join(f"{k}={v}" for k, v in choice.items())
        elif isinstance(choice, list):
            choice = ", ".join(map(str, choice))
        alts = "; ".join(f"{_short(a.get('choice'))}: {a.get('why_not')}" for a in d.get("alternatives", [])[:3])
        rows.append([d["seq"], d.get("step") or "", d["question"], _short(choice, 60), d["actor"], d["reason"],
                     alts])
    fallbacks = run.all("fallback")
    text = "## Decisions\n\nEvery choice the run made, in order, with its reason and what it was chosen over " \
           "(the number is the event's `seq` in `events.jsonl`, where the evidence is).\n\n"
    text += _table(["#", "step", "question", "choice", "by", "why", "instead of"], rows)
    if fallbacks:
        text += "\nFallbacks to the rules:\n" + "".join(f"- {f.get('question')}: {f.get('problem')}\n" for f in fallbacks)
    return text


def _short(value: Any, width: int = 40) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _leakage(run: RunRecord) -> str:
    leak = run.first("leakage_check")
    if not leak:
        return ""
    lines = ["## Leakage check", "",
             f"Each column alone, and a quick model with and without the strongest ones, on {leak.get('n_rows_used', 0):,} "
             f"training rows ({leak.get('metric')}, {leak.get('seconds', 0):.1f} s). Full model: "
             f"{number(leak.get('full_score'), digits=3)}.", ""]
    suspects = leak.get("suspects", [])
    if suspects:
        for s in suspects:
            lines.append(f"- **{s['column']}** ({s['severity']}, {s['rule']}): {s['reason']}")
    else:
        lines.append("No column looks like a leak.")
    top = sorted(leak.get("single_column_scores", {}).items(), key=lambda kv: -(kv[1] or 0))[:5]
    if top:
        lines += ["", "Strongest single columns: " + ", ".join(f"{k} {number(v, digits=3)}" for k, v in top) + "."]
    return "\n".join(lines) + "\n"


def _board(rows: list[dict], metric: str) -> str:
    table = [[r["rank"], r.get("label", r["candidate"]), f"{number(r['mean'])} +- {number(r['sd'])}",
              r["folds"] if r["complete"] else f"{r['folds']} (cut by time)", f"{r['fit_seconds']:.1f}"]
             for r in rows]
    return _table(["rank", "model", f"CV {metric_label(metric)} (mean +- sd)", "folds", "fit time (s)"], table)


def _selection(run: RunRecord) -> str:
    boards = run.leaderboards("selection")
    if not boards:
        return ""
    failed = run.all("candidate_failed")
    text = ("## Model selection\n\nEach candidate with its default settings, on the same cross-validation "
            "folds of the training part.\n\n" + _board(boards[0]["rows"], boards[0]["metric"]))
    for iteration, board in zip(run.all("iteration"), boards[1:]):
        changes = "; ".join(part for part in (
            f"dropped {', '.join(iteration['dropped'])}" if iteration.get("dropped") else "",
            f"added {', '.join(iteration['added'])}" if iteration.get("added") else "") if part)
        text += (f"\nSecond round, after the {iteration['step']} review asked to go back ({changes}): "
                 f"{iteration['reason']}\n\n" + _board(board["rows"], board["metric"]))
    for f in failed:
        text += f"\n- {f['candidate']} failed: {f['error']}"
    return text


def _tuning(run: RunRecord) -> str:
    started, finished = run.first("tuning_started"), run.first("tuning_finished")
    skipped = run.first("tuning_skipped")
    if skipped:
        return f"## Tuning\n\nSkipped: {skipped['reason']}.\n"
    if not started:
        return ""
    trials = run.all("trial")
    shares = ", ".join(f"{k} {v:.0%}" for k, v in started["shares"].items())
    lines = ["## Tuning", "",
             f"Optuna (seeded TPE, median pruning across folds, early stopping for boosting) for about "
             f"{started['seconds']:.0f} s; trial shares {shares}. " + _studies(finished)]
    workers = run.last("workers")
    if workers:
        me = workers["coordinator"]
        listed = ", ".join(f"{w} ({'this run' if w == me else 'worker'}) {n}" for w, n in workers["trials"].items())
        lines.append(f"Trials by process: {listed}; {workers['pooled']} of the workers' configurations joined the "
                     "ensemble's pool.")
    if finished:
        states = ", ".join(f"{v} {k}" for k, v in finished.get("states", {}).items() if v)
        lines.append(f"{finished['trials']} trials ({states}); stopped by {finished['stopped'].replace('_', ' ')}.")
    improvements, best = [], None
    for t in trials:
        if t["state"] == "complete" and t.get("best_so_far") is not None and t["best_so_far"] != best:
            best = t["best_so_far"]
            improvements.append([t["candidate"], t["number"], number(t["value"]), number(best), f"{t['t']:.0f}"])
    if improvements:
        lines += ["", "Best score so far, as it improved:", "",
                  _table(["model", "trial", "score", "best so far", "at (s)"], improvements[-12:])]
    replans = run.all("decision", question="replan")
    for r in replans:
        lines.append(f"- Re-plan at trial {r['evidence'].get('trial')}: {r['reason']}")
    board = run.last("leaderboard", stage="tuning")
    if board:
        lines += ["", "Best configuration per model after tuning:", "", _board(board["rows"], board["metric"])]
    return "\n".join(lines) + "\n"


def _studies(finished: dict | None) -> str:
    """Where the tuning studies are, and how to open them."""
    if finished and finished.get("prefix"):
        return (f"Studies are in the database `{finished['storage']}` as `{finished['prefix']}/tune-<model>` "
                "(open with `optuna-dashboard URL`).")
    return "Studies are in `study.journal` (open with `optuna-dashboard study.journal`)."


def _holdout(run: RunRecord) -> str:
    metrics = run.metrics
    if not metrics:
        return ""
    rows = []
    for name, value in metrics["metrics"].items():
        base = metrics["baseline"].get(name)
        better = METRICS[name].better(value, base) if name in METRICS and value is not None else None
        rows.append([metric_label(name) + (" (plan's metric)" if name == metrics["primary"] else ""), number(value),
                     number(base), "yes" if better else "no" if better is not None else ""])
    lines = ["## Holdout evaluation", "",
             f"{metrics['n_rows']:,} rows held out from the start and used only here. The baseline predicts "
             "without features (class shares, or the mean).", "",
             _table(["metric", "model", "baseline", "better?"], rows)]
    spread = metrics.get("spread") or {}
    if spread:
        lines.append(f"Bootstrap spread of the plan's metric on the holdout: {number(spread.get('p05'))} to "
                     f"{number(spread.get('p95'))} (5-95%, {spread.get('n')} resamples).\n")
    confusion = metrics.get("confusion") or {}
    if confusion.get("matrix"):
        labels = confusion["labels"]
        table = [[f"true {labels[i]}"] + row for i, row in enumerate(confusion["matrix"])]
        lines += ["Confusion matrix" + (f" at threshold {metrics['threshold']:.3f}" if metrics.get("threshold")
                                        is not None else "") + ":", "",
                  _table([""] + [f"predicted {l}" for l in labels], table)]
    threshold = run.decision("threshold")
    if threshold:
        lines.append(f"Threshold: {threshold['reason']}.\n")
    return "\n".join(lines) + "\n"


def _importances(run: RunRecord) -> str:
    imp = run.last("importances")
    if not imp:
        return ""
    if not imp.get("rows"):
        return f"## What the model relies on\n\nPermutation importance {imp.get('note')}.\n"
    rows = [[r["feature"], number(r["mean"]), number(r["sd"])] for r in imp["rows"][:15]]
    return ("## What the model relies on\n\nPermutation importance on the holdout: " + imp.get("note", "") +
            ".\n\n" + _table(["column", "importance", "sd"], rows))


def _narrative(run: RunRecord) -> str:
    run_dir = run.dir
    path = run_dir / "narrative.md"
    note = run.last("narrative")
    if not path.exists() or not note:
        return ""
    text = path.read_text(encoding="utf-8").strip()
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    return (f"## In the model's words\n\n*Written by the language model `{note['model']}` from the decision log; "
            "unlike the rest of this report it is not derived mechanically from the events, so check it against "
            "the sections above.*\n\n" + quoted + "\n")


def _llm(run: RunRecord) -> str:
    manifest = run.manifest
    llm = manifest.get("llm")
    calls = run.all("llm_call")
    if not llm and not calls:
        return ""
    ok = [c for c in calls if "error" not in c]
    prompt = sum(c.get("prompt_tokens", 0) for c in ok)
    completion = sum(c.get("completion_tokens", 0) for c in ok)
    cost = sum(c.get("cost_usd", 0.0) for c in ok)
    latency = sum(c.get("latency", 0.0) for c in calls)
    priced = all(c.get("priced", True) for c in ok)
    lines = ["## The language model", "",
             f"Model `{(llm or {}).get('model')}`" + (" (replayed from a recording, no network)"
                                                      if (llm or {}).get("replay_of") else "")
             + f": {len(ok)} answered calls, {len(calls) - len(ok)} failed attempts, {prompt:,} tokens in, "
               f"{completion:,} out, estimated cost ${cost:.4f}" + ("" if priced else " (model not in the price "
                                                                    "table: cost unknown)")
             + f", {latency:.1f} s waiting.", ""]
    by_actor: dict[str, int] = {}
    for e in run.all("decision"):
        by_actor[e["actor"]] = by_actor.get(e["actor"], 0) + 1
    lines.append("Decisions by actor: " + ", ".join(f"{k} {v}" for k, v in sorted(by_actor.items())) + ".")
    differ = [e for e in run.all("decision", actor="llm") if any(
        a.get("by") == "rules" and a.get("choice") != e["choice"] for a in e.get("alternatives", []))]
    if differ:
        lines += ["", "Where the model and the rule policy differ:", ""]
        rows = [[e["question"], _short(e["choice"], 50),
                 _short(next(a["choice"] for a in e["alternatives"] if a.get("by") == "rules"), 50), e["reason"]]
                for e in differ]
        lines.append(_table(["question", "model chose", "rules would choose", "model's reason"], rows))
    failed = [e for e in run.events if e["kind"] in ("fallback", "llm_stage_failed")]
    if failed:
        lines += ["", "Where the rules took over:", ""]
        lines += [f"- {e.get('question') or e.get('stage')}: {e['problem']}" for e in failed]
    return "\n".join(lines) + "\n"


def _time(run: RunRecord) -> str:
    """Where the time went: each step's planned share, what it was given when it started, what it spent."""
    manifest = run.manifest
    spent_event = run.last("time_spent")
    if not spent_event:
        return ""
    plan = run.decision("time_plan")
    planned = (plan or {}).get("evidence", {}).get("planned_seconds", {})
    allotted, spent = spent_event.get("allotted", {}), spent_event.get("spent", {})
    before = spent_event.get("before_start", {})
    rows = []
    for step in [*ORDER[:1], "llm", *ORDER[1:]]:
        if step not in spent and step not in planned and step not in before:
            continue
        plan_s = spent_event.get("llm_cap") if step == "llm" else planned.get(step, allotted.get(step))
        rows.append([LABELS.get(step, step), _seconds(plan_s) + (" (cap)" if step == "llm" and plan_s else ""),
                     _seconds(allotted.get(step)), _seconds(spent.get(step)),
                     _seconds(before.get(step)) if before else None])
    header = ["step", "planned", "given when it started", "spent"] + (["before the clock started"] if before else [])
    rows = [r if before else r[:4] for r in rows]
    elapsed = manifest.get("elapsed_seconds")
    lines = ["## Time", ""]
    if elapsed is not None:
        other = elapsed - sum(spent.values())
        lines.append(f"{elapsed:.1f} s of a {manifest.get('budget') or 0:.0f} s budget on the run's clock, which "
                     + ("started when the plan was approved" if before else "started with the command")
                     + f"; {max(other, 0.0):.1f} s went to start-up and between steps. Each step was given a share "
                     "of the time left when it started (the plan is made again at every step).")
        lines.append("")
    status = manifest.get("status")
    if status in ("timed_out", "interrupted"):
        missed = [LABELS[s] for s in ORDER[1:-1] if s not in allotted and (s != "scale" or s in planned)]
        why = "the time wall" if status == "timed_out" else "the stop"
        lines += [f"Cut by {why}: " + (f"these steps did not run: {', '.join(missed)}." if missed else
                                       "every step had started; the one running then ended early.") + " The "
                  "model saved is the best one finished before.", ""]
    if spent.get("llm") or before.get("llm"):
        waited = (spent.get("llm") or 0.0) + (before.get("llm") or 0.0)
        lines += [f"The run waited {waited:.1f} s on the language model"
                  + (f" ({before.get('llm', 0.0):.1f} s of it before the clock started)" if before.get("llm") else "")
                  + ".", ""]
    return "\n".join(lines) + "\n" + _table(header, rows)


def _seconds(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f} s"


def _warnings(run: RunRecord) -> str:
    items = fairness_warnings(run) + [e["message"] for e in run.all("warning")]
    items += [f"{e['candidate']} was cut by its time share: {e.get('note')}" for e in run.all("candidate_scored")
              if not e.get("complete")]
    items += [e["message"] for e in run.events if e["kind"] in ("interrupt", "watchdog")]
    items += [f"error: {e['message']}" for e in run.all("error")]
    leak = run.first("leakage_check")
    if leak and not leak.get("complete", True):
        items.append("the leakage check was cut short by its time limit: " + "; ".join(leak.get("notes", [])))
    if not items:
        return ""
    return "## Warnings\n\n" + "".join(f"- {w}\n" for w in items)


def _reproduce(run: RunRecord) -> str:
    manifest = run.manifest
    run_dir = run.dir
    packages = manifest.get("packages", {})
    versions = ", ".join(f"{k} {v}" for k, v in packages.items() if k != "platform")
    # The reports themselves are named last, so a first render lists the same files as a later one.
    files = sorted(p.name for p in run_dir.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.name not in ("report.md", "report.html", MODEL_CARD)) + ["report.md", "report.html",
                                                                                  MODEL_CARD]
    lines = ["## Reproduce and use", "",
             f"- Seed {manifest.get('seed')}; data sha256 `{manifest.get('data', {}).get('sha256')}`.",
             f"- Command: `{manifest.get('command', '')}`",
             f"- Packages: {versions}.", f"- Files: {', '.join(files)}.",
             f"- Predict: `mlpilot predict {run_dir} new_rows.csv --output predictions.csv`",
             f"- Serve over HTTP: `mlpilot serve {run_dir}` (POST /predict, GET /metadata; see README, Serving).",
             "- Load in Python without mlpilot: `joblib.load('model.joblib').predict(frame)` (scikit-learn and "
             "LightGBM needed; columns typed as at training, see `manifest.json` data.schema)."]
    return "\n".join(lines) + "\n"
