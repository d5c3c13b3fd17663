"""Records: rows sent as JSON (to a served model) checked against the training schema and made a DataFrame.

A CSV body is read like a file (`tools.intake.read_table`), so it gets intake's type detection. JSON
already has types, so each value is checked against its column's kind at training instead, and a value
that cannot be one is refused, naming the column, the expected type, the row and the value: a served
model should not turn a client's bug (``"age": "forty"``) silently into a missing value. What is accepted
for each kind (``null`` is always accepted, as a missing value):

- numbers: JSON numbers, or text that reads as one ("22.5", " 3 "); not true/false;
- booleans: true/false, 0/1, or the training data's own spellings ("yes"/"no") and common ones;
- dates: text that reads as a date or time (ISO 8601 or the training format);
- text: any text, number or true/false (kept as written).

A record without a key gets a missing value there; a column absent from every record is missing, and
refused when the model needs it. Unknown keys are left for `tools.conform.conform`, which drops them
with a note.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from tools import coltypes
from tools.conform import column_key
from tools.errors import DataError

__all__ = ["KIND_NAMES", "RecordError", "payload_records", "records_frame", "refuse_unreadable",
           "require_columns"]

KIND_NAMES = {"numeric": "a number", "boolean": "true or false", "datetime": "a date or time (text)",
              "string": "text"}
_TRUE = {"true", "yes", "y", "t", "1"}
_FALSE = {"false", "no", "n", "f", "0"}


class RecordError(DataError):
    """A payload a served model refuses: its message names the column, the rule and the way out."""

    def __init__(self, message: str, *, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


def payload_records(payload: Any) -> list[dict[str, Any]]:
    """The rows of a JSON payload: a list of objects, ``{"records": [...]}``, or one object (one row).

    Raises:
        RecordError: anything else, or no rows.
    """
    if isinstance(payload, dict) and set(payload) == {"records"}:
        payload = payload["records"]
    elif isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise RecordError(f"The JSON body is {_json_kind(payload)}; send the rows as a list of objects "
                          '([{"column": value, ...}, ...]), as {"records": [...]}, or one object for one row.')
    if not payload:
        raise RecordError("The JSON body has no rows; send at least one object.")
    for i, row in enumerate(payload):
        if not isinstance(row, dict):
            raise RecordError(f"Row {i} of the JSON body is {_json_kind(row)}; each row must be an object "
                              '({"column": value, ...}).')
    return payload


def records_frame(records: Sequence[dict[str, Any]], schema: list[dict[str, Any]], *,
                  required: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of ``records`` whose values fit the training ``schema``, ready for `conform`.

    Args:
        records: the rows (from `payload_records`).
        schema: the training `Table.schema()` (name, kind, true/false tokens per column).
        required: the model's input columns; each must be a key of at least one record.

    Raises:
        RecordError: a required column in no record (naming it and its expected type), or a value that cannot
            be its column's kind (naming the column, the expected type, the row and the value).
    """
    specs = {spec["name"]: spec for spec in schema}
    present: dict[str, None] = {}
    for row in records:
        present.update(dict.fromkeys(row))
    by_key = {column_key(spec["name"]): spec for spec in schema}
    require_columns(list(present), schema, required=required)
    # A name sent as "AGE" or " age " is the schema's "age" (as conform matches it): held to its type too.
    spec_of = {name: specs.get(name) or by_key.get(column_key(name), {}) for name in present}
    columns: dict[str, list[Any]] = {}
    for name, spec in spec_of.items():
        kind = spec.get("kind", "string") if spec else None
        values = [row.get(name) for row in records]
        columns[name] = [_checked(v, name, kind, spec, i) for i, v in enumerate(values)]
    frame = pd.DataFrame(columns)
    for name, spec in spec_of.items():
        if spec.get("kind") == "numeric":
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        elif spec.get("kind") == "boolean":
            frame[name] = frame[name].astype("boolean")
        elif spec.get("kind") == "datetime":
            frame[name] = coltypes.to_naive_ns(pd.to_datetime(frame[name]))
    return frame


