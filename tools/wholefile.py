"""Writing a file whole: to a temporary file beside it, renamed into place once complete.

A reader (a worker on another machine, a later command, a crash's survivor) sees the old file or the new
one, never half of one; the temporary file never outlives an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable


def write_whole(path: Path, write: Callable[[Path], Any]) -> None:
    """``write`` a temporary file beside ``path`` (named for this process, so two never share it), then
    rename it over ``path``. Errors propagate; the temporary file is removed either way."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
