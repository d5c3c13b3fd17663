"""Numbers and tables as people read them in reports, answers, progress lines and the language model's briefs."""

from __future__ import annotations

import math
from typing import Any

# Above this a score is a count or an error in the data's own units: decimals only add noise.
LARGE = 1e5


def number(value: Any, *, digits: int = 4, significant: bool = False, missing: str = "n/a") -> str:
    """``value`` for reading: None (or NaN) as ``missing``; a float with ``digits`` decimals, or with
    ``digits`` significant digits when ``significant``; a large one (>= 1e5) whole, with thousands
    separators; a whole number as it is; anything else as ``str`` gives it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):   # counts are exact: no decimals, no rounding
        return f"{value:,}" if abs(value) >= LARGE else str(value)
    if abs(value) >= LARGE:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}" if significant else f"{value:.{digits}f}"


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; a cell's ``|`` is escaped and its line breaks become spaces, so a row stays one row."""
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
