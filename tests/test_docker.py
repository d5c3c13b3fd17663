"""The Dockerfile ships a run as an image that serves it (opt-in: where a Docker daemon answers and
MLPILOT_DOCKER=1 is set; building pulls python:3.11-slim and installs mlpilot, minutes and network)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from tests.cli_helpers import DATASETS, ROOT
from tests.service import json_rows

pytestmark = [pytest.mark.docker, pytest.mark.skipif(
    os.environ.get("MLPILOT_DOCKER") != "1" or shutil.which("docker") is None,
    reason="opt-in: set MLPILOT_DOCKER=1 where a Docker daemon runs")]


def test_the_image_serves_the_run_it_was_built_with(finished_run: Path) -> None:
    tag = f"mlpilot-test-{os.getpid()}"
    inside = ROOT / "runs" / f".docker-{finished_run.name}"
    shutil.copytree(finished_run, inside)  # the build context is the repository
    try:
        build = subprocess.run(["docker", "build", "-t", tag, "--build-arg", f"RUN={inside.relative_to(ROOT)}",
                                str(ROOT)], capture_output=True, text=True, timeout=1800)
        assert build.returncode == 0, build.stderr[-3000:]
        container = subprocess.run(["docker", "run", "-d", "--rm", "-p", "127.0.0.1::8000", tag],
                                   capture_output=True, text=True, check=True).stdout.strip()
        try:
            port = subprocess.run(["docker", "port", container, "8000"], capture_output=True, text=True,
                                  check=True).stdout.strip().rsplit(":", 1)[1]
            url = f"http://127.0.0.1:{port}"
            for _ in range(120):
                try:
                    urllib.request.urlopen(url + "/health", timeout=2)
                    break
                except OSError:
                    time.sleep(1)
            rows = json_rows(pd.read_csv(DATASETS / "titanic.csv").head(5))
            request = urllib.request.Request(url + "/predict", data=json.dumps(rows).encode(),
                                             headers={"Content-Type": "application/json"})
            answer = json.loads(urllib.request.urlopen(request, timeout=30).read())
            assert answer["rows"] == 5 and answer["run_id"] == finished_run.name
        finally:
            subprocess.run(["docker", "stop", container], capture_output=True)
    finally:
        shutil.rmtree(inside, ignore_errors=True)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
