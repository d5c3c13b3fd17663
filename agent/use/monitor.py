"""``mlpilot monitor``: a new batch against a run's reference, a verdict with reasons, and a record.

Each call writes ``RUN/monitoring/<timestamp>/`` with its own ``events.jsonl`` (what was read, what was
measured, the verdict as a decision), ``summary.json`` and a readable ``report.md`` listing the drifted
features with their statistics and the verdict's reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import pandas as pd

from agent.record.events import EventLog
from agent.record.html_report import render_monitoring_html
from agent.record.runfolder import read_json, write_json, write_text
from agent.use.batch import read_batch
from agent.use.predict import load_run_model
from agent.use.verdict import any_drift, decide_verdict
from tools.conform import conform
from tools.errors import ConfigError
from tools.evaluate import usable_labels
from tools.fairness import audit_columns
from tools.fmt import number
from tools.model import ModelSpec, predict_table
from tools.monitor import BatchCheck, check_batch

# Monitoring figures (p-values, PSI) read best with three significant digits; a missing one is blank.
_sig = partial(number, digits=3, significant=True, missing="")

FAIL_ON = ("warn", "drift", "retrain")
EXIT_ALARM = 4


@dataclass
class MonitorOutcome:
    verdict: str
    drift: bool
    record: Path
    summary: dict

    def fails(self, level: str | None) -> bool:
        """Whether ``--fail-on level`` should make the command exit non-zero."""
        if level is None:
            return False
        if level == "drift":
            return self.drift or self.verdict != "ok"
        return self.verdict == "retrain" or (level == "warn" and self.verdict == "warn")


def batch_labels(frame: pd.DataFrame, target: str, schema: list[dict]) -> pd.Series | None:
    """The batch's target in the training labels' spelling, or None when the batch has no target."""
    if target not in frame.columns:
        return None
    values = frame[target]
    spec = next((c for c in schema if c["name"] == target), {})
    if pd.api.types.is_bool_dtype(values):
        true, false = spec.get("true_token") or "True", spec.get("false_token") or "False"
        return values.map({True: true, False: false}).astype("object").where(values.notna(), None)
    return values


def monitor_run(run_dir: Path, data: Path, *, home: Path, trust: bool = False, delimiter: str | None = None,
                encoding: str | None = None, seed: int = 0, since: str | None = None) -> MonitorOutcome:
    """Check ``data`` (a file, or a folder of batches: see `agent.use.batch`) against the run in ``run_dir``
    and write the monitoring record."""
    reference_path = run_dir / "reference.json"
    if not reference_path.exists():
        raise ConfigError(f"The run '{run_dir.name}' has no reference.json (it ended before evaluating a model), "
                          "so there is nothing to monitor against. Monitor a completed run.")
    model, manifest, warnings = load_run_model(run_dir, home=home, trust=trust)
    reference = read_json(reference_path)
    spec = ModelSpec.from_dict(manifest["model"]["spec"])
    features = manifest["model"]["features"]
    table = read_batch(data, delimiter=delimiter, encoding=encoding, since=since)
    target = reference["target"]
    frame, notes = conform(table, manifest["data"]["schema"], required=features, expected_absent=[target])
    notes = warnings + list(table.notes) + notes
    labels = batch_labels(frame, target, manifest["data"]["schema"])
    if labels is None:
        notes.append(f"no {target!r} column, so performance is not checked (drift and data quality only); "
                     "include the outcomes to check it")
    predictions = predict_table(model, frame[features], spec)
    batch = check_batch(reference, frame, predictions, labels=labels, seed=seed)
    groups = group_check(reference, frame, predictions, labels, spec, seed=seed)
    decision = decide_verdict(batch)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    record = _new_record(run_dir / "monitoring", stamp)
    events = EventLog(record / "events.jsonl")
    events.emit("batch_read", data=str(data), sha256=table.sha256, rows=len(frame), columns=table.shape[1],
                schema_notes=notes, has_target=labels is not None)
    for c in batch.columns:
        if c.drifted or c.quality_issue:
            events.emit("column_check", **c.to_dict(), weight=round(batch.weights.get(c.column, 0.0), 4))
    if batch.prediction is not None:
        events.emit("prediction_check", **batch.prediction.to_dict())
    if batch.performance is not None:
        events.emit("performance_check", **batch.performance.to_dict())
    if groups is not None:
        events.emit("group_check", **groups)
    for note in batch.notes:
        events.emit("note", message=note)
    events.decision("verdict", decision.choice, reason=decision.reason, evidence=decision.evidence,
                    alternatives=decision.alternatives, actor="rules", step="monitor")
    summary = {"run_id": manifest["run_id"], "data": str(data), "rows": len(frame), "verdict": decision.choice,
               "reason": decision.reason, "drift": any_drift(batch), "record": str(record),
               "weighted_drift": batch.weighted_drift, "schema_notes": notes,
               "drifted_features": [{"column": c.column, "psi": c.psi, "p_value": c.p_value, "test": c.test,
                                     "weight": round(batch.weights.get(c.column, 0.0), 4), "change": c.change}
                                    for c in batch.drifted],
               "prediction_drift": bool(batch.prediction and batch.prediction.drifted),
               "performance": batch.performance.to_dict() if batch.performance else None,
               "groups": groups}
    write_json(record / "summary.json", {**summary, "check": batch.to_dict()})
    write_text(record / "report.md", render_monitoring(manifest, summary, batch) + group_section(groups))
    render_monitoring_html(record)
    return MonitorOutcome(decision.choice, summary["drift"], record, summary)


def group_check(reference: dict, frame: pd.DataFrame, predictions: pd.DataFrame, labels: pd.Series | None,
                spec: ModelSpec, *, seed: int) -> dict | None:
    """The model's results per group of each sensitive column of the run (`tools.fairness`) on a batch that has
    the outcomes and the column; None when it has neither."""
    sensitive = {c: k for c, k in (reference.get("sensitive") or {}).items() if c in frame.columns}
    if labels is None or not sensitive:
        return None
    classes = list(spec.classes) if spec.task != "regression" else None
    y, usable = usable_labels(labels, spec.task, [str(c) for c in classes] if classes else None)
    if not usable.any():
        return None
    if spec.task == "regression":
        values = predictions["prediction"].to_numpy(dtype=float)
    else:
        values = predictions[[f"proba_{c}" for c in classes]].to_numpy(dtype=float)
    audit = audit_columns(spec.task, y[usable], values[usable], frame.loc[usable], sensitive,
                          classes=[str(c) for c in classes] if classes else None, threshold=spec.threshold,
                          seed=seed, seconds=2.0)
    return audit.to_dict()


def group_section(groups: dict | None) -> str:
    """The monitoring report's per-group part (Markdown), empty when there was no group check."""
    if not groups:
        return ""
    key = {"binary": "selection_rate", "multiclass": "accuracy", "regression": "mae"}[groups["task"]]
    label = {"selection_rate": "selected", "accuracy": "accuracy", "mae": "MAE"}[key]
    lines = ["", "## Groups", "", f"The model's results per group on the {groups['n_rows']:,} labelled rows "
             f"({groups.get('interval')}):", ""]
    for column in groups["columns"]:
        rates = "; ".join(f"{g['group']} {_sig(g.get(key))} (n={g['n']:,})" for g in column["groups"])
        gaps = "; ".join(f"{d['name'].replace('_', ' ')} {_sig(d['value'])}" + (" **flagged**" if d["flagged"] else "")
                         for d in column["disparities"]) or "too few rows to compare"
        lines.append(f"- **{column['column']}** ({label}): {rates}. Gaps: {gaps}.")
    lines += [""] + [f"Warning: {w}" for w in groups.get("warnings", [])]
    return "\n".join(lines).rstrip() + "\n"


