"""The run report as one self-contained HTML page (``report.html``), rendered from the run folder alone:
the same sections as report.md (converted from its Markdown, so the two never disagree) plus what a page
shows better: charts (inline SVG), a filterable decision log with collapsible evidence, the data profile
with a distribution per column, a leaderboard with per-fold scores and tuned settings.

A run folder may come from someone else: every value from it is escaped, Markdown is rendered without
raw HTML or images, and the page's Content-Security-Policy allows no network request at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from agent.record import charts
from agent.record import report as md
from agent.record.html_data import column_bars, finalists, leaderboard_rows
from agent.record.reader import RunRecord
from agent.record.runfolder import read_json, read_manifest, write_text
from tools.fmt import number
from tools.metrics import METRICS, metric_label

MAX_COLUMN_CHARTS = 100
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")
_ENV = Environment(loader=PackageLoader("agent.record", "templates"), autoescape=select_autoescape(["j2"]),
                   trim_blocks=True, lstrip_blocks=True)
_ENV.filters["num"] = lambda v, digits=4: number(v, digits=digits)
_ENV.filters["pretty"] = lambda v: json.dumps(v, indent=1, default=str)[:6000]


def _html(markdown: str) -> Markup:
    """Markdown from the report's sections as HTML; no raw HTML, no images, links only to safe schemes."""
    return Markup(_MARKDOWN.render(markdown)) if markdown else Markup("")


def _strip_heading(markdown: str) -> str:
    """A Markdown section without its ``## title`` line (the page gives its own)."""
    lines = markdown.splitlines()
    return "\n".join(lines[1:]) if lines and lines[0].startswith("#") else markdown


def render_html(run_dir: Path) -> Path:
    """Write ``report.html`` in ``run_dir`` from its events and artifacts; returns its path."""
    run_dir = Path(run_dir)
    read_manifest(run_dir)
    run = RunRecord(run_dir)
    page = _ENV.get_template("report.html.j2").render(**context(run))
    path = run_dir / "report.html"
    write_text(path, page)
    return path


def context(run: RunRecord) -> dict[str, Any]:
    """Everything the template shows, from the run folder."""
    manifest, metrics = run.manifest, run.metrics
    curves = run.artifact("curves")
    sections = {name: _html(_strip_heading(fn(run))) for name, fn in (
        ("plan", md._plan), ("asked", md._asked), ("data", md._data), ("leakage", md._leakage),
        ("tuning", md._tuning), ("holdout", md._holdout), ("narrative", md._narrative), ("llm", md._llm),
        ("time", md._time), ("warnings", md._warnings), ("reproduce", md._reproduce), ("retrained", md._retrained),
        ("fairness", md.fairness_section))}
    # The profile table is drawn below with a chart per column; the Markdown's plain one is left out.
    sections["data"] = _html(_strip_heading(md._data(run)).split("\n| column |")[0])
    header = md._header(run).splitlines()
    return {
        "title": f"mlpilot run {run.run_id}",
        "run_id": run.run_id,
        "summary": _html("\n".join(header[1:])),
        "sections": sections,
        "decisions": _decisions(run),
        "profile": _profile(run),
        "leaderboard": leaderboard_rows(run),
        "finalists": finalists(run),
        "ensemble": _ensemble(manifest),
        "figures": _figures(run, metrics, curves),
        "importance_chart": _importance_chart(run, metrics),
        "pd_charts": _pd_charts(run, metrics, curves),
        "per_class": curves.get("per_class", []),
        "metric_label": metric_label(metrics.get("primary")) if metrics else "",
        "generated_from": run.dir.name,
    }


def _decisions(run: RunRecord) -> list[dict]:
    out = []
    for d in run.all("decision"):
        choice = d["choice"]
        if isinstance(choice, dict):
            text = ", ".join(f"{k}={md._short(v)}" for k, v in choice.items())
        elif isinstance(choice, list):
            text = ", ".join(map(str, choice))
        else:
            text = str(choice)
        out.append({"seq": d.get("seq"), "step": d.get("step") or "", "question": d["question"],
                    "choice": md._short(text, 120), "actor": d.get("actor", ""), "reason": d.get("reason", ""),
                    "alternatives": [(md._short(a.get("choice"), 60), a.get("why_not", ""))
                                     for a in d.get("alternatives") or []],
                    "evidence": d.get("evidence") or {}})
    return out


def _profile(run: RunRecord) -> list[dict]:
    reference = read_json(run.dir / "reference.json") if (run.dir / "reference.json").exists() else {}
    features = reference.get("features", {}) if isinstance(reference, dict) else {}
    dropped = run.dropped()
    out = []
    for i, col in enumerate(run.profile.get("columns", [])):
        # A chart costs tens of milliseconds: a very wide table gets them for its first columns only.
        bars = column_bars(col, features.get(col["name"])) if i < MAX_COLUMN_CHARTS else []
        out.append({"name": col["name"], "kind": col.get("kind"), "missing": col.get("missing_share"),
                    "distinct": col.get("n_unique"), "flags": "; ".join(col.get("flags", [])),
                    "dropped": dropped.get(col["name"], ""),
                    "target": col["name"] == run.profile.get("target"),
                    "chart": Markup(charts.distribution(bars)) if bars else None})
    return out


