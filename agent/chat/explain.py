"""Answers to questions about a run, read from its run folder and never invented.

The chat REPL asks "why was duration dropped?", "why LightGBM?", "how good is it compared to guessing?";
`explain` answers from the event log (``events.jsonl``) and the artifacts (``metrics.json``,
``profile.json``, ``manifest.json``). Reasons are quoted as logged, figures come from the events, and
every answer names the events it rests on ("(event 19)") so a person can check it in the log or in the
report's decision table. `relevant_events` hands the same events to a language model that phrases a reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from agent.record.reader import RunRecord
from agent.record.runfolder import EVENTS
from agent.record.status import describe_status
from tools.fmt import number
from tools.metrics import METRICS, metric_label

TOPICS = ("column", "model", "baseline", "metric", "threshold", "target", "budget", "fairness", "general")
ACTORS = {"rules": "by the rules", "llm": "by the language model", "user": "at your request"}


@dataclass(frozen=True)
class Answer:
    """A reply about a run.

    Attributes:
        text: plain text for a person, a few lines, citing events as "(event 23)".
        events: the seqs of the events it rests on, the most relevant first (empty when nothing was found).
        found: False when the log has nothing about the subject.
    """

    text: str
    events: tuple[int, ...]
    found: bool


def _cite(event: dict | None, actor: bool = False) -> str:
    if event is None:  # figures read from metrics.json when the event is missing (an older or torn log)
        return "(metrics.json)"
    who = ACTORS.get(event.get("actor", ""), f"by {event.get('actor')}") if actor else ""
    return f"(event {event['seq']}{', ' + who if who else ''})"


def _cites(*events: dict | None) -> str:
    seqs = [str(e["seq"]) for e in events if e is not None]
    return f"(event{'s' if len(seqs) > 1 else ''} {', '.join(seqs)})"


def choice_text(choice: Any) -> str:
    """A logged choice (final model, threshold rule, plain value) as a person reads it."""
    if isinstance(choice, dict) and choice.get("kind") == "ensemble":
        return "an ensemble of " + " + ".join(f"{k} x{v}" for k, v in choice.get("weights", {}).items())
    if isinstance(choice, dict) and choice.get("kind") == "single":
        return f"{choice.get('candidate')} alone"
    if isinstance(choice, dict) and "kind" in choice:
        rest = ", ".join(f"{k} {v}" for k, v in choice.items() if k != "kind")
        return choice["kind"] + (f" ({rest})" if rest else "")
    return f"{choice:g}" if isinstance(choice, float) else str(choice)


def _members(choice: dict) -> list[str]:
    """The candidates in a final choice (a blend may hold several configurations of one: ``lightgbm#12``)."""
    if choice.get("kind") != "ensemble":
        return [str(choice.get("candidate"))]
    return list(dict.fromkeys(str(n).split("#")[0] for n in choice.get("weights", {})))


def _alternatives(decision: dict) -> str:
    alts = [f"{choice_text(a.get('choice'))} - {a.get('why_not')}" for a in decision.get("alternatives", [])[:3]]
    return f"Alternative{'s' if len(alts) > 1 else ''} considered: " + "; ".join(alts) + "." if alts else ""


@dataclass
class _Notes:
    """The lines of an answer and the events they cite, in the order cited."""

    lines: list[str] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)

    def add(self, text: str, *events: dict | None) -> None:
        if text:
            self.lines.append(text)
        self.seqs += [e["seq"] for e in events if e is not None and e["seq"] not in self.seqs]

    def answer(self) -> Answer:
        return Answer("\n".join(self.lines), tuple(self.seqs), bool(self.seqs))


def _no_log(run_dir: Path) -> Answer:
    return Answer(f"There is no event log in {run_dir} ({EVENTS} is missing), so there is nothing to explain: "
                  "is this an mlpilot run folder? `mlpilot runs` lists the runs.", (), False)


