"""Conform: bring a later batch (to predict, to monitor, to retrain on) to the schema a model was trained on.

`conform(batch, schema, required=...)` takes a batch as `tools.intake.read_table` read it and the training
`Table.schema()` (one `ColumnSpec` per column, stored in the run's manifest) and returns the batch's
columns in the schema's order and kinds, with one note per thing it had to do:

- columns are matched by exact name first, then by a unique match ignoring case and surrounding spaces;
- a required column that is still missing is a `DataError` naming it and the closest names present, since
  guessing which column the model meant would give silently wrong predictions;
- extra columns are dropped; absent optional ones (the target, at predict time) are left out;
- a column of another kind is converted the way intake would have read it at training (numbers with
  the training decimal mark, booleans with the training tokens, dates with the training format), and
  values that cannot be read become missing, counted in the note. A column that must go back to text
  uses the batch's own spellings, so "Yes"/"No" stay as written.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tools import coltypes
from tools.errors import DataError
from tools.intake import ColumnSpec, Table

__all__ = ["column_key", "conform"]


def conform(frame: pd.DataFrame | Table, schema: list[dict[str, Any]], *, required: Sequence[str],
            expected_absent: Sequence[str] = ()) -> tuple[pd.DataFrame, list[str]]:
    """Coerce a new batch (read with read_table) to a training schema, for prediction, monitoring and retraining.

    Missing required columns: DataError naming them (and the closest names present, via difflib).
    A name that differs only in case or surrounding spaces is matched, with a note. Extra columns:
    dropped, with a note. Schema columns that are absent but not required (e.g. the target at predict
    time) are left out, with a note unless they are in ``expected_absent``. Columns of another type:
    coerced the same way as at training (numbers with errors -> NaN and a note counting how many values
    could not be read, booleans via the stored tokens, datetimes via the stored format), with a note.

    Args:
        frame: the batch, as a DataFrame or as the `Table` from read_table (the Table also carries the
            batch's own boolean spellings and date formats, used when a column must go back to text).
        schema: the training `Table.schema()`.
        required: names that must be present (usually the model's input columns).
        expected_absent: names whose absence is normal for the caller (the target when predicting).

    Returns:
        (frame with the schema's columns that are present, in schema order; notes)
    """
    batch_specs: dict[str, ColumnSpec] = {}
    if isinstance(frame, Table):
        batch_specs = {c.name: c for c in frame.columns}
        frame = frame.frame
    specs = [ColumnSpec.from_dict(d) for d in schema]
    notes: list[str] = []
    present = [str(c) for c in frame.columns]
    wanted = [s.name for s in specs] + [r for r in required if r not in {s.name for s in specs}]
    source = _match_columns(present, wanted, notes)
    missing = [r for r in required if r not in source]
    if missing:
        unused = [c for c in present if c not in source.values()]
        parts = []
        for name in missing:
            close = difflib.get_close_matches(name, unused, n=2, cutoff=0.6)
            parts.append(repr(name) + (f" (closest present: {', '.join(repr(c) for c in close)})" if close else ""))
        raise DataError(
            f"The data lacks {len(missing)} column(s) the model needs: {'; '.join(parts)}. "
            f"Columns present: {', '.join(present[:20])}{', ...' if len(present) > 20 else ''}. "
            "Rename the columns to match the training data."
        )
    extra = [c for c in present if c not in source.values()]
    if extra:
        notes.append(f"dropped {len(extra)} column(s) not in the training data: {', '.join(repr(c) for c in extra[:10])}"
                     + (", ..." if len(extra) > 10 else ""))
    out: dict[str, pd.Series] = {}
    for spec in specs:
        if spec.name not in source:
            if spec.name in expected_absent:
                continue
            notes.append(f"column {spec.name!r} of the training data is absent; left out")
            continue
        column = source[spec.name]
        values, note = _coerce(frame[column], spec, batch_specs.get(column))
        out[spec.name] = values
        if note:
            notes.append(note)
    return pd.DataFrame(out, index=frame.index), notes


def _match_columns(present: list[str], wanted: list[str], notes: list[str]) -> dict[str, str]:
    """wanted name -> batch column; exact names first, then unique case/space-insensitive matches."""
    source = {w: w for w in wanted if w in present}
    taken = set(source.values())
    for w in wanted:
        if w in source:
            continue
        hits = [c for c in present if c not in taken and column_key(c) == column_key(w)]
        if len(hits) == 1:
            source[w] = hits[0]
            taken.add(hits[0])
            notes.append(f"column {hits[0]!r} matched to the training column {w!r}")
    return source


def column_key(name: str) -> str:
    """A column's name as batches are matched to the schema when not exactly: case and spacing ignored."""
    return " ".join(str(name).split()).lower()


def _coerce(s: pd.Series, spec: ColumnSpec, batch: ColumnSpec | None) -> tuple[pd.Series, str | None]:
    """One batch column to the training spec's kind; returns (values, note or None)."""
    have = coltypes.kind_of(s)
    if have == spec.kind:
        return _same_kind(s, spec), None
    found = {"numeric": "numbers", "boolean": "booleans", "datetime": "dates", "string": "text"}
    note = f"column {spec.name!r}: expected {found[spec.kind]} as at training, found {found[have]}; converted"
    if spec.kind == "numeric":
        if have == "string":
            values = coltypes.parse_numbers(s, decimal="," if "decimal comma" in spec.parsed_from else ".")[0]
        elif have == "boolean":
            values = s.astype("Float64").astype("float64")  # via Float64: NA -> NaN
        else:
            values = pd.Series(np.nan, index=s.index, dtype="float64")
    elif spec.kind == "boolean":
        if have == "numeric":
            values = pd.Series(pd.NA, index=s.index, dtype="boolean").mask(s == 1, True).mask(s == 0, False)
        else:
            values = coltypes.to_boolean(s, spec.true_token, spec.false_token)
    elif spec.kind == "datetime":
        if have == "string":
            fmt = coltypes.format_of(spec.parsed_from) or "ISO8601"
            values = coltypes.parse_dates(coltypes.clean_text(s), fmt, utc="%z" in fmt or "UTC" in spec.parsed_from)
        else:
            values = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    else:
        tokens = (batch.true_token, batch.false_token) if batch else (None, None)
        return coltypes.to_text(s, *tokens, fmt=coltypes.format_of(batch.parsed_from) if batch else None), note
    lost = int((s.notna() & values.isna()).sum())
    if lost:
        note += f"; {lost} value(s) could not be read as {found[spec.kind]} ({coltypes.examples(s[s.notna() & values.isna()])}) and are now missing"
    return values, note


def _same_kind(s: pd.Series, spec: ColumnSpec) -> pd.Series:
    if spec.kind == "numeric":
        return coltypes.numeric_dtype(s)
    if spec.kind == "boolean":
        return s.astype("boolean")
    if spec.kind == "datetime":
        return coltypes.to_naive_ns(s)
    return s.astype("str")