def require_columns(present: Sequence[str], schema: list[dict[str, Any]], *, required: Sequence[str]) -> None:
    """Refuse rows that lack a column the model needs (matched as `conform` matches: exact, else ignoring
    case and surrounding spaces), naming each missing one with its expected type.

    Raises:
        RecordError: one or more required columns are missing.
    """
    specs = {spec["name"]: spec for spec in schema}
    keys = {column_key(name) for name in present}
    missing = [name for name in required if name not in present and column_key(name) not in keys]
    if missing:
        described = ", ".join(f"'{name}' ({KIND_NAMES.get(specs.get(name, {}).get('kind', ''), 'a value')})"
                              for name in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise RecordError(f"The rows lack {len(missing)} column(s) the model needs: {described}{more}. "
                          "Send every input column named in GET /metadata (a null value is accepted as missing).",
                          column=missing[0])


def refuse_unreadable(raw: pd.DataFrame, conformed: pd.DataFrame, schema: list[dict[str, Any]], *,
                      required: Sequence[str]) -> None:
    """Refuse rows (read from CSV) whose value in a model's column could not be read as its training type:
    where ``conform`` turned a given value into a missing one. Predicting from a file keeps such rows with a
    note; a served request is refused instead, as a JSON value of the wrong type is.

    Raises:
        RecordError: naming the first such column, its expected type, the row and the value.
    """
    kinds = {spec["name"]: spec.get("kind", "string") for spec in schema}
    by_key = {column_key(str(c)): c for c in raw.columns}
    for name in required:
        source = name if name in raw.columns else by_key.get(column_key(name))
        if source is None or name not in conformed.columns:
            continue
        lost = raw[source].notna().to_numpy() & conformed[name].isna().to_numpy()
        if lost.any():
            row = int(lost.argmax())
            _refuse(name, kinds.get(name, "string"), row, raw[source].iloc[row])


def _checked(value: Any, column: str, kind: str | None, spec: dict, row: int) -> Any:
    """``value`` as its column's kind, or a `RecordError` naming what is wrong."""
    if value is None or (isinstance(value, str) and not value.strip() and kind not in (None, "string")):
        return None
    if isinstance(value, (dict, list)):
        _refuse(column, kind, row, value)
    if kind is None:  # not a training column: conform drops it
        return value
    if kind == "numeric":
        if isinstance(value, bool):
            _refuse(column, kind, row, value)
        if isinstance(value, (int, float)):
            return float(value)
        number = _number(value)
        if number is None:
            _refuse(column, kind, row, value)
        return number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if isinstance(value, float) and value in (0.0, 1.0):
            text = str(int(value))
        trues = _TRUE | {str(spec.get("true_token") or "").lower()} - {""}
        falses = _FALSE | {str(spec.get("false_token") or "").lower()} - {""}
        if text in trues:
            return True
        if text in falses:
            return False
        _refuse(column, kind, row, value)
    if kind == "datetime":
        moment = _moment(value, coltypes.format_of(spec.get("parsed_from", "")))
        if moment is None:
            _refuse(column, kind, row, value)
        return moment
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else (str(int(value)) if float(value).is_integer() else str(value))


def _moment(value: Any, fmt: str | None) -> pd.Timestamp | None:
    """A date's text read with the training format, else as ISO 8601; None when it is not a date."""
    if not isinstance(value, str):
        return None
    for option in ([fmt] if fmt and fmt != "ISO8601" else []) + ["ISO8601"]:
        try:
            moment = pd.to_datetime(value.strip(), format=option)
        except (ValueError, OverflowError):
            continue
        if not pd.isna(moment):
            return moment.tz_convert(None) if moment.tzinfo is not None else moment
    return None


def _number(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if not math.isnan(number) else None


def _refuse(column: str, kind: str, row: int, value: Any) -> None:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    raise RecordError(f"Column '{column}' must be {KIND_NAMES[kind]}, as in the training data; row {row} (from 0) has "
                      f"{shown} ({_json_kind(value)}). Send {KIND_NAMES[kind]} or null for a missing value.",
                      column=column)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__