def explain(run_dir: Path, topic: str, subject: str | None = None) -> Answer:
    """Answer a question about a run from its event log and artifacts.

    Args:
        run_dir: the run folder (it holds ``events.jsonl``).
        topic: one of column, model, baseline, metric, threshold, target, budget, fairness, general.
        subject: a column name (topic column) or a registry model name such as ``lightgbm`` or
            ``ensemble`` (topic model; None means the final model); for fairness, the words naming the
            groups asked about ("women", "older people"); ignored by the other topics.

    Returns:
        An `Answer` quoting the logged reasons and citing the events it uses; ``found`` is False when
        the log says nothing about the subject, or there is no log.
    """
    if topic not in TOPICS:
        raise ValueError(f"topic must be one of {', '.join(TOPICS)}; got {topic!r}")
    run = RunRecord(run_dir)
    if not (run.dir / EVENTS).exists():
        return _no_log(run.dir)
    return _ANSWERS[topic](run, subject)


def relevant_events(run_dir: Path, topic: str, subject: str | None = None, limit: int = 12) -> list[dict]:
    """The events an answer about ``topic`` rests on, as logged, most relevant first, at most ``limit``.

    They are the events `explain` cites, for a language model to phrase a reply from the facts alone.
    """
    by_seq = {e["seq"]: e for e in RunRecord(run_dir).events}
    return [by_seq[s] for s in explain(run_dir, topic, subject).events[:limit] if s in by_seq]


def _column(run: RunRecord, subject: str | None) -> Answer:
    notes, names = _Notes(), run.columns()
    name = next((c for c in names if subject and c.lower() == subject.strip().lower()), None)
    if name is None:
        return Answer(f"This run has no column {subject!r}; its columns are: {', '.join(names) or 'none logged'}.",
                      (), False)
    target = run.decision("target")
    if target and target["choice"] == name:
        return Answer(f"{name} is the target, the column the model predicts {_cite(target, True)}: "
                      f"{target['reason']}.", (target["seq"],), True)
    for d in [e for e in run.all("decision") if e["question"] == f"drop:{name}"]:
        notes.add(f"{name} was {'dropped' if d['choice'] == 'drop' else 'kept'} {_cite(d, True)}: {d['reason']}", d)
        notes.add(_alternatives(d))
    for f in run.fallbacks(f"drop:{name}"):
        notes.add(f"The language model's answer was rejected, so the rules decided {_cite(f)}: {f['problem']}.", f)
    plan, dropped = run.decision("column_plan"), run.dropped()
    roles = [r for r, cols in (plan or {}).get("choice", {}).items() if isinstance(cols, list) and name in cols
             and r != "missing_indicators"]
    if plan and name in dropped:
        notes.add(f"The column plan lists it as dropped {_cite(plan)}" + ("." if notes.lines else f": {dropped[name]}"),
                  plan)
    elif plan and roles:
        notes.add(f"{name} was used as a feature ({roles[0]}) in the column plan {_cite(plan)}.", plan)
    for it in run.all("iteration"):
        if name in it.get("dropped", []):
            notes.add(f"It was dropped before a second round {_cite(it)}: {it.get('reason')}", it)
    indicators = run.decision("missing_indicators")
    if indicators and name in (indicators["choice"] or []):
        notes.add(f"It also gets a missing-value indicator {_cite(indicators)}: {indicators['reason']}.", indicators)
    leak = run.last("leakage_check") or {}
    scores = leak.get("single_column_scores", {})
    suspect = [s for s in leak.get("suspects", []) if s.get("column") == name]
    if scores.get(name) is not None:
        ranked = sorted((v for v in scores.values() if v is not None), reverse=True)
        without = leak.get("drop_column_scores", {}).get(name)
        notes.add(f"Evidence: alone it scores {metric_label(leak.get('metric'))} {number(scores[name], digits=3)}, rank "
                  f"{ranked.index(scores[name]) + 1} of {len(ranked)} columns; the full quick model scores "
                  f"{number(leak.get('full_score'), digits=3)}" + (f" and {number(without, digits=3)} without it" if without is not None
                                                          else "")
                  + "".join(f"; the leakage check flags it ({s['severity']}, {s['rule']})" for s in suspect)
                  + f" {_cite(leak)}.", leak)
    elif name in leak.get("skipped", {}):
        notes.add(f"The leakage check skipped it: {leak['skipped'][name]} {_cite(leak)}.", leak)
    imp = run.last("importances") or {}
    rows = imp.get("rows") or []
    row = next((r for r in rows if r["feature"] == name), None)
    if row:
        notes.add(f"Permutation importance on the holdout: rank {rows.index(row) + 1} of {len(rows)}, "
                  f"{number(row['mean'])} +- {number(row['sd'])} ({imp.get('note')}) {_cite(imp)}.", imp)
    elif imp and not rows and notes.seqs:
        # A short run can skip importances for time; saying so keeps "no rank" from reading as "unimportant".
        notes.add(f"Permutation importance was not computed ({imp.get('note') or 'no reason logged'}) {_cite(imp)}.", imp)
    for w in run.all("warning"):
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", w.get("message", "")):
            notes.add(f"Warning {_cite(w)}: {w['message']}", w)
    if not notes.seqs:
        return Answer(f"{name} is in the data, but no decision or check in the log mentions it.", (), False)
    return notes.answer()


