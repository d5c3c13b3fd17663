"""What the model may see: summaries built from profiles, scores and leaderboards, never cell values.

Column names come from the user's file and may carry anything, so they are cleaned of control
characters, cut to 64 characters and always shown quoted (JSON string syntax), marking them as data.
Categorical top values, class labels and any other cell content are left out; counts and statistics of
numbers stay.
"""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any

from tools.fmt import number

# Briefs give the model significant digits; a figure it cannot have is a question mark.
_num = partial(number, significant=True, missing="?")

MAX_NAME = 64
MAX_COLUMNS = 200


def quote(name: Any) -> str:
    """A column name as safe, quoted, length-limited text."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(name)).strip()
    if len(text) > MAX_NAME:
        text = text[: MAX_NAME - 1] + "…"
    return json.dumps(text, ensure_ascii=False)


def column_line(col: dict) -> str:
    """One column as the model sees it: kind, gaps, variety, numeric range, flags."""
    parts = [f"{quote(col['name'])}: {col['kind']}", f"{col['missing_share']:.0%} missing" if col.get("missing_share")
             else "no gaps", f"{col['n_unique']:,} distinct"]
    stats = col.get("stats") or {}
    if col["kind"] == "numeric" and stats:
        parts.append(f"min {_num(stats.get('min'))}, median {_num(stats.get('median'))}, max {_num(stats.get('max'))}")
    if col["kind"] == "datetime" and stats:
        parts.append(f"from {str(stats.get('min'))[:10]} to {str(stats.get('max'))[:10]}")
    flags = [f for f, on in (("identifier", col.get("id_like")), ("constant", col.get("constant")),
                             ("nearly constant", col.get("near_constant")), ("free text", col.get("free_text")))
             if on]
    if flags:
        parts.append("flags: " + ", ".join(flags))
    return "- " + "; ".join(parts)


def profile_brief(profile: dict) -> str:
    """Every column in a line (the first 200 columns), plus duplicates."""
    cols = profile.get("columns", [])
    lines = [column_line(c) for c in cols[:MAX_COLUMNS]]
    if len(cols) > MAX_COLUMNS:
        lines.append(f"- ... and {len(cols) - MAX_COLUMNS} more columns")
    if profile.get("duplicate_rows"):
        lines.append(f"Duplicate rows: {profile['duplicate_rows']:,}.")
    return "\n".join(lines)


def describe(profile: dict, column: str) -> str:
    """One column's summary for the describe_column tool."""
    col = next((c for c in profile.get("columns", []) if c["name"] == column), None)
    if col is None:
        return f"no column {quote(column)}"
    stats = {k: v for k, v in (col.get("stats") or {}).items() if isinstance(v, (int, float)) or v is None}
    return column_line(col)[2:] + (f"; statistics: {json.dumps(stats)}" if stats else "")


def target_brief(evidence: dict, counts: dict | None) -> str:
    """The target's values as evidence for the task, without its labels."""
    text = f"{evidence.get('distinct_values')} distinct values in {evidence.get('rows'):,} rows, dtype {evidence.get('dtype')}"
    if evidence.get("integer_valued") is not None:
        text += ", whole numbers" if evidence.get("integer_valued") else ", not whole numbers"
    if counts:
        sizes = sorted(counts.values(), reverse=True)
        text += f"; class sizes {', '.join(f'{n:,}' for n in sizes[:10])}"
    return text + f"; the data suggest: {evidence.get('suggested')}"


def leakage_brief(leakage: dict) -> str:
    """Scores of the strongest single columns and the suspects, as figures."""
    scores = sorted(leakage.get("single_column_scores", {}).items(), key=lambda kv: -(kv[1] or 0))[:8]
    lines = [f"Metric {leakage.get('metric')}; a quick model on all columns scores "
             f"{_num(leakage.get('full_score'))}. Best single columns: "
             + ", ".join(f"{quote(k)} {_num(v)}" for k, v in scores) + "."]
    for s in leakage.get("suspects", []):
        ev = s.get("evidence", {})
        figures = ", ".join(f"{k} {_num(v)}" for k, v in ev.items() if isinstance(v, (int, float)))
        lines.append(f"Suspect {quote(s['column'])} ({s['severity']}, rule {s['rule']}): alone "
                     f"{_num(s.get('score_alone'))}; {figures}")
    if not leakage.get("suspects"):
        lines.append("No suspects.")
    return "\n".join(lines)


def scores_brief(leakage: dict) -> str:
    scores = sorted(leakage.get("single_column_scores", {}).items(), key=lambda kv: -(kv[1] or 0))
    return "\n".join(f"{quote(k)}: {_num(v)}" for k, v in scores[:60]) or "no scores"


def leaderboard_brief(rows: list[dict]) -> str:
    if not rows:
        return "(no candidate finished)"
    return "\n".join(f"{r.get('rank', i + 1)}. {r['candidate']}: {r['mean']:.5g} +- {r['sd']:.3g} over {r['folds']} folds, "
                     f"{r['fit_seconds']:.1f} s" + ("" if r.get("complete", True) else " (cut by time)")
                     for i, r in enumerate(rows))
