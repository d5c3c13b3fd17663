"""Every bad or odd input of the corpus (tests/bad_inputs.py) gets its answer from the CLI: the exit code and
the words a person needs, and never exit 1.

Cases that stop before training run through ``agent.cli.main`` in this process (the same parsing, checks and
exit codes as the command, without paying for a new interpreter 70 times); the few that go ahead with a
real run are real ``mlpilot`` processes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agent import cli
from agent.cli import main
from tests.bad_inputs import Case, corpus
from tests.cli_helpers import ONE_CORE, mlpilot


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory, finished_run: Path) -> list[Case]:
    return corpus(tmp_path_factory.mktemp("bad_inputs"), finished_run)


def _in_process(case: Case, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    with monkeypatch.context() as patch:
        for key, value in case.env.items():
            patch.setenv(key, value)
        # The command's clock starts when its process does; here, when the case does.
        patch.setattr(cli, "STARTED", time.monotonic())
        try:
            code = main(case.argv)
        except SystemExit as exc:  # argparse's own errors
            code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, " ".join((captured.err + captured.out).split())


def test_the_corpus_is_big_enough(cases: list[Case]) -> None:
    assert len(cases) >= 60
    assert len({c.name for c in cases}) == len(cases)


def test_bad_inputs_get_a_clear_answer(cases: list[Case], capsys: pytest.CaptureFixture,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = []
    for case in (c for c in cases if not c.trains):
        code, said = _in_process(case, capsys, monkeypatch)
        missing = [w for w in case.words if w not in said]
        if code != case.code or missing or "Traceback" in said or "internal error" in said:
            wrong.append(f"{case.name}: exit {code} (want {case.code}), missing {missing}: {said[:300]}")
    assert not wrong, "\n".join(wrong)


def test_odd_inputs_run_with_visible_notes(cases: list[Case], tmp_path: Path) -> None:
    """UTF-16 without a byte-order mark, infinite values, a repeated target column and short rows: the run
    goes ahead, and the console and the report's warnings say what was done about each."""
    case = next(c for c in cases if c.trains)
    proc = mlpilot(*case.argv, runs_dir=tmp_path / "runs", env={**ONE_CORE, **case.env})
    said = " ".join((proc.stderr + proc.stdout).split())
    assert proc.returncode == case.code, said[-2000:]
    run_dir = next((tmp_path / "runs").iterdir())
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "completed"
    report = (run_dir / "report.md").read_text()
    warnings = " ".join(report.split("## Warnings")[-1].split())
    for word in case.words:
        assert word in said, (word, said[-2000:])
        assert word in warnings, (word, warnings)
    assert "UTF-16 little-endian without a byte-order mark" in report
