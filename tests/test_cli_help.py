"""`mlpilot COMMAND --help` as a subprocess: a description, examples that parse, the valid metric names from
the registry, and no help that says a feature is missing."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys

import pytest

from agent.cli import build_parser
from tests.cli_helpers import ROOT
from tools.metrics import METRICS, metrics_for
from tools.tasks import TASKS


def subcommands() -> list[str]:
    """Every subcommand the parser has, so that one added later is checked too."""
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return list(sub.choices)


def help_text(*command: str) -> str:
    """What ``mlpilot COMMAND --help`` prints, at 100 columns; it must exit 0 with nothing on stderr."""
    proc = subprocess.run([sys.executable, "-m", "agent.cli", *command, "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "COLUMNS": "100"})
    assert proc.returncode == 0 and not proc.stderr, f"exit {proc.returncode}\n{proc.stderr}"
    return proc.stdout


def examples(text: str) -> list[str]:
    """The command lines under "examples:" (comment-only continuation lines left out)."""
    block = re.search(r"^examples:\n((?:  .*\n?)+)", text, re.M)
    assert block, f"no examples:\n{text}"
    return [line.strip() for line in block.group(1).splitlines() if not line.strip().startswith("#")]


def parses(line: str) -> None:
    """An example is a command mlpilot's parser accepts (a wrong option or a missing argument fails)."""
    words = shlex.split(line, comments=True)
    assert words[0] == "mlpilot", line
    try:
        build_parser().parse_args(words[1:])
    except SystemExit:
        pytest.fail(f"the example does not parse: {line}")


@pytest.mark.parametrize("command", subcommands())
def test_each_subcommand_has_a_description_and_examples_that_parse(command: str) -> None:
    text = help_text(command)
    paragraphs = text.split("\n\n")
    assert paragraphs[0].startswith(f"usage: mlpilot {command}")
    description = paragraphs[1]
    assert not description.startswith(("positional arguments:", "options:")), f"no description:\n{text}"
    assert len(description.split()) >= 8, description
    lines = examples(text)
    assert any(line.startswith(f"mlpilot {command} ") for line in lines), lines
    for line in lines:
        parses(line)


def test_the_main_help_has_examples_that_parse() -> None:
    for line in examples(help_text()):
        parses(line)


def test_run_help_lists_the_registry_metrics_by_task() -> None:
    text = " ".join(help_text("run").split())
    for task in TASKS:
        assert f"{task}: {', '.join(metrics_for(task))}" in text, task
    assert all(re.search(rf"\b{name}\b", text) for name in METRICS)


@pytest.mark.parametrize("command", [None, *subcommands()])
def test_no_help_says_a_feature_is_missing(command: str | None) -> None:
    text = help_text(*([command] if command else []))
    assert not re.search(r"\b(yet|not supported|not implemented|coming soon)\b", text, re.I), text


def test_help_answers_without_loading_scikit_learn() -> None:
    """Only `run --help` reads the metric registry (which imports scikit-learn), and only when shown."""
    code = ("import argparse, sys; from agent.cli import build_parser; parser = build_parser(); parser.format_help(); "
            "(sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]; "
            "[p.format_help() for name, p in sub.choices.items() if name != 'run']; "
            "assert 'sklearn' not in sys.modules, 'scikit-learn imported'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