def _new_record(parent: Path, stamp: str) -> Path:
    """A fresh record folder; two checks in the same instant (parallel cron jobs) get distinct ones."""
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        record = parent / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            record.mkdir()
            return record
        except FileExistsError:
            continue
    raise ConfigError(f"Cannot create a monitoring record folder under {parent}.")


def render_monitoring(manifest: dict, summary: dict, batch: BatchCheck) -> str:
    """The monitoring record as a page a person reads."""
    lines = [f"# Monitoring `{manifest['run_id']}`", "",
             f"Batch `{summary['data']}`: {summary['rows']:,} rows. Verdict: **{summary['verdict']}**.", "",
             f"Why: {summary['reason']}.", ""]
    if summary["schema_notes"]:
        lines += ["## Schema", ""] + [f"- {n}" for n in summary["schema_notes"]] + [""]
    rows = sorted(batch.columns, key=lambda c: -batch.weights.get(c.column, 0.0))
    lines += ["## Features", "",
              f"Weights: {batch.weights_note}. Weighted drift: {batch.weighted_drift:.3f} (drifted features' "
              "weights times their PSI, capped at 0.25).", "",
              "| column | weight | test | p-value | PSI (threshold) | drifted | quality | change |",
              "| --- | ---: | --- | ---: | ---: | --- | --- | --- |"]
    for c in rows:
        quality = ", ".join(x for x, on in (("missing jump", c.missing_jump), ("out of range", c.out_of_range),
                                             ("unseen levels", c.unseen)) if on)
        lines.append(f"| {c.column} | {batch.weights.get(c.column, 0.0):.1%} | {c.test} | "
                     f"{_sig(c.p_value)} | {_sig(c.psi)} ({_sig(c.psi_threshold)}) | {'yes' if c.drifted else ''} | "
                     f"{quality} | {c.change} |")
    if batch.prediction is not None:
        p = batch.prediction
        lines += ["", "## Predictions", "", f"PSI {_sig(p.psi)} (threshold {_sig(p.psi_threshold)}), {p.test} "
                  f"p-value {_sig(p.p_value)}: {'moved' if p.drifted else 'stable'}; {p.change}."]
    if batch.performance is not None:
        perf = batch.performance
        lines += ["", "## Performance", "", f"{perf.metric} on {perf.rows:,} labelled rows: {perf.batch:.4g} "
                  f"against {perf.holdout:.4g} on the holdout (baseline {_sig(perf.baseline)}); difference "
                  f"{perf.difference:+.4g}, noise (standard error) {perf.standard_error:.3g}, "
                  f"{perf.lift_lost:.0%} of the gain over the baseline lost.", "",
                  "| metric | batch |", "| --- | ---: |"] + [f"| {k} | {v:.4g} |" for k, v in perf.metrics.items()]
    for note in batch.notes:
        lines.append(f"\nNote: {note}")
    return "\n".join(lines) + "\n"
