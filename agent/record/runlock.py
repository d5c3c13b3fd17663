"""One writer per run folder, and knowing when that writer died.

The process running (or resuming) a run holds an exclusive ``flock`` on ``RUN/.lock`` for as long as it
writes the folder. The kernel releases the lock when the process ends in any way, ``kill -9`` included, so
a run whose manifest says ``running`` while nobody holds its lock has died: `effective_status` says so, and
``mlpilot resume`` may continue it. A second writer (two resumes at once) is refused instead of
interleaving its events with the first's.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tools.errors import ConfigError

LOCK = ".lock"
LIVE = ("running",)


class RunLock:
    """The exclusive lock on one run folder, held until `release` (or the process's end)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        """Take the lock, or raise when another process holds it.

        Raises:
            ConfigError: another mlpilot process is writing this run folder (its pid is named).
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(f"The run '{self.path.parent.name}' is being written by another mlpilot process "
                              f"(pid {holder}). Wait for it to finish, or stop it first.") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def is_held(run_dir: Path) -> bool:
    """Whether some process (this one included) holds the run folder's lock."""
    path = Path(run_dir) / LOCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # no lock file: a run from before locks, or a read-only copy; nobody holds it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def effective_status(run_dir: Path, recorded: str | None) -> str:
    """The run's status as it truly is: ``died`` for a run recorded as running that no process writes."""
    if recorded in LIVE and not is_held(run_dir):
        return "died"
    return recorded or "unknown"
