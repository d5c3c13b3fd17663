"""Plain data for the HTML report's tables and small charts, read from a run's events and artifacts."""

from __future__ import annotations

from typing import Any

import numpy as np

from agent.record.reader import RunRecord

MAX_BARS = 12


def column_bars(col: dict, feature: dict | None) -> list[tuple[str, float]]:
    """A column's distribution as (label, share) bars: its levels when it has few, a histogram from the
    monitoring reference's quantiles for numbers, else its most frequent values from the profile."""
    feature = feature or {}
    levels = feature.get("levels") or {}
    if levels and feature.get("n_levels", MAX_BARS + 1) <= MAX_BARS:
        items = list(levels.items())
        try:
            items.sort(key=lambda kv: float(kv[0]))
        except ValueError:
            pass
        if feature.get("other_share"):
            items.append(("other", feature["other_share"]))
        return [(str(k), float(v)) for k, v in items]
    quantiles = feature.get("quantiles")
    if quantiles and len(quantiles) > 2 and quantiles[-1] > quantiles[0]:
        return histogram_from_quantiles(quantiles)
    top = col.get("top_values") or []
    total = sum(c for _, c in top) or 0
    if top and total and col.get("kind") in ("categorical", "boolean", "numeric") and col.get("n_unique", 0) > 1:
        return [(str(v), c / total) for v, c in top[:MAX_BARS]]
    return []


def histogram_from_quantiles(quantiles: list[float], bins: int = MAX_BARS) -> list[tuple[str, float]]:
    """Equal-width bins over the quantiles' range, each with the share of rows the quantiles put in it."""
    q = np.maximum.accumulate(np.asarray(quantiles, dtype=float))
    p = np.linspace(0.0, 1.0, len(q))
    edges = np.linspace(q[0], q[-1], bins + 1)
    # Where quantiles repeat (a value many rows share), the CDF jumps: take its right limit.
    cdf = np.array([p[np.searchsorted(q, e, side="right") - 1] if e < q[-1] else 1.0 for e in edges])
    cdf[0] = 0.0
    shares = np.diff(cdf)
    return [(f"{edges[i]:.4g}", float(shares[i])) for i in range(bins)]


def leaderboard_rows(run: RunRecord) -> list[dict]:
    """One row per candidate: its score with default settings, after tuning, per fold, its fit time, the
    trials it had and its best settings; the saved model's holdout score, predict time and size."""
    selection = run.last("leaderboard", stage="selection") or {}
    tuned = run.last("leaderboard", stage="tuning") or {}
    tuned_rows = {r["candidate"]: r for r in tuned.get("rows", [])}
    trials: dict[str, dict[str, int]] = {}
    for t in run.all("trial"):
        counts = trials.setdefault(t["candidate"], {})
        counts[t["state"]] = counts.get(t["state"], 0) + 1
    rows = []
    for r in selection.get("rows", []):
        best = tuned_rows.get(r["candidate"], r)
        rows.append({"candidate": r["candidate"], "label": r.get("label", r["candidate"]),
                     "selection": _score(r), "tuned": _score(tuned_rows[r["candidate"]])
                     if r["candidate"] in tuned_rows else None,
                     "folds": best.get("scores") or [], "fit_seconds": best.get("fit_seconds"),
                     "trials": trials.get(r["candidate"], {}), "params": best.get("params") or {},
                     "complete": best.get("complete", True)})
    return rows


def _score(row: dict) -> dict[str, Any]:
    return {"mean": row.get("mean"), "sd": row.get("sd"), "folds": row.get("folds"),
            "complete": row.get("complete", True)}


def finalists(run: RunRecord) -> list[dict]:
    """The models scored on the holdout (the first model, or the quick look's, and the final one), with
    the holdout score of the plan's metric, predict time per 1,000 rows, size on disk, and which is kept."""
    primary = (run.metrics or {}).get("primary")
    saved = {e["step"]: e for e in run.all("model_saved")}
    published = {e["step"]: e for e in run.all("holdout_metrics")}
    replace = run.decision("replace_first_model")
    out = []
    for step, e in published.items():
        out.append({"stage": "final model" if step == "evaluate" else "first model", "model": e.get("model"),
                    "score": (e.get("metrics") or {}).get(primary),
                    "predict_per_1000": e.get("predict_seconds_per_1000"),
                    "bytes": (saved.get(step) or {}).get("bytes"), "kept": False})
    if replace and replace.get("choice") is False and "evaluate" not in published:
        choice = (run.decision("final_model") or {}).get("choice") or {}
        model = choice.get("candidate") or "ensemble" if isinstance(choice, dict) else str(choice)
        out.append({"stage": "final model", "model": model,
                    "score": replace["evidence"].get("final"), "predict_per_1000": None, "bytes": None,
                    "kept": False})
    kept = next((r for r in out if r["stage"] == "final model" and (replace is None or replace.get("choice"))), None)
    if out:
        (kept or out[0])["kept"] = True
    return out
