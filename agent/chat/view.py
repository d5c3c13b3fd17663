"""Rendering for the chat: the plan to approve, how a goal reads, the data profile, run lists, how a run
ended. Rich tables, plain words."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from agent.decide.goal import parse_budget, read_goal
from agent.decide.planedit import copy_plan, drop_column
from agent.record.runfolder import read_json
from agent.record.runlock import effective_status
from agent.record.status import describe_status, short_status
from tools.metrics import get_metric, metric_label

if TYPE_CHECKING:
    from agent.job.runner import RunOutcome

# The runs' messages name the command line's options; in the chat the same thing is said differently.
_CHAT_WORDS = ((re.compile(r"\bPass --target with one of"), "Say 'target COLUMN' with one of"),
               (re.compile(r" \(--(keep|drop)\)"), ""),
               (re.compile(r"--(keep|drop) ([\w.-]*\w)"), r"'\1 \2'"),
               (re.compile(r"--target\b"), "'target COLUMN'"))


def in_chat_words(text: str) -> str:
    """A run's message with its command-line options said as the chat says them ("keep it with 'keep x'")."""
    for pattern, words in _CHAT_WORDS:
        text = pattern.sub(words, text)
    return text


def edited(plan: dict, edits: list[dict]) -> tuple[str, float]:
    """The waiting plan's metric and budget with the person's edits applied."""
    metric, budget = plan["metric"], plan["budget"]
    for e in edits:
        if e["kind"] == "metric":
            metric = e["metric"]
        elif e["kind"] == "budget":
            budget = e["seconds"]
    return metric, budget


def plan_table(plan: dict, edits: list[dict]) -> list[Any]:
    """The plan as printable pieces, with pending edits applied to what is shown."""
    shown = copy_plan({**plan["features"], "dropped": plan["dropped"]})
    kept: list[str] = []
    metric, budget = edited(plan, edits)
    for e in edits:
        if e["kind"] == "keep":
            shown["dropped"].pop(e["column"], None)
            kept.append(e["column"])
        elif e["kind"] == "drop":
            drop_column(shown, e["column"], "you asked to drop it")
            kept = [c for c in kept if c != e["column"]]
    table = Table(title=f"plan for run {plan['run_id']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("decided")
    target = plan["target"] + (f" (positive class {plan['positive_class']!r})" if plan.get("positive_class") is not None else "")
    table.add_row("target", f"{target}, {plan['task']}")
    table.add_row("metric", metric_label(metric))
    if plan.get("threshold_rule") and metric == plan["metric"]:
        table.add_row("threshold", plan["threshold_rule"])
    v = plan["validation"]
    table.add_row("validation", f"{v['holdout_share']:.0%} held out, {v['folds']}-fold cross-validation")
    dropped = shown["dropped"]
    features = {role: shown.get(role, []) for role in plan["features"]}
    features["kept on request"] = kept
    used = sum(len(c) for c in features.values())
    table.add_row("features", f"{used} used: " + ", ".join(f"{len(c)} {role.replace('_', ' ')}" for role, c in features.items() if c))
    table.add_row("candidates", ", ".join(plan["candidates"]))
    if "sensitive" in plan:  # a plan made before the fairness audit existed has no such entry
        groups = plan["sensitive"]
        table.add_row("fairness audit", ", ".join(f"{c} ({k})" for c, k in groups.items()) if groups
                      else "no column about people found (--sensitive COL names one)")
    table.add_row("budget", f"{budget:g} s")
    pieces: list[Any] = [table]
    if dropped:
        drops = Table(title="dropped columns", show_header=True)
        drops.add_column("column")
        drops.add_column("why")
        for col, why in dropped.items():
            drops.add_row(col, in_chat_words(why))
        pieces.append(drops)
    return pieces


def goal_text(goal: str, columns: list[str], *, has_data: bool) -> str:
    """The answer to a new goal: how it reads (target, scoring, budget) against the data's columns, and
    what to do next."""
    match, intent = read_goal(goal, tuple(columns))
    seconds, phrase = parse_budget(goal)
    parts = [f"Goal set: {goal!r}."]
    if match:
        parts.append(f"I read the target as '{match.column}' ({match.why}).")
    elif columns:
        parts.append("No column of the data is named in it; say 'target COLUMN' to pick one.")
    if intent:
        parts.append(f"Scoring: {intent.why}.")
    if seconds:
        parts.append(f"Budget {seconds:g} s ('{phrase}').")
    parts.append("Say 'go' to see the plan." if has_data else "Load data with /load FILE.")
    return " ".join(parts)


def profile_table(profile: dict, limit: int = 40) -> Table:
    table = Table(title=f"{profile['n_rows']:,} rows x {profile['n_columns']} columns")
    for col in ("column", "kind", "missing", "distinct", "notes"):
        table.add_column(col)
    for c in profile["columns"][:limit]:
        table.add_row(c["name"], c["kind"], f"{c['missing_share']:.0%}" if c["missing_share"] else "",
                      f"{c['n_unique']:,}", "; ".join(c.get("flags", []))[:70])
    if profile["n_columns"] > limit:
        table.add_row(f"... {profile['n_columns'] - limit} more", "", "", "", "")
    return table


def runs_table(root: Path, limit: int = 15) -> Table | None:
    """The latest runs in ``root``, newest first: id, status, goal; None when there are none."""
    rows = sorted(root.glob("*/manifest.json"), reverse=True)[:limit] if root.exists() else []
    if not rows:
        return None
    table = Table(title=f"runs in {root}")
    for col in ("run id", "status", "goal"):
        table.add_column(col)
    for path in rows:
        try:
            m = read_json(path)
        except ValueError:  # a damaged manifest: not a run to list
            continue
        status = effective_status(path.parent, m.get("status", ""))
        table.add_row(str(m.get("run_id")), short_status(status, m.get("model_saved")), str(m.get("goal") or "")[:50])
    return table


def outcome_text(outcome: RunOutcome) -> str:
    """How a run that kept its folder ended, in one paragraph: status, time used, score against the baseline."""
    summary = outcome.summary
    text = f"Run {outcome.run_id} {describe_status(outcome.status, summary.get('model_file') is not None)}"
    if summary.get("elapsed_seconds") is not None and summary.get("budget"):
        text += f" after {summary['elapsed_seconds']:.0f} s of its {summary['budget']:.0f} s budget"
    if summary.get("metrics"):
        p = summary["primary_metric"]
        text += (f": {summary['model']} scores {get_metric(p).label} {summary['metrics'][p]:.4f} on the holdout "
                 f"(baseline {summary['baseline'].get(p, float('nan')):.4f}). Model saved; report at "
                 f"{summary['report']}.")
    if outcome.error:
        text += f" ({outcome.error})"
    return text + " Ask 'why ...' about any decision."


def summary_of(report: str) -> str:
    """The report up to its second section: the result and the plan in short, which fit on a screen."""
    sections = [i for i, line in enumerate(report.splitlines()) if line.startswith("## ")]
    return "\n".join(report.splitlines()[: sections[1]]) if len(sections) > 1 else report
