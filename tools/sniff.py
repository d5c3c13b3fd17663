"""File-level sniffing for `tools.intake`: what a file is, how its text is encoded and laid out.

Everything here looks at bytes or at a decoded sample of the first lines; nothing reads the whole
table into memory. The column-level type detection lives in `tools.coltypes`.

- `check_path` turns a path into an existing regular, non-empty file or raises `DataError`.
- `file_kind` says "parquet" or "text" from the extension and the first bytes, and raises `DataError`
  for images, archives, spreadsheets and other binary content.
- `detect_encoding` decides between UTF-8 (with or without BOM), UTF-16 (only with a BOM), cp1252 and
  latin-1; `file_sha256` hashes the file (intake runs it in a thread, beside the parsing).
- `sniff_delimiter`, `split_rows`, `detect_decimal` work on the decoded sample.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import errno
import hashlib
import io
import json
import os
import re
from pathlib import Path

from tools.errors import DataError

#: Cell values read as missing (after stripping surrounding whitespace). Lower-case "none" is not here
#: on purpose: it is a real category in some data sets (credit_g's own_telephone is "yes"/"none").
NA_TOKENS: tuple[str, ...] = (
    "", "?", "NA", "N/A", "n/a", "NaN", "nan", "NAN", "null", "NULL", "Null", "None", "-", "--",
    "#N/A", "<NA>",
)
#: Delimiters tried when none is given, in order of preference on ties.
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
HEAD_BYTES = 256 * 1024
_CHUNK = 8 * 1024 * 1024
_SNIFF_ROWS = 200

# (magic prefix, what it is, what to do). Checked before any decoding so the message can be specific.
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook is one)",
     "If it is a spreadsheet, open it and export the sheet as CSV (UTF-8); otherwise unzip it and pass the CSV inside."),
    (b"\xd0\xcf\x11\xe0", "an old-style Excel workbook (.xls)", "Open it and export the sheet as CSV (UTF-8)."),
    (b"\x1f\x8b", "gzip-compressed", "Decompress it first (gunzip FILE) and pass the CSV inside."),
    (b"BZh", "bzip2-compressed", "Decompress it first (bunzip2 FILE) and pass the CSV inside."),
    (b"\xfd7zXZ\x00", "xz-compressed", "Decompress it first (unxz FILE) and pass the CSV inside."),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", "Pass a CSV or Parquet file."),
    (b"\xff\xd8\xff", "a JPEG image", "Pass a CSV or Parquet file."),
    (b"GIF8", "a GIF image", "Pass a CSV or Parquet file."),
    (b"%PDF", "a PDF document", "Export the table it contains as CSV and pass that."),
    (b"SQLite format 3\x00", "an SQLite database", "Export the table you want as CSV and pass that."),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Control bytes other than tab, newline, carriage return and form feed: text tables have almost none.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f]")
# Bytes that cp1252 leaves undefined; if one is present the file is not cp1252.
_CP1252_HOLES = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_C1 = re.compile(rb"[\x80-\x9f]")

_COMMA_DECIMAL = re.compile(r"^[-+]?(\d{1,3}(\.\d{3})+|\d*),\d+$")
_DOT_DECIMAL = re.compile(r"^[-+]?\d*\.\d+$")
_COMMA_GROUPED = re.compile(r"^[-+]?\d{1,3}(,\d{3})+$")  # "1,234": the same doubt the other way
_DOT_GROUPED = re.compile(r"^[-+]?\d{1,3}(\.\d{3})+$")  # "1.234": thousands or decimal, can't tell
_SEP_LINE = re.compile(r"^sep=(.)\s*$")  # Excel's "sep=;" hint on the first line


def check_path(path: str | Path) -> Path:
    """Resolve `path` and make sure it is an existing, non-empty regular file."""
    p = Path(path).expanduser()
    if p.is_symlink() and not p.exists():
        try:
            os.stat(p)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise DataError(f"'{path}' is a symbolic link in a loop (it leads back to itself). Point it at the "
                                "data file, or pass the file's own path.") from None
        raise DataError(f"'{path}' is a symbolic link to '{os.readlink(p)}', which does not exist. Pass the data "
                        "file's own path.")
    if not p.exists():
        folder = p.parent if str(p.parent) else Path(".")
        hint = ""
        if folder.is_dir():
            names = sorted(q.name for q in folder.iterdir() if q.is_file())
            close = difflib.get_close_matches(p.name, names, n=3, cutoff=0.5)
            if close:
                hint = f"; files in that folder with similar names: {', '.join(repr(c) for c in close)}"
            elif not names:
                hint = "; that folder has no files"
        else:
            hint = f"; the folder '{folder}' does not exist either"
        raise DataError(f"No file at '{path}'. Check the path{hint}.")
    if p.is_dir():
        tables = sorted(q.name for q in p.iterdir() if q.suffix.lower() in (".csv", ".tsv", ".txt", *PARQUET_SUFFIXES))
        more = f", ... ({len(tables)} in all)" if len(tables) > 5 else ""
        inside = f" Tables in it: {', '.join(tables[:5])}{more}." if tables else ""
        raise DataError(f"'{path}' is a folder, not a file. Pass one CSV or Parquet file inside it.{inside}")
    if not p.is_file():
        raise DataError(f"'{path}' is not a regular file. Pass a CSV or Parquet file.")
    if p.stat().st_size == 0:
        raise DataError(f"The file '{path}' is empty (0 bytes). Check that it was saved or downloaded completely.")
    return p.resolve()


def read_head(path: Path) -> bytes:
    """The first `HEAD_BYTES` bytes of the file."""
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES)


def file_kind(path: Path, head: bytes, *, encoding: str | None = None) -> str:
    """Return "parquet" or "text"; raise `DataError` for binary content we cannot read."""
    if path.suffix.lower() in PARQUET_SUFFIXES or head.startswith(b"PAR1"):
        return "parquet"
    for magic, what, todo in _MAGIC:
        if head.startswith(magic):
            raise DataError(f"'{path.name}' is {what}, not a text table. {todo}")
    if head.startswith(_UTF16_BOMS) or (encoding and "16" in encoding) or (encoding and "32" in encoding):
        return "text"  # UTF-16/32 text is full of NUL bytes by design
    if utf16_without_bom(head):
        return "text"
    _refuse_json(path, head)
    if b"\x00" in head or len(_CONTROL.findall(head)) > max(8, len(head) // 100):
        raise DataError(
            f"'{path.name}' looks like a binary file (it contains NUL or control bytes), not a text table. "
            "Pass a CSV (comma, semicolon, tab or pipe separated) or a Parquet file; a spreadsheet must be "
            "exported as CSV first."
        )
    return "text"


def utf16_without_bom(head: bytes) -> str | None:
    """"utf-16-le" or "utf-16-be" for UTF-16 text without a byte-order mark (mostly ASCII characters, so
    every other byte is NUL, on the same side), else None."""
    sample = head[:4096]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    for zeros, text, name in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= 0.9 * len(zeros) and text.count(0) <= 0.05 * len(text):
            return name
    return None


def _refuse_json(path: Path, head: bytes) -> None:
    """JSON is not a delimited table, whatever the file is called: say what it is and how to convert it."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] not in (b"{", b"["):
        return
    first = text.split(b"\n", 1)[0].strip()
    try:
        json.loads(first)
        lines = True
    except ValueError:
        lines = False
    if text[:1] == b"{" and lines:
        raise DataError(f"'{path.name}' holds JSON Lines (one JSON object per line), not a delimited table. mlpilot "
                        "reads CSV or Parquet: convert it first, e.g. pandas.read_json(path, lines=True)"
                        ".to_csv('table.csv', index=False).")
    if re.match(rb'\[\s*[{\[]|\{\s*"', text):
        raise DataError(f"'{path.name}' holds JSON, not a delimited table. mlpilot reads CSV or Parquet: convert "
                        "it first, e.g. pandas.read_json(path).to_csv('table.csv', index=False).")


def detect_encoding(path: Path, head: bytes, *, encoding: str | None) -> str:
    """The file's text encoding: `encoding` if given (checked to exist), else by reading the file.

    A UTF-8 BOM gives "utf-8-sig", a UTF-16 BOM "utf-16"; otherwise "utf-8" if every byte decodes as
    UTF-8, else "cp1252" when the file uses its 0x80-0x9F characters (curly quotes, the euro sign)
    and "latin-1" otherwise (the two agree everywhere else).
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataError(f"Unknown encoding {encoding!r}. Use e.g. 'utf-8', 'latin-1' or 'cp1252'.") from None
        return encoding.lower()
    if head.startswith(_UTF16_BOMS):
        return "utf-16"
    bomless = utf16_without_bom(head)
    if bomless:
        return bomless
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8_ok = True
    c1 = holes = False
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            # isascii() is a fast C scan; the decoder and the byte searches only run on chunks that need them.
            if chunk.isascii():
                continue
            if utf8_ok:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
            c1 = c1 or _C1.search(chunk) is not None
            holes = holes or _CP1252_HOLES.search(chunk) is not None
    if utf8_ok:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:  # the file ends in the middle of a character
            utf8_ok = False
    if utf8_ok:
        return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    return "cp1252" if c1 and not holes else "latin-1"


def file_sha256(path: str | Path) -> str:
    """The sha256 hex digest of the file's bytes, read in chunks."""
    hasher = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def decode_head(head: bytes, encoding: str, *, truncated: bool) -> str:
    """Decode the sample; when the file goes on past it, drop the last (probably partial) line."""
    text = head.decode(encoding, errors="replace")
    text = text.lstrip("\ufeff")
    if truncated:
        cut = text.rfind("\n")
        text = text[: cut + 1] if cut > 0 else text
    return text


def excel_sep_hint(text: str) -> str | None:
    """The delimiter named by a leading "sep=X" line (an Excel convention), if there is one."""
    first = text.split("\n", 1)[0].strip("\r")
    m = _SEP_LINE.match(first)
    return m.group(1) if m else None


def split_rows(text: str, delimiter: str, *, truncated: bool, limit: int = _SNIFF_ROWS) -> list[list[str]]:
    """Parse the sample into rows of fields, quotes respected; blank lines skipped."""
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append(row)
            if len(rows) > limit:
                break
    except csv.Error:
        pass  # e.g. a field larger than the csv module allows; what we have is enough to judge
    if truncated and len(rows) > 1 and len(rows) <= limit:
        rows = rows[:-1]  # the sample may have cut the last record inside a quoted field
    return rows[:limit]


def sniff_delimiter(text: str, *, truncated: bool) -> str | None:
    """The candidate delimiter under which the most rows have as many fields as the header.

    Counting fields (with quotes respected) beats `csv.Sniffer`, which guesses from character
    frequencies and is easily fooled by commas inside quoted text or decimal commas. The header must
    split into at least two fields, which rules out "," in a ';' file with decimal commas. Returns None
    when no candidate gives two or more columns.
    """
    best: tuple[float, int, int] | None = None
    chosen: str | None = None
    for rank, delim in enumerate(DELIMITERS):
        rows = split_rows(text, delim, truncated=truncated, limit=60)
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        data = rows[1:]
        share = sum(len(r) == width for r in data) / len(data) if data else 1.0
        score = (round(share, 2), width, -rank)
        if best is None or score > best:
            best, chosen = score, delim
    return chosen


def detect_decimal(rows: list[list[str]], delimiter: str) -> str:
    """"," when the sample's numbers use decimal commas (only possible if the delimiter is not ",").

    "1,234" could be 1.234 or 1234, so such cells only decide when nothing else does, and then only in
    a ';' file (the usual export where the comma is the decimal mark).
    """
    if delimiter == ",":
        return "."
    comma = dot = unsure = 0
    for row in rows:
        for cell in row:
            cell = cell.strip()
            if _COMMA_GROUPED.match(cell):
                unsure += 1
            elif _COMMA_DECIMAL.match(cell):
                comma += 1
            elif _DOT_DECIMAL.match(cell) and not _DOT_GROUPED.match(cell):
                dot += 1
    if comma or dot:
        return "," if comma > dot else "."
    return "," if unsure and delimiter == ";" else "."


def describe_delimiter(delimiter: str) -> str:
    """A printable name for a delimiter (tab is invisible in messages)."""
    return {"\t": "tab", " ": "space"}.get(delimiter, repr(delimiter))
