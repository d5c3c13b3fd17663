"""Writing a table the user named (``predict --output``) without harming what is already there.

The format comes from the file's suffix, and an unknown suffix is refused rather than given CSV text under
another name. The path must be a regular file or not exist yet: a device, a pipe or a folder is refused
(writing through a temp file and renaming would replace ``/dev/stdout`` itself), and so is the input file.
The table goes to a temp file in the same folder, renamed over the target only once complete; the temp
file never outlives an error.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable

import pandas as pd

from tools.errors import ConfigError
from tools.wholefile import write_whole

FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


def output_format(path: Path, *, inputs: tuple[Path, ...] = ()) -> str:
    """The format to write ``path`` in, after checking that writing it harms nothing.

    Raises:
        ConfigError: an unknown suffix, a path that is not a regular file (a folder, a device, a pipe), one
            of ``inputs``, or a folder that does not exist.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise ConfigError(f"--output '{path}' cannot be checked: {exc.strerror or exc}.") from None
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else \
            "a pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
        raise ConfigError(f"--output '{path}' is {kind}, not a file: mlpilot writes a new file and renames it into "
                          "place, which would replace it. Give a file path (e.g. predictions.csv).")
    for source in inputs:
        if mode is not None and Path(source).exists() and os.path.samefile(path, source):
            raise ConfigError(f"--output '{path}' is the input file '{source}': writing it would overwrite the "
                              "data. Choose another path.")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        shown = path.suffix or "no suffix"
        raise ConfigError(f"--output '{path}' has {shown}; mlpilot writes .csv, .tsv, .txt (CSV) or .parquet. "
                          "Name the file with one of those suffixes.")
    if not path.parent.is_dir():
        raise ConfigError(f"The folder of --output '{path}' does not exist. Create it or choose another path.")
    return fmt


def write_table(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write ``frame`` to ``path`` whole: through a temp file beside it, renamed into place.

    Raises:
        ConfigError: the folder is not writable or the disk is full (nothing is left behind).
    """
    def write(tmp: Path) -> None:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False, sep="\t" if fmt == "tsv" else ",")

    write_output(Path(path), write)


def write_output(path: Path, write: Callable[[Path], object]) -> None:
    """``write`` the output through a temp file beside it (`tools.wholefile.write_whole`).

    Raises:
        ConfigError: the folder is not writable or the disk is full (nothing is left behind).
    """
    try:
        write_whole(path, write)
    except OSError as exc:
        raise ConfigError(f"Could not write --output '{path}': {exc.strerror or exc}. Nothing was written; free "
                          "space or choose a writable folder.") from None
