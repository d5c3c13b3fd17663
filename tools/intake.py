"""Intake: read a user's table into a typed DataFrame.

`read_table(path)` reads a delimited text file (CSV, TSV, ...) or a Parquet file and returns a `Table`:
the frame, where it came from (resolved path, sha256 of the bytes) and how it was read (encoding,
delimiter, decimal mark, one `ColumnSpec` per column, and `notes`, one sentence per non-trivial thing
done). Every column comes out as one of four kinds:

| kind       | dtype                         | from                                                         |
| ---------- | ----------------------------- | ------------------------------------------------------------ |
| "numeric"  | int64 (no missing) or float64 | numbers, numbers stored as text ("$1,234.50", "'-1'", "12%") |
| "boolean"  | pandas nullable "boolean"     | exactly two tokens of yes/no, y/n, true/false, t/f           |
| "datetime" | datetime64[ns], naive         | dates in one consistent format (zones converted to UTC)      |
| "string"   | pandas "str"                  | anything else, stripped of surrounding whitespace            |

Text files: the encoding is UTF-8 (a BOM is removed), UTF-16 with a BOM, else cp1252 or latin-1; the
delimiter is the one of `,` `;` tab `|` under which most sample rows have as many fields as the header
(or a leading Excel "sep=X" line, or the `delimiter` argument); decimal commas are detected when the
delimiter is not `,`. The NA tokens of `tools.sniff.NA_TOKENS` ("?", "NA", "N/A", "-", "--", "null",
empty, ... but not "-1" and not lower-case "none") become missing. A 0/1 column stays numeric. Column
names are stripped; empty names become "Unnamed: <i>" and repeated names get a suffix ("a", "a_2"),
each with a note; an empty, unnamed last column (every line ends with the delimiter) is dropped. A row
with more fields than the header is an error naming its line, because silently dropping rows would
also drop predictions at predict time; a row with fewer fields is padded with missing values. Types
are detected on a sample of each column and converted vectorised on the whole column (rules in
`tools.coltypes`). Booleans record the file's spelling of True and False (`true_token`, e.g. "yes")
so labels can be mapped back; a column holding only one of the two tokens (all "f") stays text.

Parquet files keep their own types; only their text columns go through the detection above.

Anything the user must fix (missing file, folder, empty or whitespace-only file, binary content or a
spreadsheet, a single column, a header without rows, ragged rows, bad encoding) raises
`tools.errors.DataError` with a message that says what is wrong and what to do.

`Table.schema()` is what `tools.conform.conform` takes to bring a later batch to the same columns and kinds.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tools import coltypes
from tools.coltypes import Typed
from tools.errors import DataError
from tools.sniff import (
    DELIMITERS,
    NA_TOKENS,
    check_path,
    decode_head,
    describe_delimiter,
    detect_decimal,
    detect_encoding,
    excel_sep_hint,
    file_kind,
    file_sha256,
    read_head,
    sniff_delimiter,
    split_rows,
)

__all__ = ["ColumnSpec", "Table", "read_table", "read_head_table", "file_sha256"]

_COMMA_NUMBER = re.compile(r"^[-+]?[\d.]*\d,\d+$")
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_BAD_LINE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")
# Files up to this size are scanned for rows shorter than the header (about a second at this size).
SHORT_ROW_SCAN_BYTES = 20_000_000
# The largest 32-bit float: LightGBM and XGBoost bin features as 32-bit floats.
FLOAT32_MAX = 3.4028234663852886e38
# A quick look reads at least this many rows (fewer say little) and at most that many (more cost time).
HEAD_ROWS = (1_000, 50_000)


@dataclass(frozen=True)
class ColumnSpec:
    """How one column was read: its kind, its dtype after intake and where it came from."""

    name: str
    kind: str  # "numeric" | "boolean" | "datetime" | "string"
    dtype: str  # pandas dtype after intake: "float64", "int64", "boolean", "datetime64[ns]", "str"
    parsed_from: str  # "as read", "numbers stored as text", "decimal comma", "yes/no tokens", "dates (%Y-%m-%d)"
    true_token: str | None = None  # booleans: the original spelling of True, to map labels back
    false_token: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True, eq=False)  # eq=False: comparing DataFrames with == is elementwise, not a bool
class Table:
    """A table as read by `read_table`, with everything needed to reproduce and explain the reading."""

    frame: pd.DataFrame
    path: str
    file_format: str  # "csv" | "parquet"
    sha256: str
    encoding: str | None  # None for parquet
    delimiter: str | None
    decimal: str | None  # "." or ","
    columns: tuple[ColumnSpec, ...]
    notes: tuple[str, ...]
    # The notes a person must see (also in ``notes``): values lost or columns renamed, not routine detection.
    warnings: tuple[str, ...] = ()
    # Numeric columns with infinite or overflowing values (read as missing): column -> how many.
    nonfinite: dict[str, int] = dataclasses.field(default_factory=dict)

    def schema(self) -> list[dict[str, Any]]:
        """JSON-able column specs, in column order: what `tools.conform.conform` takes to coerce a later batch."""
        return [c.to_dict() for c in self.columns]

    @property
    def shape(self) -> tuple[int, int]:
        return self.frame.shape


def read_head_table(path: str | os.PathLike[str], *, cells: int, delimiter: str | None = None,
                    encoding: str | None = None) -> Table:
    """The first rows of a file, about ``cells`` values (`head_rows`), read and typed as `read_table` reads
    the whole file: a quick look at a big file. Types come from these rows alone, so a column may read
    differently in full; the Table's ``sha256`` is empty (hashing a big file is what a quick look avoids),
    and a note says how many rows were read."""
    p = check_path(path)
    head = read_head(p)
    if file_kind(p, head, encoding=encoding) == "parquet":
        import pyarrow.parquet as pq

        table = _read_parquet(p, rows=head_rows(cells, len(pq.read_schema(p).names)))
    else:
        frame, fields = _read_text_frame(p, head, delimiter=delimiter, encoding=encoding, cells=cells)
        table = Table(frame, str(p), "csv", "", *fields)
    table = finite(table)
    return dataclasses.replace(table, notes=(*table.notes, f"only the first {len(table.frame):,} rows were read"))


def head_rows(cells: int, columns: int) -> int:
    """Rows of a quick look at a table of ``columns`` columns: about ``cells`` values, within
    `HEAD_ROWS`."""
    low, high = HEAD_ROWS
    return int(min(high, max(low, cells // max(columns, 1))))


def read_table(path: str | os.PathLike[str], *, delimiter: str | None = None, encoding: str | None = None) -> Table:
    """Read a CSV (or TSV, or other delimited text) or Parquet file into a typed DataFrame.

    Detects encoding, delimiter, decimal mark, missing-value tokens, numbers stored as text, booleans and
    dates; see the module docstring for the rules. Raises DataError for anything the user must fix.

    Args:
        path: the file to read; ".parquet" / ".pq" (or Parquet content) is read as Parquet, anything
            else as delimited text.
        delimiter: the field delimiter, when detection gets it wrong (e.g. ";" or "\\t").
        encoding: the text encoding, when detection gets it wrong (e.g. "latin-1").
    """
    p = check_path(path)
    head = read_head(p)
    if file_kind(p, head, encoding=encoding) == "parquet":
        return finite(_read_parquet(p))
    return finite(_read_text(p, head, delimiter=delimiter, encoding=encoding))


def finite(table: Table) -> Table:
    """``table`` with infinite values, and values too large for the models' 32-bit floats, read as missing,
    each column with a note (they would otherwise stop a fit with an error, or silently saturate)."""
    counts = overflowing(table.frame)
    if not counts:
        return table
    frame = table.frame.copy(deep=False)
    notes = []
    for name, n in counts.items():
        values = frame[name]
        frame[name] = values.where(values.abs() <= FLOAT32_MAX)
        notes.append(f"column '{name}': {n:,} infinite or overflowing value(s) (beyond +-3.4e38, e.g. inf or "
                     "1e308) read as missing")
    return dataclasses.replace(table, frame=frame, notes=(*table.notes, *notes), warnings=(*table.warnings, *notes),
                               nonfinite=counts)


def overflowing(frame: pd.DataFrame) -> dict[str, int]:
    """Float columns with values that are infinite or beyond what a 32-bit float holds: column -> count."""
    counts = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_float_dtype(values.dtype):
            n = int((values.abs() > FLOAT32_MAX).sum())
            if n:
                counts[str(name)] = n
    return counts


# ---- delimited text ---------------------------------------------------------------------------------

def _read_text(p: Path, head: bytes, *, delimiter: str | None, encoding: str | None) -> Table:
    # hashlib releases the GIL: hashing a large file in a thread overlaps with parsing and typing.
    with ThreadPoolExecutor(max_workers=1) as pool:
        sha = pool.submit(file_sha256, p)
        frame, fields = _read_text_frame(p, head, delimiter=delimiter, encoding=encoding)
        return Table(frame, str(p), "csv", sha.result(), *fields)


def _read_text_frame(p: Path, head: bytes, *, delimiter: str | None, encoding: str | None,
                     cells: int | None = None) -> tuple[pd.DataFrame, tuple[Any, ...]]:
    enc = detect_encoding(p, head, encoding=encoding)
    truncated = p.stat().st_size > len(head)
    text = decode_head(head, enc, truncated=truncated)
    if not text.strip():
        raise DataError(f"The file '{p.name}' contains only whitespace: no header and no rows. Check that it was exported completely.")
    notes: list[str] = []
    if encoding is None and enc != "utf-8":
        notes.append({
            "utf-8-sig": "encoding: UTF-8 with a byte-order mark (removed)",
            "utf-16": "encoding: UTF-16 (from its byte-order mark)",
            "utf-16-le": "encoding: UTF-16 little-endian without a byte-order mark (detected)",
            "utf-16-be": "encoding: UTF-16 big-endian without a byte-order mark (detected)",
        }.get(enc, f"encoding: not valid UTF-8, read as {enc}"))
    skip = 0
    hint = excel_sep_hint(text)
    if hint is not None:
        skip, text = 1, text.split("\n", 1)[1] if "\n" in text else ""
        notes.append(f"first line 'sep={hint}' (an Excel convention) skipped")
        delimiter = delimiter or hint
    delimiter = _choose_delimiter(p, text, delimiter, truncated=truncated, notes=notes)
    sample = split_rows(text, delimiter, truncated=truncated)
    if not sample or len(sample[0]) < 2:
        raise DataError(
            f"With the delimiter {describe_delimiter(delimiter)}, '{p.name}' has a single column. "
            f"Check the delimiter (the file's first line is {text.lstrip().split(chr(10), 1)[0][:80]!r})."
        )
    _refuse_mixed_delimiters(p, sample, delimiter)
    # "a,b,c," on every line (some exporters do it) gives an unnamed, empty last column: dropped below.
    trailing = not sample[0][-1].strip() and len(sample[0]) > 2
    names, name_notes, warned = _clean_names(sample[0][:-1] if trailing else sample[0])
    notes.extend(name_notes)
    if trailing:
        names.append(f"Unnamed: {len(names)}")
    decimal = detect_decimal(sample[1:], delimiter)
    if decimal == ",":
        example = next((c.strip() for r in sample[1:] for c in r if _COMMA_NUMBER.match(c.strip())), "3,14")
        notes.append(f"decimal mark: comma (detected), e.g. {example!r} read as {example.replace('.', '').replace(',', '.')}")
    rows = head_rows(cells, len(names)) if cells is not None else None
    frame = _parse_csv(p, enc, delimiter, decimal, names, skip, rows=rows)
    if frame.empty:
        raise DataError(f"'{p.name}' has a header ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''}) but no data rows.")
    if trailing:
        if frame[names[-1]].isna().all():
            frame = frame.drop(columns=names[-1])
            notes.append("the header ends with a delimiter and the last column is empty; dropped it")
        else:
            notes.append(f"the last column has no name in the header; called it {names[-1]!r}")
    short = _short_rows(p, enc, delimiter, skip, len(names) - (1 if trailing else 0)) if cells is None else None
    if short:
        warned.append(f"{short[0]:,} row(s) have fewer fields than the header (e.g. line {short[1]}); their missing "
                      "last values were read as missing")
        notes.append(warned[-1])
    frame, specs, col_notes = _type_columns(frame, sample, decimal)
    return frame, (enc, delimiter, decimal, specs, (*notes, *col_notes), tuple(warned))


def _refuse_mixed_delimiters(p: Path, sample: list[list[str]], delimiter: str) -> None:
    """Rows that do not split under the file's delimiter but do under another: a file pasted together from two
    exports. Read as it is, each such row would be one text cell and the rest missing."""
    width = len(sample[0])
    lines = []
    for number, row in enumerate(sample[1:], start=2):
        if len(row) == 1:
            other = next((d for d in DELIMITERS if d != delimiter and len(split_rows(row[0], d, truncated=False)[0])
                          == width), None)
            if other is not None:
                lines.append((number, other))
    if lines:
        numbers = ", ".join(str(n) for n, _ in lines[:5]) + (", ..." if len(lines) > 5 else "")
        raise DataError(f"'{p.name}' mixes delimiters: its header uses {describe_delimiter(delimiter)}, but "
                        f"{len(lines)} of the first {len(sample) - 1} rows (lines {numbers}) use "
                        f"{describe_delimiter(lines[0][1])}. Re-export the file with one delimiter.")


def _choose_delimiter(p: Path, text: str, given: str | None, *, truncated: bool, notes: list[str]) -> str:
    if given is not None:
        if len(given) != 1:
            raise DataError(f"The delimiter must be a single character; got {given!r}.")
        return given
    found = sniff_delimiter(text, truncated=truncated)
    if found is None:
        first = text.lstrip().split("\n", 1)[0].strip()[:80]
        tried = ", ".join(describe_delimiter(d) for d in DELIMITERS)
        raise DataError(
            f"'{p.name}' reads as a single column: none of the delimiters {tried} splits its first line "
            f"({first!r}) into two or more fields. If it uses another delimiter, pass it explicitly "
            "(delimiter=... in Python, --delimiter on the command line); a table needs at least two columns."
        )
    if found != ",":
        notes.append(f"delimiter: {describe_delimiter(found)} (detected)")
    return found


def _clean_names(header: Sequence[Any]) -> tuple[list[str], list[str], list[str]]:
    """Stripped names; empty ones become "Unnamed: <i>" (as pandas calls them), repeats get "_2", "_3".
    Returns the names, the notes, and the notes about repeats (a person must know which one is which)."""
    names: list[str] = []
    notes: list[str] = []
    repeats: list[str] = []
    for i, raw in enumerate(header):
        name = str(raw).strip().lstrip("\ufeff").strip()
        if not name:
            name = f"Unnamed: {i}"
            notes.append(f"column {i + 1} has no name in the header; called it {name!r}")
        names.append(name)
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            k = 2
            while f"{name}_{k}" in seen or f"{name}_{k}" in names:
                k += 1
            names[i] = f"{name}_{k}"
            notes.append(f"column {i + 1} repeats the name {name!r}; renamed it {names[i]!r} (the first "
                         f"{name!r} keeps its name)")
            repeats.append(notes[-1])
        seen.add(names[i])
    return names, notes, repeats


def _parse_csv(p: Path, enc: str, delimiter: str, decimal: str, names: list[str], skip: int, *,
               rows: int | None = None) -> pd.DataFrame:
    options: dict[str, Any] = dict(
        sep=delimiter, encoding=enc, decimal=decimal, header=0, names=names, skiprows=skip, index_col=False,
        quotechar='"', doublequote=True, skipinitialspace=True, na_values=list(NA_TOKENS), keep_default_na=False,
        nrows=rows,
    )
    try:
        with warnings.catch_warnings():
            # A column whose type changes between the parser's chunks comes back as object; we retype it.
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            # on_bad_lines="warn" costs ~70% more parse time: fail fast, then count in a second pass.
            return pd.read_csv(p, on_bad_lines="error", **options)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"'{p.name}' is not valid {enc} text ({exc.reason} at byte {exc.start}). "
            "Pass the right encoding (e.g. encoding='latin-1', --encoding latin-1) or re-save the file as UTF-8."
        ) from None
    except pd.errors.ParserError as exc:
        msg = str(exc).replace("Error tokenizing data. C error: ", "")
        ragged = _RAGGED.search(msg)
        if ragged is None:
            raise DataError(
                f"'{p.name}' could not be parsed with the delimiter {describe_delimiter(delimiter)}: {msg}. "
                "Check for an unclosed quote or pass the right delimiter."
            ) from None
    want, line, saw = ragged.groups()
    raise DataError(
        f"'{p.name}' line {line} has {saw} fields but the header has {want} "
        f"({_count_bad_lines(p, options)} line(s) like this in all). Usually a value contains the delimiter "
        f"{describe_delimiter(delimiter)} without quotes: quote such values, or pass the right delimiter."
    )


def _short_rows(p: Path, enc: str, delimiter: str, skip: int, width: int) -> tuple[int, int] | None:
    """How many data rows have fewer fields than the header, and the first one's line (pandas pads them
    silently); None when there are none, or when the file is too big to count them quickly."""
    import csv

    if p.stat().st_size > SHORT_ROW_SCAN_BYTES:
        return None
    short, first = 0, 0
    with open(p, encoding=enc, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar='"', doublequote=True, skipinitialspace=True)
        for number, row in enumerate(reader, start=1):
            if number <= skip + 1 or not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) < width:
                short += 1
                first = first or reader.line_num
    return (short, first) if short else None


def _count_bad_lines(p: Path, options: dict[str, Any]) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pd.read_csv(p, on_bad_lines="warn", **options)
    return sum(len(_BAD_LINE.findall(str(w.message))) for w in caught)


def _type_columns(frame: pd.DataFrame, rows: list[list[str]], decimal: str) -> tuple[pd.DataFrame, tuple[ColumnSpec, ...], list[str]]:
    specs: list[ColumnSpec] = []
    notes: list[str] = []
    booleans: dict[tuple[str, str | None], list[str]] = {}
    out = frame
    # Arrow's string kernels release the GIL, so columns typed in two threads overlap well.
    with ThreadPoolExecutor(max_workers=2) as pool:
        typed_columns = list(pool.map(lambda name: coltypes.type_native(name, frame[name], decimal=decimal), frame.columns))
    for i, (name, typed) in enumerate(zip(frame.columns, typed_columns)):
        s = frame[name]
        sample = [r[i].strip() for r in rows[1:] if len(r) > i]
        if typed.kind == "boolean" and typed.true_token is None and s.dtype in (bool, object):
            typed = _parser_booleans(typed, sample)
        elif decimal == "," and s.dtype == "float64" and any("," in v for v in sample):
            typed = typed._replace(parsed_from="decimal comma")
        if typed.values is not s:
            if out is frame:
                out = frame.copy(deep=False)
            out[name] = typed.values
        specs.append(_spec(name, typed))
        if typed.kind == "boolean" and typed.true_token is not None:
            booleans.setdefault((typed.true_token, typed.false_token), []).append(name)
        else:
            notes.extend(typed.notes)
    # One note per token pair rather than per column: hypothyroid alone has 19 t/f columns.
    for (t, f), cols in booleans.items():
        which = f"column {cols[0]!r}" if len(cols) == 1 else f"{len(cols)} columns ({', '.join(repr(c) for c in cols)})"
        notes.append(f"{which}: {t!r}/{f!r} read as booleans ({t!r} = True)")
    return out, tuple(specs), notes


def _parser_booleans(typed: Typed, sample: list[str]) -> Typed:
    """pandas itself reads True/TRUE/true as booleans; recover the file's spelling from the sample."""
    def spelling(word: str) -> str:
        found = [v for v in sample if v.lower() == word]
        return max(set(found), key=found.count) if found else word.capitalize()

    return typed._replace(parsed_from="true/false tokens", true_token=spelling("true"), false_token=spelling("false"))