def _board_line(run: RunRecord, stage: str, name: str) -> tuple[str, dict | None]:
    board = run.last("leaderboard", stage=stage)
    if not board:
        return "", None
    rows = board["rows"]
    row = next((r for r in rows if r["candidate"] == name), None)
    if row is None:
        return f"It is not on the {stage} leaderboard {_cite(board)}.", board
    cut = "" if row.get("complete", True) else f", over {row['folds']} folds cut short by time"
    head = f"{'With default settings' if stage == 'selection' else 'After tuning'}: "
    score = f"CV {metric_label(board.get('metric'))} {number(row['mean'])} +- {number(row['sd'])}{cut}"
    others = [r for r in rows if r["candidate"] != name]
    if not others:
        return f"{head}the only candidate scored, {score} {_cite(board)}.", board
    other = min(others, key=lambda r: r["rank"])  # the runner-up for the leader, else the leader
    return (f"{head}rank {row['rank']} of {len(rows)}, {score}; "
            f"{'runner-up' if row['rank'] == 1 else 'leader'} {other['candidate']} {number(other['mean'])} "
            f"{_cite(board)}.", board)


def _model(run: RunRecord, subject: str | None) -> Answer:
    notes = _Notes()
    final, cands = run.decision("final_model"), run.decision("candidates")
    blend = bool(final) and final["choice"].get("kind") == "ensemble"
    members = _members(final["choice"]) if final else []
    name = (subject or "").strip().lower() or ("ensemble" if blend else members[0] if members else "")
    tried = set((cands or {}).get("choice") or []) | {r["candidate"] for b in run.all("leaderboard") for r in b["rows"]}
    if not final and not tried:
        return Answer("The log has no model selection yet (the run stopped before choosing a model).", (), False)
    if name != "ensemble" and name not in tried:
        alt = next((a for a in (cands or {}).get("alternatives", []) if a.get("choice") == name), None)
        if alt is None:
            return Answer(f"{name!r} was not a candidate in this run; the candidates were: {', '.join(sorted(tried))}.",
                          (), False)
        notes.add(f"{name} was left out of the candidates {_cite(cands, True)}: {alt.get('why_not')}.", cands)
        return notes.answer()
    picked = name in members or (name == "ensemble" and blend)
    if final:
        verb = ("was picked" + (", as part of the ensemble" if name != "ensemble" and blend else "")) if picked \
            else "was not picked"
        notes.add(f"{name} {verb}. The final model is {choice_text(final['choice'])} {_cite(final, True)}: "
                  f"{final['reason']}.", final)
        if name == "ensemble" or not picked:
            notes.add(_alternatives(final))
    # A blend is measured against its strongest member, so the leaderboards speak about that member.
    strongest = (final or {}).get("evidence", {}).get("ensemble", {}).get("best_single") if blend else None
    # The strongest member is a configuration ("lightgbm#11"); the leaderboards name its candidate.
    focus = name if name != "ensemble" else (str(strongest or members[0]).split("#")[0] if blend else "")
    if focus and focus != name:
        notes.add(f"Its strongest member is {strongest or focus}:")
    for stage in ("selection", "tuning") if focus else ():
        notes.add(*_board_line(run, stage, focus))
    tuning = run.decision("tuning")
    shares = tuning["choice"].get("shares", {}) if tuning and isinstance(tuning["choice"], dict) else {}
    why_not = next((a.get("why_not") for a in (tuning or {}).get("alternatives", []) if a.get("choice") == focus), None)
    if focus in shares:
        notes.add(f"Tuning gave it {shares[focus]:.0%} of the trials {_cite(tuning, True)}: {tuning['reason']}.",
                  tuning)
    elif why_not:
        notes.add(f"It was not tuned {_cite(tuning, True)}: {why_not}.", tuning)
    for r in run.all("decision"):
        if focus and r["question"] == "replan" and focus in r["reason"] + str(r["choice"]):
            notes.add(f"Re-plan at trial {r.get('evidence', {}).get('trial')} {_cite(r)}: {r['reason']}.", r)
    for f in run.all("candidate_failed"):
        if f.get("candidate") == focus:
            notes.add(f"It failed {_cite(f)}: {f.get('error')}", f)
    return notes.answer()


