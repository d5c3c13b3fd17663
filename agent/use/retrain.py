"""``mlpilot retrain``: a new run with the parent's goal and plan on old plus new data, compared with the
parent on the newest rows, and a recorded decision about which model to keep.

A quarter of the new batch (at least 30 rows) is held back from the new run, so that both models are
judged on recent rows neither has seen; the rest joins the parent's training data (all of it, or the most
recent ``--window`` rows). The new run links to its parent in its manifest, and the parent keeps a note
of its child under ``retrain/``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from agent.job.runner import RunOutcome, run_job
from agent.record.events import EventLog
from agent.record.report import render_report
from agent.record.runfolder import EVENTS, read_json, read_manifest, write_json
from agent.settings import Settings
from agent.use.monitor import batch_labels
from agent.use.predict import load_run_model
from tools.conform import conform
from tools.errors import ConfigError, DataError
from tools.evaluate import paired_gap, usable_labels
from tools.intake import read_table
from tools.metrics import get_metric
from tools.model import ModelSpec, class_probabilities
from tools.sniff import file_sha256

MIN_COMPARE_ROWS = 30
COMPARE_SHARE = 0.25


@dataclass
class RetrainOutcome:
    run: RunOutcome
    comparison: dict


def retrain(parent_dir: Path, new_data: Path, *, settings: Settings, window: int | None = None,
            old_data: Path | None = None, argv: list[str] | None = None,
            listen: Callable[[dict], None] | None = None, trust: bool = False) -> RetrainOutcome:
    """Retrain the run in ``parent_dir`` on its data plus ``new_data`` and compare the two models.

    The new run's clock starts once the old and new rows are combined: the budget is the new run's."""
    parent = read_manifest(parent_dir)
    if not parent.get("model") or not parent.get("plan"):
        raise ConfigError(f"The run '{parent_dir.name}' has no model to retrain; start a new run instead.")
    # Checked before any training: the comparison at the end needs the parent's model.
    parent_model, parent, warnings = load_run_model(parent_dir, home=settings.home, trust=trust)
    target = read_json(parent_dir / "reference.json")["target"]
    schema = parent["data"]["schema"]
    old_path = Path(old_data or parent["data"]["path"])
    if not old_path.exists():
        raise ConfigError(f"The parent's training data '{old_path}' is gone. Pass its new location with --old-data.")
    if file_sha256(old_path) != parent["data"]["sha256"]:
        raise ConfigError(f"'{old_path}' is not the data the parent run was trained on (its sha256 differs). "
                          "Pass the original file with --old-data.")
    old = read_table(old_path, delimiter=parent["data"].get("delimiter"), encoding=parent["data"].get("encoding"))
    new_table = read_table(new_data)
    if target not in new_table.frame.columns:
        raise DataError(f"The new data has no '{target}' column: retraining needs the target in the new rows.")
    new, notes = conform(new_table, schema, required=[c["name"] for c in schema if c["name"] in old.frame.columns])
    new = new[new[target].notna()].reset_index(drop=True)
    n_compare = max(MIN_COMPARE_ROWS, int(round(len(new) * COMPARE_SHARE)))
    if len(new) < n_compare + 10:
        raise DataError(f"The new data has {len(new)} rows with a target; at least {n_compare + 10} are needed to "
                        "learn from some and compare the models on the rest.")
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(len(new))
    compare, learn = new.iloc[np.sort(order[:n_compare])], new.iloc[np.sort(order[n_compare:])]
    combined = pd.concat([old.frame[new.columns], learn], ignore_index=True)
    if window:
        combined = combined.tail(window).reset_index(drop=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    # The run folder is named after its data file: "<parent data>-retrain".
    staging = Path(settings.runs_dir) / ".staging" / stamp / f"{Path(parent['data']['path']).stem}-retrain.parquet"
    staging.parent.mkdir(parents=True, exist_ok=True)
    combined.to_parquet(staging, index=False)
    outcome = run_job(child_settings(parent, settings, staging), started=time.monotonic(), argv=argv, listen=listen)
    if outcome.run_dir is None:
        staging.unlink(missing_ok=True)
        staging.parent.rmdir()
        return RetrainOutcome(outcome, {})
    data_copy = outcome.run_dir / "training_data.parquet"
    os.replace(staging, data_copy)
    staging.parent.rmdir()
    comparison = compare_models(parent_dir, outcome.run_dir, compare, target, seed=settings.seed,
                                home=settings.home, parent_model=(parent_model, parent))
    comparison.update(rows={"old": len(old.frame), "new": len(new), "new_learned": len(learn),
                            "new_compared": len(compare), "trained_on": len(combined), "window": window},
                      schema_notes=notes, new_data=str(new_data), warnings=warnings)
    _record(parent_dir, outcome, comparison, data_copy)
    return RetrainOutcome(outcome, comparison)


def child_settings(parent: dict, settings: Settings, data: Path) -> Settings:
    """The new run's settings: the parent's, every one as recorded (goal, seed, folds, kept and dropped
    columns, LLM model and budget ...), with its plan fixed (target, task, metric, the columns it dropped), on
    ``data``, linked to the parent, and with what this command decides (``settings``: budget, trial cap,
    runs folder, output)."""
    recorded, plan = parent["settings"], parent["plan"]
    max_trials = settings.max_trials if settings.max_trials is not None else recorded.get("max_trials")
    return Settings.from_manifest(recorded, overrides={
        "data": data, "target": plan["target"], "task": plan["task"], "metric": plan["metric"],
        "inherited": plan.get("dropped", {}), "budget": settings.budget or parent.get("budget"),
        "max_trials": max_trials, "runs_dir": settings.runs_dir, "quiet": settings.quiet, "json": settings.json,
        "yes": settings.yes, "interactive": settings.interactive, "parent": parent["run_id"],
        # The parent's recorded LLM answers were for other data: a retraining run asks afresh.
        "replay": None})


def compare_models(parent_dir: Path, child_dir: Path, rows: pd.DataFrame, target: str, *, seed: int, home: Path,
                   parent_model: tuple[object, dict]) -> dict:
    """Both models (the parent's as loaded, with its manifest) on the same held-back new rows, with a paired
    bootstrap of the difference."""
    results = {}
    reference = read_json(parent_dir / "reference.json")
    metric = get_metric(reference["metric"])
    labels = batch_labels(rows, target, parent_model[1]["data"]["schema"])
    preds = {}
    for name, folder in (("old", parent_dir), ("new", child_dir)):
        model, manifest = parent_model if name == "old" else load_run_model(folder, home=home)[:2]
        spec = ModelSpec.from_dict(manifest["model"]["spec"])
        y, usable = usable_labels(labels, spec.task, spec.classes)
        X = rows[manifest["model"]["features"]][usable]
        pred = (np.asarray(model.predict(X), dtype=float) if spec.task == "regression" else
                class_probabilities(model, X, spec))
        y = y[usable]
        preds[name] = (y, pred)
        results[name] = round(float(metric(y, pred)), 6)
    (y_old, p_old), (y_new, p_new) = preds["old"], preds["new"]
    if len(y_old) == len(y_new):
        gap = paired_gap(metric, y_new, p_new, p_old, seed=seed)
        diff, low, high = gap["difference"], gap["p05"], gap["p95"]
    else:
        diff = metric.oriented(results["new"]) - metric.oriented(results["old"])
        low = high = diff
    keep_new = diff >= 0 or high >= 0
    why = (f"on {len(y_old):,} new rows neither model saw, {metric.label} is {results['new']:.4g} for the new "
           f"model and {results['old']:.4g} for the old one (difference {diff:+.4g}, 90% interval {low:+.4g} to "
           f"{high:+.4g}, positive favours the new model); ")
    why += ("the new model is kept: it is at least as good and has learned from the recent data" if keep_new else
            "the old model is kept: the new one is worse beyond the noise")
    return {"metric": metric.name, "scores": results, "difference": round(diff, 6),
            "interval": [round(low, 6), round(high, 6)], "keep": "new" if keep_new else "old", "reason": why}


def _record(parent_dir: Path, outcome: RunOutcome, comparison: dict, data_copy: Path) -> None:
    child = outcome.run_dir
    write_json(child / "comparison.json", comparison)
    events = EventLog(child / EVENTS)
    events.decision("keep_model", comparison["keep"], reason=comparison["reason"], evidence=comparison,
                    alternatives=[{"choice": "old" if comparison["keep"] == "new" else "new",
                                   "why_not": "see reason"}], actor="rules", step="retrain")
    manifest = read_manifest(child)
    manifest["data"]["path"] = str(data_copy)
    manifest["retrain"] = {"parent": parent_dir.name, "keep": comparison["keep"], "comparison": "comparison.json"}
    write_json(child / "manifest.json", manifest)
    render_report(child)
    note = parent_dir / "retrain"
    note.mkdir(exist_ok=True)
    write_json(note / f"{child.name}.json", {"child": child.name, "child_dir": str(child), "keep": comparison["keep"],
                                             "scores": comparison["scores"], "reason": comparison["reason"]})