def _spec(name: str, typed: Typed) -> ColumnSpec:
    return ColumnSpec(name, typed.kind, str(typed.values.dtype), typed.parsed_from, typed.true_token, typed.false_token)


# ---- parquet ----------------------------------------------------------------------------------------

def _read_parquet(p: Path, *, rows: int | None = None) -> Table:
    import pyarrow as pa  # lazily: only Parquet needs it directly
    import pyarrow.parquet as pq

    try:
        if rows is None:
            frame = pq.read_table(p).to_pandas()
        else:
            batch = next(pq.ParquetFile(p).iter_batches(batch_size=rows), None)
            frame = batch.to_pandas() if batch is not None else pq.read_schema(p).empty_table().to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"'{p.name}' could not be read as Parquet ({exc}). Check that the file is complete, or export it as CSV.") from None
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        frame = frame.reset_index()  # a saved pandas index is data too
    names, notes, repeats = _clean_names(list(frame.columns))
    frame.columns = names
    if frame.shape[1] < 2:
        raise DataError(f"'{p.name}' has a single column ({names[0] if names else 'none'}); a table needs at least two columns.")
    if frame.empty:
        raise DataError(f"'{p.name}' has columns ({', '.join(names[:6])}) but no rows.")
    out: dict[str, pd.Series] = {}
    specs: list[ColumnSpec] = []
    for name in names:
        typed = coltypes.type_native(name, frame[name])
        out[name] = typed.values
        specs.append(_spec(name, typed))
        notes.extend(typed.notes)
    typed_frame = pd.DataFrame(out, index=frame.index)
    return Table(typed_frame, str(p), "parquet", file_sha256(p) if rows is None else "", None, None, None,
                 tuple(specs), tuple(notes), tuple(repeats))
