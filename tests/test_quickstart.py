"""README's Quick start from a bare clone: its first command, run in a fresh `git clone` with nothing beside it.

The install part of the command (a new venv and `pip install`) is left out: it needs the network and
minutes. What follows it, `.venv/bin/mlpilot run ...`, runs with bash in the clone as written, with this
interpreter's mlpilot taken from the clone's own code and a smaller budget.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import build_parser

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
INSTALL = 'python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && '
RUN = ".venv/bin/mlpilot run "
TEST_COMMAND = ".venv/bin/python -m pytest -q"  # what .ci/run and a new user run second
# Files a clone gets from the commit the quick start depends on; the test lays the working tree's over the
# clone, so it checks what is about to be committed.
OVERLAY = ("README.md", "examples")


def quick_start(readme: Path) -> list[str]:
    """The command lines of the fenced block under README's "## Quick start" heading."""
    text = readme.read_text(encoding="utf-8")
    block = re.search(r"^## Quick start\n.*?^```bash\n(.*?)^```", text, re.M | re.S)
    assert block, f"{readme} has no ```bash block under '## Quick start'"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A fresh clone of this repository alone in its folder (no ../shared beside it), with the working
    tree's README.md and examples/ laid over it."""
    for name in OVERLAY:
        ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", name], timeout=30)
        assert ignored.returncode == 1, f"{name} is git-ignored: a clone would never get it"
    path = tmp_path / "alone" / "mlpilot"
    inside = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-inside-work-tree"], capture_output=True,
                            text=True, timeout=30)
    if inside.returncode == 0:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(path)], check=True, capture_output=True,
                       timeout=120)
    else:  # a checkout exported without its history: the same files, less what a run or an install adds
        shutil.copytree(ROOT, path, ignore=shutil.ignore_patterns(".git", ".venv", "runs", "__pycache__",
                                                                 "*.egg-info", ".pytest_cache"))
    shutil.copy2(ROOT / "README.md", path / "README.md")
    shutil.copytree(ROOT / "examples", path / "examples", dirs_exist_ok=True)
    assert [p.name for p in path.parent.iterdir()] == ["mlpilot"], "the clone must have nothing beside it"
    return path


def test_readme_quick_start_runs_in_a_bare_clone(clone: Path, tmp_path: Path) -> None:
    lines = quick_start(clone / "README.md")
    assert lines[1:] == [TEST_COMMAND], f"the Quick start's second command must stay {TEST_COMMAND!r}: {lines}"
    first = lines[0]
    assert first.startswith(INSTALL + RUN), f"expected '{INSTALL}{RUN}...', README has:\n{first}"
    command = first[len(INSTALL):]
    assert command.count(" --budget 60") == 1, command
    command = command.replace(" --budget 60", " --budget 15")

    args = build_parser().parse_args(shlex.split(command)[1:])
    data = (clone / args.data).resolve()
    assert data.is_relative_to(clone.resolve()) and data.is_file(), f"the data must be in the clone: {args.data}"

    runs, home = tmp_path / "runs", tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "PYTHONPATH")}
    env.update(MLPILOT_RUNS_DIR=str(runs), MLPILOT_HOME=str(home), MLPILOT_N_JOBS="1", PYTHONPATH=str(clone))
    mlpilot = f"{shlex.quote(sys.executable)} -m agent.cli"  # the clone's agent: cwd and PYTHONPATH come first
    proc = subprocess.run(["bash", "-c", mlpilot + command[len(".venv/bin/mlpilot"):]], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"

    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    assert (run_dir / "report.md").is_file() and (run_dir / "model.joblib").is_file()
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "completed", manifest["status"]
    read = (clone / manifest["data"]["path"]).resolve()
    assert read == data, f"the run read {read}, not the clone's {data}"
    assert manifest["data"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
