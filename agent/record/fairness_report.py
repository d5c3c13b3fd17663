"""The fairness audit as a person reads it: the report's section, the summary's warnings, and the run's
``model_card.md`` (what the model is for, what it was trained and judged on, how it does across groups,
its limits and warnings), all from the run folder alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.record.reader import RunRecord
from agent.record.runfolder import write_text
from tools.fmt import markdown_table as _table
from tools.fmt import number
from tools.metrics import metric_label

MODEL_CARD = "model_card.md"
_NAMES = {"demographic_parity_difference": "demographic parity difference (selection rates)",
          "demographic_parity_ratio": "demographic parity ratio (lowest over highest selection rate)",
          "equalized_odds_difference": "equalized odds difference (largest TPR or FPR gap)",
          "accuracy_difference": "accuracy difference",
          "mae_difference": "MAE difference", "mean_error_difference": "mean error difference"}


def fairness_warnings(run: RunRecord) -> list[str]:
    """The last audit's flagged disparities, one sentence each (empty when none, or no audit)."""
    audit = run.last("fairness_audit")
    return [f"fairness: {w}" for w in audit.get("warnings", [])] if audit else []


def fairness_section(run: RunRecord) -> str:
    """The report's "Fairness" section (Markdown), or "" when the plan chose no column and ran no audit."""
    decision = run.decision("sensitive_columns")
    audit = run.last("fairness_audit")
    if decision is None and audit is None:
        return ""
    lines = ["## Fairness", ""]
    if decision is not None:
        lines.append(f"Columns compared: {decision['reason']}.")
        found = (decision.get("evidence") or {}).get("found") or {}
        if found:
            lines += [""] + [f"- **{c}**: {why}" for c, why in found.items()]
        lines.append("")
    if not audit:
        if decision and decision.get("choice"):
            lines.append("No audit: the run ended before a model was scored on the holdout.\n")
        return "\n".join(lines)
    lines.append(f"On the {audit['n_rows']:,} held-out rows, the published model ({audit.get('model')}); "
                 + _how(audit) + f" Intervals: {audit.get('interval')}, flagged when the gap is large and its "
                 "interval excludes no gap.")
    if audit.get("warnings"):
        lines += ["", "**Flagged:**", ""] + [f"- {w}" for w in audit["warnings"]]
    else:
        lines += ["", "No large gap whose interval excludes no gap: the groups below are treated alike within "
                  "what the holdout can tell."]
    for column in audit["columns"]:
        lines += ["", f"### {column['column']} ({column.get('category') or 'sensitive'})", "", column["note"] + ".", "",
                  _group_table(column["groups"], audit["task"], audit.get("positive_class"))]
        if column["disparities"]:
            lines.append(_gap_table(column["disparities"]))
    for note in audit.get("notes", []):
        lines.append(f"Note: {note}.")
    return "\n".join(lines).rstrip() + "\n"


def _how(audit: dict) -> str:
    if audit["task"] == "binary":
        return (f"'selected' means predicted '{audit.get('positive_class')}' at the threshold "
                f"{number(audit.get('threshold'), digits=3)}; mean score beside observed rate shows calibration "
                "in each group.")
    if audit["task"] == "multiclass":
        return "accuracy per group, and how often each group is predicted each class."
    return "errors are prediction minus actual: a positive mean error means the group is over-predicted."


def _group_table(groups: list[dict], task: str, positive: Any) -> str:
    if task == "binary":
        header = ["group", "rows", "share", "selected", "TPR", "FPR", "precision", "mean score", "observed rate"]
        keys = ["selection_rate", "true_positive_rate", "false_positive_rate", "precision", "mean_score",
                "observed_rate"]
    elif task == "multiclass":
        header = ["group", "rows", "share", "accuracy", "predicted as"]
        keys = ["accuracy"]
    else:
        header = ["group", "rows", "share", "MAE", "mean error", "mean prediction", "mean actual"]
        keys = ["mae", "mean_error", "mean_prediction", "mean_actual"]
    rows = []
    for g in groups:
        row = [g["group"], f"{g['n']:,}", f"{g['share']:.1%}"] + [_cell(g.get(k), task) for k in keys]
        if task == "multiclass":
            shares = g.get("predicted_shares") or {}
            row.append(", ".join(f"{c} {v:.0%}" for c, v in shares.items()))
        rows.append(row)
    return _table(header, rows)


def _gap_table(disparities: list[dict]) -> str:
    rows = []
    for d in disparities:
        interval = "" if d.get("low") is None else f"{number(d['low'], digits=3)} to {number(d['high'], digits=3)}"
        rows.append([_NAMES.get(d["name"], d["name"]) + (f" ({d['detail']})" if d.get("detail") else ""),
                     number(d["value"], digits=3), interval, f"{d['between'][0]} vs {d['between'][1]}",
                     number(d["limit"], digits=3), "**yes**" if d["flagged"] else "large" if d["large"] else "no"])
    return "\n" + _table(["gap", "value", "90% interval", "between", "large at", "flagged"], rows)


