"""A batch to monitor: one file, or a folder of them read as one table (such as the daily files that
`mlpilot serve --log-inputs DIR` writes).

A folder's CSV, TSV and Parquet files are read each as `read_table` reads a file, in name order (the
service's names sort by day), and stacked. The service's own columns (``mlpilot_...``: time received,
request id, its predictions) are left out. ``since`` keeps the files of that day or later, by the date in
their name (``inputs-2026-12-01-...``) or else their modification time.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from agent.use.inputlog import PREFIX
from tools.errors import ConfigError, DataError
from tools.intake import Table, read_table

SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})")


def read_batch(path: Path, *, delimiter: str | None = None, encoding: str | None = None,
               since: str | None = None) -> Table:
    """The batch at ``path`` (a file, or a folder of files stacked into one table).

    Raises:
        ConfigError: ``since`` is not a date, or is given with a file.
        DataError: a folder without readable rows, or a file that cannot be read (named).
    """
    path = Path(path)
    if not path.is_dir():
        if since:
            raise ConfigError(f"--since applies to a folder of batches; {path} is a file.")
        return read_table(path, delimiter=delimiter, encoding=encoding)
    first_day = _day(since) if since else None
    files = [f for f in sorted(path.iterdir()) if f.is_file() and f.suffix.lower() in SUFFIXES
             and not f.name.startswith(".") and (first_day is None or _file_day(f) >= first_day)]
    if not files:
        within = f" dated {since} or later" if since else ""
        raise DataError(f"The folder {path} has no CSV or Parquet files{within} to read. Give a folder of "
                        "batches (e.g. the --log-inputs folder of `mlpilot serve`) or a file.")
    tables: list[Table] = []
    for f in files:
        try:
            tables.append(read_table(f, delimiter=delimiter, encoding=encoding))
        except DataError as exc:
            raise DataError(f"In the folder {path}, {f.name} cannot be read: {exc}") from None
    frames = [t.frame.drop(columns=[c for c in t.frame.columns if str(c).startswith(PREFIX)]) for t in tables]
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise DataError(f"The files in {path} hold no rows; nothing to monitor yet.")
    served = any(any(str(c).startswith(PREFIX) for c in t.frame.columns) for t in tables)
    digest = hashlib.sha256("".join(f"{f.name}:{t.sha256}\n" for f, t in zip(files, tables)).encode()).hexdigest()
    first = tables[0]
    notes = [f"read {len(frame):,} rows from {len(files)} file(s) in {path}"
             + (" logged by mlpilot serve (its own columns left out)" if served else "")]
    warnings = [f"{f.name}: {w}" for f, t in zip(files, tables) for w in t.warnings]
    return Table(frame=frame, path=str(path), file_format=first.file_format, sha256=digest, encoding=first.encoding,
                 delimiter=first.delimiter, decimal=first.decimal,
                 columns=tuple(c for c in first.columns if not c.name.startswith(PREFIX)),
                 notes=tuple(notes + warnings), warnings=tuple(warnings))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--since {text!r} is not a date; give it as YYYY-MM-DD (e.g. 2026-12-01).") from None


def _file_day(path: Path) -> date:
    found = _DAY.search(path.name)
    if found:
        try:
            return date.fromisoformat(found.group(1))
        except ValueError:
            pass
    return datetime.fromtimestamp(path.stat().st_mtime).date()