def _ensemble(manifest: dict) -> list[dict]:
    spec = (manifest.get("model") or {}).get("spec") or {}
    members = spec.get("members") or []
    total = sum(m.get("weight", 1) for m in members) or 1
    return [{"candidate": m.get("candidate"), "source": m.get("source") or m.get("name") or "",
             "weight": m.get("weight", 1), "share": m.get("weight", 1) / total,
             "params": m.get("params", {})} for m in members]


def _figures(run: RunRecord, metrics: dict, curves: dict) -> list[dict]:
    """The holdout charts for this task, each with a caption."""
    figures: list[dict] = []
    task = (run.decision("task") or {}).get("choice")
    if curves.get("roc"):
        point = curves.get("operating_point")
        figures.append({"title": "ROC curve", "svg": charts.roc(curves["roc"], point,
                                                                 metrics.get("metrics", {}).get("roc_auc")),
                        "caption": "The red point is the decision threshold the run chose."})
        figures.append({"title": "Precision and recall", "svg": charts.precision_recall(
            curves["pr"], point, curves.get("base_rate")), "caption": "Every threshold's precision and recall."})
        figures.append({"title": "Cumulative gains",
                        "svg": charts.gains(curves["gains"], point, metrics.get("n_rows", 0)),
                        "caption": "Calling the rows the model finds most likely first: the share of positives "
                                   "found for each share of rows called."})
    if curves.get("calibration"):
        label = (run.decision("positive_class") or {}).get("choice", "the positive class")
        if task != "binary":
            label = "the predicted class"
        figures.append({"title": "Calibration", "svg": charts.calibration(curves["calibration"], str(label)),
                        "caption": "Rows binned by predicted probability: a calibrated model's points lie on the "
                                   "diagonal."})
    if curves.get("scatter"):
        target = (run.decision("target") or {}).get("choice", "target")
        figures.append({"title": "Predicted against actual",
                        "svg": charts.predicted_vs_actual(curves["scatter"], str(target)),
                        "caption": f"A sample of {len(curves['scatter']['actual'])} holdout rows."})
        figures.append({"title": "Residuals", "svg": charts.residuals(curves["residuals"]),
                        "caption": f"Mean residual {number(curves.get('residual_mean'))}: far from 0 means the "
                                   "model is biased up or down."})
    trials = run.all("trial")
    if trials:
        metric = (metrics or {}).get("primary") or (run.decision("metric") or {}).get("choice")
        greater = METRICS[metric].greater_is_better if metric in METRICS else True
        figures.append({"title": "Tuning history", "svg": charts.tuning_history(trials, greater, metric_label(metric)),
                        "caption": "Each trial's cross-validated score as the run went on; the line is each "
                                   "model's best so far; crosses are trials pruned, failed or cut by time.",
                        "wide": True})
    for f in figures:
        f["svg"] = Markup(f["svg"])
    return figures


def _importance_chart(run: RunRecord, metrics: dict) -> Markup | None:
    imp = run.last("importances")
    if not imp or not imp.get("rows"):
        return None
    return Markup(charts.importances(imp["rows"], metric_label(metrics.get("primary"))))


def _pd_charts(run: RunRecord, metrics: dict, curves: dict) -> list[Markup]:
    items = curves.get("partial_dependence") or []
    outputs = [str(c) for c in curves.get("outputs", [])]
    task = (run.decision("task") or {}).get("choice")
    ylabel = "mean prediction" if task == "regression" else "mean probability"
    return [Markup(charts.partial_dependence(item, outputs, ylabel)) for item in items]


def render_monitoring_html(record: Path) -> Path:
    """Write ``report.html`` in a monitoring record folder from its summary.json and events."""
    record = Path(record)
    summary = read_json(record / "summary.json")
    check = summary.get("check") or {}
    weights = check.get("weights") or {}
    columns = []
    for c in sorted(check.get("columns", []), key=lambda c: -weights.get(c["column"], 0.0)):
        bins = c.get("bins") or {}
        chart = charts.drift(bins["labels"], bins["reference"], bins["batch"], c["column"]) if bins.get("labels") \
            else None
        columns.append({**c, "weight": weights.get(c["column"], 0.0), "chart": Markup(chart) if chart else None})
    prediction = dict(check.get("prediction") or {})
    if prediction.get("bins", {}).get("labels"):
        b = prediction["bins"]
        prediction["chart"] = Markup(charts.drift(b["labels"], b["reference"], b["batch"], "predictions"))
    verdict = RunRecord(record).decision("verdict")
    page = _ENV.get_template("monitoring.html.j2").render(
        title=f"Monitoring {summary.get('run_id', '')}", summary=summary, check=check, columns=columns,
        prediction=prediction or None, performance=check.get("performance"), verdict=verdict, record=record.name)
    path = record / "report.html"
    write_text(path, page)
    return path


def comparison_page(runs_dir: Path) -> Path:
    """Where a comparison's page goes unless the person says: ``RUNS_DIR/comparisons/<time>.html``."""
    from datetime import datetime, timezone

    return Path(runs_dir) / "comparisons" / f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}.html"


def render_comparison_html(comparison: object, path: Path) -> Path:
    """Write a comparison of runs (agent.record.compare) as one HTML page at ``path`` (its folder made)."""
    from agent.record.compare import headline

    labels = {name: metric_label(name) for name in comparison.metrics}
    ids = " / ".join(r["run_id"] for r in comparison.runs)
    page = _ENV.get_template("compare.html.j2").render(title=f"Comparing {ids}", c=comparison,
                                                       headline=headline(comparison), labels=labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, page)
    return path