def _baseline(run: RunRecord, subject: str | None) -> Answer:
    notes = _Notes()
    event, h = run.holdout()
    if not h.get("metrics"):
        return Answer(f"The run has no holdout evaluation (status: {run.manifest.get('status', 'unknown')}), so "
                      "there is nothing to compare with a baseline.", (), False)
    primary, values, base = h["primary"], h["metrics"], h["baseline"]
    metric = METRICS.get(primary)

    def versus(k: str) -> str:
        better = METRICS[k].better(values[k], base.get(k)) if k in METRICS else None
        return f"{number(values[k])} vs {number(base.get(k))}" + {True: " (better)", False: " (not better)"}.get(better, "")
    direction = "higher" if not metric or metric.greater_is_better else "lower"
    notes.add(f"On {h.get('rows', h.get('n_rows'))} held-out rows the model scores {metric_label(primary)} "
              f"{number(values.get(primary))} against {number(base.get(primary))} for the baseline ("
              f"{'better' if metric and metric.better(values.get(primary), base.get(primary)) else 'not better'}; "
              f"{direction} is better) {_cite(event)}.", event)
    if metric and None not in (values.get(primary), base.get(primary)) and base[primary] != metric.best_possible:
        closed = (values[primary] - base[primary]) / (metric.best_possible - base[primary])
        notes.add(f"That closes {closed:.0%} of the gap between the baseline and a perfect score "
                  f"({number(metric.best_possible, digits=1)}).")
    spread = h.get("spread") or {}
    if spread.get("p05") is not None:
        notes.add(f"Bootstrap spread of {metric_label(primary)} on the holdout: {number(spread['p05'])} to "
                  f"{number(spread['p95'])} (5-95%, {spread.get('n')} resamples).")
    others = [k for k in values if k != primary][:3]
    if others:
        notes.add("Other metrics (model vs baseline): " + "; ".join(f"{metric_label(k)} {versus(k)}" for k in others) + ".")
    task = run.decision("task")
    notes.add("The baseline ignores the features: it predicts " + (
        "the training mean for every row" if (task or {}).get("choice") == "regression" else
        "the training class shares for every row (so for accuracy, always the most common class)")
        + (f" {_cite(task)}." if task else "."), task)
    return notes.answer()


def _decisions(questions: tuple[str, ...], what: str, extra: Callable[[RunRecord, _Notes], None] | None = None
               ) -> Callable[[RunRecord, str | None], Answer]:
    """An answerer quoting the latest decision on each question, its alternatives and any fallback."""
    def answer(run: RunRecord, subject: str | None) -> Answer:
        notes = _Notes()
        # A question ending in ":" stands for a family (rare_class:<label>, one decision per label).
        asked = [e["question"] for e in run.all("decision") for q in questions if q.endswith(":")
                 and e["question"].startswith(q)]
        for q in [q for q in questions if not q.endswith(":")] + list(dict.fromkeys(asked)):
            d = run.decision(q)
            if d is not None:
                shown = metric_label(d["choice"]) if q == "metric" else choice_text(d["choice"])
                notes.add(f"{q.replace('_', ' ').capitalize()}: {shown} {_cite(d, True)}: {d['reason']}.", d)
                notes.add(_alternatives(d))
            for f in run.fallbacks(q):
                notes.add(f"The language model's answer was rejected, so the rules decided {_cite(f)}: "
                          f"{f['problem']}.", f)
        if extra is not None:
            extra(run, notes)
        if not notes.seqs:
            return Answer(f"The log has no decision about the {what}.", (), False)
        return notes.answer()
    return answer


