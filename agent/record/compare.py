"""Runs side by side, from their folders alone: goals, data fingerprints, plans, the decisions that
differ and the holdout metrics. `mlpilot compare` prints it and writes it as HTML; the chat's
"compare with the last run" uses it too."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.record.reader import RunRecord
from agent.record.runfolder import read_manifest
from agent.record.runlock import effective_status
from tools.metrics import METRICS, metric_label

# Decisions that differ between any two runs by nature (the time plan, re-plans during tuning) say
# nothing about how the runs differ.
NOISY = ("time_plan", "replan", "sample", "first_model", "bagging", "refit", "replace_first_model")


@dataclass
class Comparison:
    """Runs in the order given, the first being the reference.

    Attributes:
        runs: one summary per run (id, goal, data, plan, model, holdout metrics).
        differences: decisions whose choice differs between runs: question, choices and reasons per run.
        metrics: holdout metric name -> value per run (None where a run has none).
        like_for_like: the runs predict the same target and are judged by the same metric.
        best: the index of the best run on the plan's metric, when like for like and scored.
        notes: what a reader must know before comparing the numbers.
    """

    runs: list[dict]
    differences: list[dict] = field(default_factory=list)
    metrics: dict[str, list[float | None]] = field(default_factory=dict)
    like_for_like: bool = True
    best: int | None = None
    notes: list[str] = field(default_factory=list)


def _choice_text(choice: Any, question: str = "") -> str:
    if question == "column_plan" and isinstance(choice, dict):
        used = sum(len(choice.get(role) or []) for role in ("numeric", "boolean", "categorical", "high_cardinality",
                                                             "datetime"))
        dropped = sorted(choice.get("dropped") or {})
        return f"{used} columns used" + (f"; dropped {', '.join(dropped)}" if dropped else "")
    if isinstance(choice, dict):
        return ", ".join(f"{k}={v}" for k, v in choice.items())
    if isinstance(choice, list):
        return ", ".join(map(str, choice))
    return str(choice)


def summarise(run: RunRecord) -> dict:
    manifest = read_manifest(run.dir)
    metrics = run.metrics
    data = manifest.get("data", {})
    decision = {q: (run.decision(q) or {}).get("choice") for q in ("target", "task", "metric", "threshold_rule",
                                                                    "candidates")}
    final = run.decision("final_model")
    return {"run_id": manifest.get("run_id", run.dir.name), "run_dir": str(run.dir), "goal": manifest.get("goal") or "",
            "status": effective_status(run.dir, manifest.get("status")),
            "data": {"path": data.get("path"), "sha256": data.get("sha256"), "rows": data.get("rows"),
                     "columns": data.get("columns")},
            "seed": manifest.get("seed"), "budget": manifest.get("budget"),
            "elapsed": manifest.get("elapsed_seconds"), **decision,
            "threshold_rule": _choice_text(decision["threshold_rule"]) if decision["threshold_rule"] else "",
            "dropped": sorted(run.dropped()), "model": metrics.get("model") or (final or {}).get("choice"),
            "primary": metrics.get("primary"), "holdout": metrics.get("metrics", {}),
            "baseline": metrics.get("baseline", {})}


def compare(run_dirs: list[Path]) -> Comparison:
    """Compare the runs in ``run_dirs`` (the first is the reference the others are read against)."""
    records = [RunRecord(Path(d)) for d in run_dirs]
    runs = [summarise(r) for r in records]
    out = Comparison(runs)
    out.differences = _differences(records)
    names = list(dict.fromkeys(n for r in runs for n in r["holdout"]))
    out.metrics = {n: [r["holdout"].get(n) for r in runs] for n in names}
    targets, metrics = {r["target"] for r in runs}, {r["primary"] or r["metric"] for r in runs}
    out.like_for_like = len(targets) == 1 and len(metrics) == 1
    if not out.like_for_like:
        out.notes.append("Not like for like: the runs predict different targets or are judged by different "
                         "metrics, so no score can be called better.")
    else:
        primary = runs[0]["primary"]
        scores = [(i, r["holdout"].get(primary)) for i, r in enumerate(runs)]
        scored = [(i, v) for i, v in scores if v is not None]
        if primary in METRICS and len(scored) == len(runs):
            out.best = max(scored, key=lambda iv: METRICS[primary].oriented(iv[1]))[0]
        else:
            out.notes.append("Not every run has a holdout score, so none is called best.")
    if len({r["data"]["sha256"] for r in runs}) > 1 or len({r["seed"] for r in runs}) > 1:
        out.notes.append("The data or the seed differ, so the holdouts are not the same rows: a gap mixes the "
                         "models' difference with the holdouts'.")
    return out


def _differences(records: list[RunRecord]) -> list[dict]:
    per_run = [{e["question"]: e for e in r.all("decision") if e["question"] not in NOISY} for r in records]
    questions = list(dict.fromkeys(q for decisions in per_run for q in decisions))
    out = []
    for q in questions:
        entries = [d.get(q) for d in per_run]
        choices = [json.dumps(e["choice"], sort_keys=True, default=str) if e else None for e in entries]
        if len(set(choices)) > 1:
            out.append({"question": q,
                        "choices": [_choice_text(e["choice"], q) if e else "(not decided)" for e in entries],
                        "reasons": [e["reason"] if e else "" for e in entries],
                        "actors": [e.get("actor", "") if e else "" for e in entries]})
    return out


def headline(c: Comparison) -> str:
    """One sentence: which run is best on what, or why none is."""
    if c.best is None:
        return c.notes[0] if c.notes else "No run can be called best."
    run = c.runs[c.best]
    primary = run["primary"]
    values = ", ".join(f"{r['run_id']} {_value(r['holdout'].get(primary))}" for r in c.runs)
    direction = "higher" if METRICS[primary].greater_is_better else "lower"
    return f"{run['run_id']} is best on holdout {metric_label(primary)} ({values}; {direction} is better)."


def _value(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"