def _cell(value: Any, task: str) -> str:
    if value is None:
        return "-"
    return number(value, digits=4, significant=True) if task == "regression" else f"{value:.3f}"


def render_model_card(run_dir: Path) -> Path:
    """Write ``model_card.md`` in ``run_dir`` (intended use, data, metrics, groups, limits, warnings)."""
    run = RunRecord(Path(run_dir))
    m, metrics = run.manifest, run.metrics
    plan = m.get("plan") or {}
    data = m.get("data") or {}
    lines = [f"# Model card: `{m['run_id']}`", "",
             "Made by mlpilot from the run folder; `report.md` has every decision and figure.", "",
             "## Intended use", "",
             f"Goal, as given: \"{m.get('goal') or '(none given)'}\".", "",
             f"Predicts **{plan.get('target', '?')}** ({plan.get('task', '?')}) from "
             f"{len(plan.get('features', []))} columns of rows like the training data. Use it for rows drawn "
             "the way the training rows were; check new batches with `mlpilot monitor` before relying on it. It "
             "is not meant for decisions about a person without a person reviewing them.", "",
             "## Data", "",
             f"- File `{Path(data.get('path', '?')).name}`: {data.get('rows', 0):,} rows, {data.get('columns', '?')} "
             f"columns, sha256 `{str(data.get('sha256', ''))[:16]}...`.",
             f"- Inputs: {', '.join(plan.get('features', [])) or '-'}."]
    dropped = plan.get("dropped") or {}
    if dropped:
        lines.append("- Left out: " + "; ".join(f"{c} ({why.split(':')[0]})" for c, why in dropped.items()) + ".")
    lines += ["", "## Performance", ""]
    if metrics:
        primary = metrics["primary"]
        lines.append(f"On {metrics['n_rows']:,} held-out rows never used for training or choices "
                     f"({metrics.get('model')}); the plan's metric is {metric_label(primary)}.")
        lines += ["", _table(["metric", "model", "baseline"],
                             [[metric_label(k) + (" *" if k == primary else ""), number(v),
                               number(metrics["baseline"].get(k))] for k, v in metrics["metrics"].items()])]
        if metrics.get("threshold") is not None:
            lines.append(f"Decision threshold {metrics['threshold']:.3f}.")
    else:
        lines.append("No model was scored on the holdout.")
    lines += ["", _groups(run), "## Limits", ""]
    lines += [f"- {limit}" for limit in _limits(run)]
    warnings = fairness_warnings(run) + [e["message"] for e in run.all("warning")]
    lines += ["", "## Warnings", ""] + ([f"- {w}" for w in warnings] or ["None."])
    path = Path(run_dir) / MODEL_CARD
    write_text(path, "\n".join(lines).rstrip() + "\n")
    return path


def _groups(run: RunRecord) -> str:
    audit = run.last("fairness_audit")
    decision = run.decision("sensitive_columns")
    head = "## Groups of people\n\n"
    if audit is None:
        chosen = (decision or {}).get("choice") or {}
        return head + ("No audit was made: " + ("the run ended before a model was scored." if chosen else
                       "no column describing people was found or named (`--sensitive COL` names one).")) + "\n"
    lines = []
    for column in audit["columns"]:
        used = [d for d in column["disparities"]]
        gaps = "; ".join(f"{_NAMES.get(d['name'], d['name']).split(' (')[0]} {number(d['value'], digits=3)}"
                         + (" (flagged)" if d["flagged"] else "") for d in used) or "too few rows to compare"
        sizes = ", ".join(f"{g['group']} {g['n']:,}" for g in column["groups"])
        lines.append(f"- **{column['column']}** ({column.get('category')}): groups {sizes}; {gaps}.")
    flagged = (f"{len(audit['warnings'])} gap(s) flagged (under Warnings)" if audit.get("warnings")
               else "No gap flagged")
    return head + "\n".join(lines) + f"\n\n{flagged}; the figures per group are in report.md, section Fairness.\n\n"


def _limits(run: RunRecord) -> list[str]:
    m, metrics = run.manifest, run.metrics
    out = []
    if metrics:
        spread = metrics.get("spread") or {}
        if spread:
            out.append(f"The holdout score is an estimate: 5-95% bootstrap range {number(spread.get('p05'))} to "
                       f"{number(spread.get('p95'))}.")
        out.append(f"Judged on {metrics['n_rows']:,} rows from the same file as the training rows: new data may "
                   "differ (time, place, population).")
    if m.get("budget"):
        out.append(f"Trained within a {m['budget']:.0f} s budget; a longer one may find a better model.")
    if m.get("status") != "completed":
        out.append(f"The run did not complete (status {m.get('status')}): this is the best model it had.")
    audit = run.last("fairness_audit")
    if audit:
        small = [f"{c['column']}: {', '.join(c['small_groups'])}" for c in audit["columns"] if c["small_groups"]]
        if small:
            out.append(f"Groups under {audit.get('min_group', 20)} held-out rows cannot be compared: "
                       + "; ".join(small) + ".")
        out.append("Groups are compared only on the columns listed; other groups (or combinations) may fare "
                   "differently, and a column left out of the model can still be reflected by the others.")
    return out
