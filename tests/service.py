"""`mlpilot serve` started as a real process on 127.0.0.1, as a user starts it, and spoken to over HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.cli_helpers import ROOT

URL = re.compile(r"serving \S+ at (http://\S+)")


class Service:
    """``python -m agent.cli serve RUN --port 0 ARGS``; ``url`` once it listens. Its output is collected
    (``output``) so a test can check what it printed; ``stop()`` sends SIGTERM and returns the exit code."""

    def __init__(self, run_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 90) -> None:
        full_env = {**os.environ, **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "serve", str(run_dir), "--port", "0", *args],
                                     cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.url: str | None = None
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(timeout) or self.url is None:
            self.stop()
            raise AssertionError("mlpilot serve did not start:\n" + self.output)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            found = URL.search(line)
            if found and self.url is None:
                self.url = found.group(1)
                self._ready.set()
        self._ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def request(self, path: str, body: bytes | str | None = None, *, content_type: str = "application/json",
                headers: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, Any]:
        """(status, parsed JSON body or text) of a GET (no body) or POST to the service."""
        data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(self.url + path, data=data, method="POST" if data is not None else "GET",
                                         headers={"Content-Type": content_type, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                status, raw, kind = answer.status, answer.read(), answer.headers.get("content-type", "")
        except urllib.error.HTTPError as err:
            status, raw, kind = err.code, err.read(), err.headers.get("content-type", "")
        text = raw.decode("utf-8")
        return status, json.loads(text) if "json" in kind else text

    def predict(self, rows: list[dict], **kwargs: Any) -> tuple[int, Any]:
        return self.request("/predict", json.dumps(rows), **kwargs)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        time.sleep(0.05)  # the reader thread takes the last lines
        return self.proc.returncode

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def json_rows(frame: Any) -> list[dict]:
    """A DataFrame's rows as a client would send them: JSON values, null for missing."""
    return json.loads(frame.to_json(orient="records"))
