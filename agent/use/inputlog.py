"""The served model's log of what it received: rows and predictions in daily CSV files that
`mlpilot monitor RUN DIR` reads back as one batch.

Each serving process writes its own files, ``inputs-<UTC date>-<host>-<pid>.csv``, so processes never
interleave lines and a new day starts a new file. A request's rows are appended in one write to a file
opened for appending, after the header the file was created with; a process killed mid-write can leave at
most one short last line, which reading reports and skips. The model's input columns come first, as
they were given to the model, then the service's own columns, all named ``mlpilot_...`` (the time received,
the request's id, the prediction and each class's probability), which monitoring leaves out.

The log holds the rows clients sent, which may be personal data: keep the folder as private as the data.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from tools.errors import ConfigError

PREFIX = "mlpilot_"
FILE_GLOB = "inputs-*.csv"


class InputLog:
    """Appends received rows and their predictions to this process's daily file in ``folder``.

    Writing never fails a request: an error (a full disk, a removed folder) is counted, kept as
    ``last_error`` for ``GET /health`` and reported once through ``warn``.
    """

    def __init__(self, folder: Path, *, features: list[str], warn: object = None) -> None:
        self.folder = Path(folder)
        self.features = list(features)
        self.rows = 0
        self.errors = 0
        self.last_error: str | None = None
        self._warn = warn
        self._lock = threading.Lock()
        self._day: str | None = None
        self._path: Path | None = None
        self._header: str | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = self.folder / f".write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"--log-inputs {self.folder}: cannot write there ({exc.strerror or exc}). "
                              "Give a folder you can write to.") from None

    def append(self, frame: pd.DataFrame, predictions: pd.DataFrame, *, request_id: str) -> None:
        """Log the rows of one request (``frame``, conformed to the training schema) and their predictions."""
        now = datetime.now(timezone.utc)
        out = frame.reindex(columns=self.features).copy()
        out[PREFIX + "received_at"] = now.isoformat(timespec="milliseconds")
        out[PREFIX + "request"] = request_id
        for name in predictions.columns:
            out[PREFIX + name] = predictions[name].to_numpy()
        header = out.iloc[:0].to_csv(index=False, lineterminator="\n").rstrip("\n")
        body = out.to_csv(index=False, header=False, lineterminator="\n", date_format="%Y-%m-%dT%H:%M:%S.%f")
        with self._lock:
            try:
                path = self._file(now.strftime("%Y-%m-%d"), header)
                _append(path, body.encode("utf-8"))
                self.rows += len(out)
            except OSError as exc:
                self.errors += 1
                first = self.last_error is None
                self.last_error = f"{exc.strerror or exc} ({self.folder})"
                if first and callable(self._warn):
                    self._warn(f"--log-inputs: rows could not be logged: {self.last_error}; predictions are still "
                               "served, and GET /health counts the rows not logged")

    def status(self) -> dict:
        return {"folder": str(self.folder), "rows": self.rows, "errors": self.errors, "last_error": self.last_error}

    def _file(self, day: str, header: str) -> Path:
        """This process's file for ``day``, created with ``header`` (a file of another layout is left alone)."""
        if self._day == day and self._header == header and self._path is not None and self._path.exists():
            return self._path
        stem = f"inputs-{day}-{socket.gethostname()}-{os.getpid()}"
        for n in range(100):
            path = self.folder / (f"{stem}.csv" if n == 0 else f"{stem}-{n}.csv")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                with open(path, encoding="utf-8") as existing:
                    if existing.readline().rstrip("\n") != header:
                        continue
            else:
                try:
                    _write_all(fd, (header + "\n").encode("utf-8"))
                finally:
                    os.close(fd)
            self._day, self._header, self._path = day, header, path
            return path
        raise OSError(f"no free file name for {stem}.csv")


def _append(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]

