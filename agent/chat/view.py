"""Rendering for the chat: the plan to approve, the data profile, run lists. Rich tables, plain words."""

from __future__ import annotations

import re
from typing import Any

from rich.table import Table

from agent.decide.planedit import copy_plan, drop_column
from tools.metrics import metric_label

# The runs' messages name the command line's options; in the chat the same thing is said differently.
_CHAT_WORDS = ((re.compile(r"\bPass --target with one of"), "Say 'target COLUMN' with one of"),
               (re.compile(r"--(keep|drop) ([\w.-]*\w)"), r"'\1 \2'"),
               (re.compile(r"--target\b"), "'target COLUMN'"))


def in_chat_words(text: str) -> str:
    """A run's message with its command-line options said as the chat says them ("keep it with 'keep x'")."""
    for pattern, words in _CHAT_WORDS:
        text = pattern.sub(words, text)
    return text


def plan_table(plan: dict, edits: list[dict]) -> list[Any]:
    """The plan as printable pieces, with pending edits applied to what is shown."""
    shown = copy_plan({**plan["features"], "dropped": plan["dropped"]})
    kept: list[str] = []
    metric, budget = plan["metric"], plan["budget"]
    for e in edits:
        if e["kind"] == "keep":
            shown["dropped"].pop(e["column"], None)
            kept.append(e["column"])
        elif e["kind"] == "drop":
            drop_column(shown, e["column"], "you asked to drop it")
            kept = [c for c in kept if c != e["column"]]
        elif e["kind"] == "metric":
            metric = e["metric"]
        elif e["kind"] == "budget":
            budget = e["seconds"]
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
