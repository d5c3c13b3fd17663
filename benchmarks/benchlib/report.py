"""The markdown report: per dataset each system's score, rank and wall time, then the summary.

It reads the rows as they are stored in the JSON results (plain dicts), so an old results file can be
rendered again without running anything.
"""

from __future__ import annotations

import statistics

from .scoring import NEAR_BEST_PERCENT
from .systems import LABELS

METRIC_LABEL = {"roc_auc": "ROC AUC ↑", "log_loss": "log loss ↓", "rmse": "RMSE ↓"}


def wall_limit(budget: float) -> float:
    """The wall mlpilot promises for a budget; every system's wall is held against it."""
    return budget * 1.1 + 10


def fmt_score(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if metric == "rmse" and abs(value) >= 100 else f"{value:.4f}"


def _fmt_rank(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _score_cell(row: dict, system: str) -> str:
    res = row["systems"].get(system)
    if res is None:
        return "-"
    shown = "**error**" if res["error"] else fmt_score(res["score"], row["metric"])
    return f"{shown} ({_fmt_rank(row.get('ranks', {}).get(system))})"


def _wall_cell(row: dict, system: str, budget: float) -> str:
    res = row["systems"].get(system)
    if res is None or res["wall_seconds"] is None:
        return "-"
    over = system != "floor" and res["wall_seconds"] > wall_limit(budget)
    return f"{res['wall_seconds']:.1f}" + (" over" if over else "")


def render(rows: list[dict], budget: float, systems: list[str]) -> str:
    labels = [LABELS[s] for s in systems]
    lines = [f"### {' vs '.join(labels)}, budget {budget:g} s", "",
             "Each system: score (rank on the dataset), then its wall time in seconds "
             f"(\"over\": beyond budget x 1.1 + 10 s = {wall_limit(budget):.0f} s).", "",
             "| dataset | task | metric | " + " | ".join(f"{label} | s" for label in labels) + " |",
             "| --- | --- | --- | " + " | ".join("---: | ---:" for _ in systems) + " |"]
    for row in rows:
        cells = " | ".join(f"{_score_cell(row, s)} | {_wall_cell(row, s, budget)}" for s in systems)
        lines.append(f"| {row['dataset']} | {row['task']} | {METRIC_LABEL[row['metric']]} | {cells} |")
    lines += ["", *summary(rows, budget, systems)]
    lines += ["", *secondary(rows, systems)]
    sources: dict[str, list[str]] = {}
    for row in rows:
        source = (row["systems"].get("mlpilot") or {}).get("extra", {}).get("source")
        if source:
            sources.setdefault(source, []).append(row["dataset"])
    if len(sources) > 1:
        lines += ["", f"Warning: mlpilot's source changed during the benchmark ({len(sources)} versions): "
                  + "; ".join(f"{h}: {', '.join(names)}" for h, names in sources.items())]
    problems = [(row["dataset"], system, res) for row in rows for system, res in row["systems"].items()
                if res["error"] or res["notes"]]
    if problems:
        lines += ["", "Errors and notes:", ""]
        for dataset, system, res in problems:
            text = "; ".join(([f"ERROR {res['error']}"] if res["error"] else []) + res["notes"])
            lines.append(f"- {dataset} / {system}: {text}")
    return "\n".join(lines)


def summary(rows: list[dict], budget: float, systems: list[str]) -> list[str]:
    """Mean rank and walls per system; mlpilot's head-to-head and how often it is close to the best."""
    ranked = [row for row in rows if row.get("ranks")]
    lines = [f"Summary over {len(ranked)} dataset(s) (a failure ranks last; ties share the average place):", "",
             "| system | mean rank | scored | failed | median wall s | max wall s | walls over |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for system in systems:
        ranks = [row["ranks"][system] for row in ranked if system in row["ranks"]]
        results = [row["systems"][system] for row in rows if system in row["systems"]]
        walls = [r["wall_seconds"] for r in results if r["wall_seconds"] is not None and not r["error"]]
        over = sum(w > wall_limit(budget) for w in walls) if system != "floor" else 0
        lines.append(f"| {LABELS[system]} | {statistics.mean(ranks) if ranks else float('nan'):.2f} | "
                     f"{sum(r['score'] is not None for r in results)} | {sum(bool(r['error']) for r in results)} | "
                     f"{statistics.median(walls) if walls else float('nan'):.1f} | "
                     f"{max(walls) if walls else float('nan'):.1f} | {over} |")
    if "mlpilot" not in systems or len(systems) < 2:
        return lines
    lines += ["", "mlpilot head-to-head (tie rule as for ranks; a system that failed loses to one that scored):", "",
              "| mlpilot vs | wins | ties | losses |", "| --- | ---: | ---: | ---: |"]
    for ref in systems:
        if ref == "mlpilot":
            continue
        outcomes = [row.get("vs", {}).get(ref, {}).get("outcome") for row in rows]
        lines.append(f"| {LABELS[ref]} | {outcomes.count('win')} | {outcomes.count('tie')} | "
                     f"{outcomes.count('loss')} |")
    # Rows where another system scored; mlpilot's gap is None there when mlpilot itself failed.
    compared = [row for row in rows if row.get("best_other") is not None]
    gaps = [(row["mlpilot_gap_to_best"], row["metric"]) for row in compared
            if row.get("mlpilot_gap_to_best") is not None]
    near = sum(round(gap, 9) <= NEAR_BEST_PERCENT[metric] for gap, metric in gaps)  # no float noise at 3.0
    # Ahead: a win (by the tie rule) against every other system, not merely the highest number.
    ahead = sum(all(v["outcome"] == "win" for v in row["vs"].values()) for row in compared)
    lines += ["", f"mlpilot within 1% (ROC AUC) / 3% (log loss, RMSE) of the best other system on {near} of "
              f"{len(compared)} dataset(s); better than every other system on {ahead}."]
    return lines


def secondary(rows: list[dict], systems: list[str]) -> list[str]:
    """Accuracy or R2 per system, and what each chose."""
    lines = ["Secondary (accuracy for classification, R2 for regression):", "",
             "| dataset | " + " | ".join(LABELS[s] for s in systems) + " |",
             "| --- | " + " | ".join("---:" for _ in systems) + " |"]
    for row in rows:
        key = "r2" if row["task"] == "regression" else "accuracy"
        cells = []
        for system in systems:
            res = row["systems"].get(system)
            value = None if res is None else res["secondary"].get(key)
            cells.append("-" if value is None else f"{value:.4f}")
        lines.append(f"| {row['dataset']} ({key}) | {' | '.join(cells)} |")
    chosen = [s for s in systems if s != "floor"]
    lines += ["", "Chosen models:", "", "| dataset | " + " | ".join(LABELS[s] for s in chosen) + " |",
              "| --- | " + " | ".join("---" for _ in chosen) + " |"]
    for row in rows:
        cells = []
        for system in chosen:
            res = row["systems"].get(system) or {}
            text = res.get("model") or "-"
            if system == "mlpilot" and res:
                extra = res.get("extra", {})
                text += f" ({extra.get('status') or '?'}, exit {extra.get('exit_code')})"
            cells.append(text)
        lines.append(f"| {row['dataset']} | {' | '.join(cells)} |")
    return lines