def _threshold_extra(run: RunRecord, notes: _Notes) -> None:
    event, h = run.holdout()
    at = h.get("at_threshold") or {}
    if at and h.get("threshold") is not None:
        notes.add(f"On the holdout at {number(h['threshold'], digits=3)}: precision {number(at.get('precision'), digits=3)}, recall "
                  f"{number(at.get('recall'), digits=3)}, F1 {number(at.get('f1'), digits=3)} {_cite(event)}.", event)


def _budget_extra(run: RunRecord, notes: _Notes) -> None:
    wall = run.last("plan_approved") or run.last("budget")
    if wall and wall.get("hard_wall"):
        notes.add(f"Hard time wall: {wall['hard_wall']} s {_cite(wall)}.", wall)
    plan = run.decision("time_plan")
    if plan:
        notes.add(f"Time plan {_cite(plan)}: {plan['reason']}.", plan)
    said = {"tuning_started": "Tuning was given about {seconds} s",
            "tuning_finished": "Tuning ran {trials} trials and stopped by {stopped}"}
    for kind, text in said.items():
        event = run.last(kind)
        if event:
            notes.add(text.format_map({k: event.get(k, "?") for k in re.findall(r"{(\w+)}", text)})
                      + f" {_cite(event)}.", event)
    end = run.last("run_finished")
    if end:
        used = f"used {end['elapsed']} s of its clock" if end.get("elapsed") is not None else "never started its clock"
        notes.add(f"The run {used} and ended {describe_status(end['status'], end.get('model_saved'))} {_cite(end)}.",
                  end)
    refit = run.decision("refit")
    if refit:
        notes.add(f"Refit {_cite(refit)}: {refit['reason']}.", refit)


def _general(run: RunRecord, subject: str | None) -> Answer:
    notes = _Notes()
    target, task, metric, final = (run.decision(q) for q in ("target", "task", "metric", "final_model"))
    if target:
        notes.add(f"Predict {target['choice']} ({(task or {}).get('choice', '?')}) {_cites(target, task)}.", target, task)
    if metric:
        notes.add(f"Judged by {metric_label(metric['choice'])} {_cite(metric)}: {metric['reason']}.", metric)
    drops = [d for d in run.all("decision") if d["question"].startswith("drop:") and d["choice"] == "drop"]
    if drops:
        notes.add("Dropped: " + "; ".join(f"{d['question'][5:]} {_cite(d)}" for d in drops) + ".", *drops)
    if final:
        notes.add(f"Final model: {choice_text(final['choice'])} {_cite(final)}.", final)
    event, h = run.holdout()
    if h.get("metrics"):
        p = h["primary"]
        notes.add(f"Holdout {metric_label(p)}: {number(h['metrics'].get(p))} against {number(h['baseline'].get(p))} for the "
                  f"baseline {_cite(event)}.", event)
    end = run.last("run_finished")
    if end and end.get("status") != "completed":
        notes.add(f"The run ended {end.get('status')} {_cite(end)}.", end)
    if not notes.seqs:
        return Answer("The log has no plan yet: the run stopped before deciding anything.", (), False)
    return notes.answer()


def _fairness(run: RunRecord, subject: str | None) -> Answer:
    from agent.chat.fairness_answer import answer_fairness  # it builds on this module's Answer and notes

    return answer_fairness(run, subject)


_ANSWERS: dict[str, Callable[[RunRecord, str | None], Answer]] = {
    "column": _column, "model": _model, "baseline": _baseline, "general": _general, "fairness": _fairness,
    "metric": _decisions(("metric", "threshold_rule"), "metric"),
    "threshold": _decisions(("threshold_rule", "threshold"), "decision threshold", _threshold_extra),
    "target": _decisions(("target", "task", "positive_class", "rare_class:"), "target"),
    "budget": _decisions(("budget",), "budget", _budget_extra)}


