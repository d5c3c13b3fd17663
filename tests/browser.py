"""Headless Chromium for the HTML report tests: load a page served from a local HTTP server that counts
every request the page makes, read the DOM after the page's scripts ran and the console's messages, and
take a screenshot. Chromium is Debian's package (`.ci/run` installs it where missing)."""

from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

CONSOLE = re.compile(r"CONSOLE\(\d+\)\]|Refused to|Uncaught", re.I)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("Chromium is needed for the HTML report tests: `apt-get install chromium` "
                         "(.ci/run installs it)")


@dataclass
class PageLoad:
    dom: str
    console: list[str]
    requests: list[str] = field(default_factory=list)


def _flags(profile: str) -> list[str]:
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--metrics-recording-only", "--no-default-browser-check", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]


def load(page: Path, *, timeout: float = 90) -> PageLoad:
    """Serve ``page``'s folder on 127.0.0.1, open the page, and return its DOM after scripts, the console's
    messages and every path the page asked the server for."""
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(page.parent), **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with tempfile.TemporaryDirectory() as profile:
            url = f"http://127.0.0.1:{server.server_address[1]}/{page.name}"
            proc = subprocess.run([chromium(), *_flags(profile), "--virtual-time-budget=3000", "--dump-dom", url],
                                  capture_output=True, text=True, timeout=timeout)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if CONSOLE.search(line)]
    return PageLoad(proc.stdout, console, requests)


def screenshot(page: Path, out: Path, *, width: int = 1280, height: int = 2400, timeout: float = 90) -> Path:
    """A PNG of the page as a laptop screen shows its top (``width`` x ``height`` pixels)."""
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([chromium(), *_flags(profile), f"--window-size={width},{height}",
                               f"--screenshot={out}", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0 and out.exists(), proc.stderr[-2000:]
    return out
