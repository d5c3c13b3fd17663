"""The leaderboard of a run, for the chat: every model tried, its cross-validated score with default
settings and after tuning, and what was finally chosen and how it did on the holdout. Read from the
event log only, so it shows what the run did, not what it might have done."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from agent.chat.explain import choice_text
from agent.record.reader import RunRecord
from tools.metrics import metric_label


def run_leaderboard(run_dir: Path | None) -> tuple[Table, list[str]] | None:
    """The `leaderboard` of the run in ``run_dir``; None without a run, a log or a selection yet."""
    if run_dir is None or not (run_dir / "events.jsonl").exists():
        return None
    return leaderboard(RunRecord(run_dir))


def leaderboard(run: RunRecord) -> tuple[Table, list[str]] | None:
    """The table to print and the same facts as lines of text (for the LLM); None before selection."""
    selection = run.leaderboards("selection")
    if not selection:
        return None
    first, metric = selection[-1], selection[-1]["metric"]
    tuned = run.last("leaderboard", stage="tuning")
    # Candidates the tuning gave no trials keep their default settings: they were not tuned.
    shares = (run.last("tuning_started") or {}).get("shares", {})
    after = {r["candidate"]: r for r in (tuned or {}).get("rows", []) if shares.get(r["candidate"])}
    rows = sorted(first["rows"], key=lambda r: after.get(r["candidate"], {}).get("rank", 100 + r["rank"]))
    table = Table(title=f"models tried: CV {metric_label(metric)}, mean +- sd over folds")
    for col in ("model", "default settings", "after tuning", "fit (s)"):
        table.add_column(col, justify="left" if col == "model" else "right")
    cited = f"events {first['seq']}, {tuned['seq']}" if tuned else f"event {first['seq']}"
    lines = [f"Leaderboard ({cited}), CV {metric_label(metric)}:"]
    for r in rows:
        t = after.get(r["candidate"])
        default, best = _score(r), (_score(t) if t else "not tuned")
        table.add_row(r.get("label", r["candidate"]), default, best, f"{(t or r)['fit_seconds']:.1f}")
        lines.append(f"  {r['candidate']}: default {default}; " + (f"after tuning {best}" if t else best))
    for f in run.all("candidate_failed"):
        table.add_row(f["candidate"], "failed", "", "")
        lines.append(f"  {f['candidate']}: failed ({f.get('error', '')})")
    final, holdout = run.decision("final_model"), run.last("holdout_metrics")
    if final:
        caption = f"chosen: {choice_text(final['choice'])} (event {final['seq']})"
        if holdout and holdout.get("metrics", {}).get(metric) is not None:
            caption += (f"; holdout {metric_label(metric)} {holdout['metrics'][metric]:.4f}, baseline "
                        f"{holdout['baseline'].get(metric, float('nan')):.4f} (event {holdout['seq']})")
        table.caption = caption
        lines.append(caption[0].upper() + caption[1:])
    return table, lines


def _score(row: dict) -> str:
    text = f"{row['mean']:.4f} +- {row['sd']:.4f}"
    return text if row.get("complete", True) else text + f" ({row['folds']} folds, cut by time)"