def _summary(run: RunRecord) -> dict:
    target, metric, final, cands = (run.decision(q) for q in ("target", "metric", "final_model", "candidates"))
    event, h = run.holdout()
    primary = h.get("primary") or (metric or {}).get("choice")
    return {"goal": run.manifest.get("goal") or (run.last("run_started") or {}).get("goal") or "(none)",
            "target": (target or {}).get("choice"), "metric": primary,
            "model": choice_text(final["choice"]) if final else "none",
            "score": h.get("metrics", {}).get(primary), "baseline": h.get("baseline", {}).get(primary),
            "dropped": set(run.dropped()), "candidates": set((cands or {}).get("choice") or []),
            "sha": run.manifest.get("data", {}).get("sha256"), "seed": run.manifest.get("seed"),
            "events": [e for e in (target, metric, final, event, cands) if e]}


def compare_runs(run_a: Path, run_b: Path) -> Answer:
    """Compare two runs (``run_b`` the newer): goal, target, metric, final model, holdout score, drops.

    The text cites events as "(A events 11, 14)" / "(B events ...)"; ``events`` holds run A's cited seqs,
    then run B's. Which run is better follows the metric's direction (lower is better for losses); runs
    judged by different metrics or predicting different targets are said not to compare like for like.
    """
    a, b = RunRecord(run_a), RunRecord(run_b)
    for run in (a, b):
        if not (run.dir / EVENTS).exists():
            return _no_log(run.dir)
    sa, sb = _summary(a), _summary(b)
    lines = [f"{tag} = {run.run_id}: goal {s['goal']!r}; target {s['target']}; metric {metric_label(s['metric'])}; "
             f"final model {s['model']}; holdout {number(s['score'])} (baseline {number(s['baseline'])}) "
             f"({tag} events {', '.join(str(e['seq']) for e in s['events'])})."
             for tag, run, s in (("A", a, sa), ("B", b, sb))]
    for what in ("dropped", "candidates"):
        only_a, only_b = sorted(sa[what] - sb[what]), sorted(sb[what] - sa[what])
        if only_a or only_b:
            lines.append(f"{what.capitalize()}: only in A {', '.join(only_a) or 'none'}; only in B "
                         f"{', '.join(only_b) or 'none'}.")
    metric = METRICS.get(sa["metric"])
    if sa["metric"] != sb["metric"] or sa["target"] != sb["target"]:
        lines.append("Not like for like: the runs are judged by different metrics or predict different targets, "
                     "so neither score can be called better.")
    elif metric is None or sa["score"] is None or sb["score"] is None:
        lines.append("At least one run has no holdout score, so neither can be called better.")
    else:
        better = (b if metric.better(sb["score"], sa["score"]) else
                  a if metric.better(sa["score"], sb["score"]) else None)
        lines.append(f"{'B' if better is b else 'A'} ({better.run_id}) is better on {metric.label} by "
                     f"{number(abs(sb['score'] - sa['score']))} ({'higher' if metric.greater_is_better else 'lower'} "
                     "is better)." if better else f"Both score the same {metric.label}.")
        if sa["sha"] != sb["sha"] or sa["seed"] != sb["seed"]:
            lines.append("The data or the seed differ, so the two holdouts are not the same rows: the gap mixes the "
                         "models' difference with the holdouts'.")
    return Answer("\n".join(lines), tuple(e["seq"] for e in sa["events"] + sb["events"]), True)


def side_by_side(run_dirs: list[Path], runs_dir: Path) -> str:
    """The decisions that differ between runs, and where the HTML page with everything side by side is."""
    from agent.record.compare import compare
    from agent.record.html_report import comparison_page, render_comparison_html

    c = compare(run_dirs)
    path = render_comparison_html(c, comparison_page(runs_dir))
    differ = ", ".join(d["question"] for d in c.differences) or "none"
    return f"Decisions that differ: {differ}. Side by side in a browser: {path}"
