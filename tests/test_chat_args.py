"""The commands' typed arguments: each slash command's one reader, the intents handing their arguments to
the commands as they are, and the commands' signatures agreeing with both. In this process, no terminal."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

import pytest

from agent.chat.app import dispatch, handle
from agent.chat.args import (
    ARGS,
    Budget,
    Columns,
    Explain,
    Goal,
    Llm,
    Load,
    Monitor,
    Predict,
    Report,
    RunRef,
    Target,
    parse_slash,
)
from agent.chat.commands import Commands
from agent.chat.intents import Intent, parse
from agent.chat.session import Session, SessionStore
from agent.console import Terminal
from agent.settings import Settings


@pytest.fixture
def commands(tmp_path: Path) -> Commands:
    store = SessionStore(tmp_path / "home")
    settings = Settings(runs_dir=tmp_path / "runs", home=tmp_path / "home")
    return Commands(settings, Session(store, store.new_session()), Terminal(chat=True))


@pytest.fixture
def odd_columns(tmp_path: Path) -> Path:
    """Column names a quoted-and-split-again argument would break: a double quote, an apostrophe, spaces."""
    path = tmp_path / "odd.csv"
    path.write_text('id,"say ""hi""",O\'Brien score,monthly charges,y\n'
                    + "".join(f'{i},a{i % 3},{i * 1.5},{i % 7},{i % 2}\n' for i in range(40)))
    return path


@pytest.mark.parametrize("name,text,expected", [
    ("load", "  'my data.csv' ", Load("my data.csv")),
    ("load", r"/tmp/my\ data/x.csv", Load("/tmp/my data/x.csv")),
    ("load", r"C:\data\sales.csv", Load(r"C:\data\sales.csv")),
    ("monitor", "/srv/new batch/march.csv", Monitor("/srv/new batch/march.csv")),
    ("goal", " predict churn; 5 minutes ", Goal("predict churn; 5 minutes")),
    ("target", "'Churn'", Target("Churn")),
    ("budget", "120", Budget(120.0, "120")),
    ("budget", "2 minutes", Budget(120.0, "2 minutes")),
    ("budget", "soon", Budget(None, "soon")),
    ("drop", "O'Brien id", Columns(("O'Brien", "id"))),  # an apostrophe: plain words, not an error
    ("keep", "'monthly charges' id", Columns(("monthly charges", "id"))),
    ("report", "full 2024-run", Report(True, "2024-run")),
    ("report", "2024-run", Report(False, "2024-run")),
    ("explain", "column monthly charges", Explain("column", "monthly charges")),
    ("explain", "", Explain("general", None)),
    ("predict", "march.csv 'out file.csv'", Predict("march.csv", "out file.csv")),
    ("predict", "", Predict("", None)),
    ("llm", " gpt-4o ", Llm("gpt-4o")),
    ("compare", " 2024-run ", RunRef("2024-run")),
    ("plan", "now please", None),
])
def test_each_slash_command_has_one_reader(name: str, text: str, expected: object) -> None:
    assert parse_slash(name, text) == expected


def test_every_command_takes_the_arguments_its_reader_makes() -> None:
    for name in Commands.names():
        method = getattr(Commands, f"cmd_{name}")
        params = list(inspect.signature(method).parameters.values())[1:]
        if name in ARGS:
            assert [p.name for p in params] == ["args"], name
            assert typing.get_type_hints(method)["args"] is ARGS[name], name
        else:
            assert params == [], f"/{name} takes no arguments, so it has no reader"
    assert set(ARGS) <= set(Commands.names())


@pytest.mark.parametrize("text,action,args", [
    ("load data/sales.csv", "load", Load("data/sales.csv")),
    ("predict churn in telco.csv", "goal", Goal("predict churn", "telco.csv")),
    ("make predictions for march.csv into out.csv", "predict", Predict("march.csv", "out.csv")),
    ("drop monthly charges and the id column", "drop", Columns(("monthly charges", "id"))),
    ("ignore column X", "drop", Columns((), ("X",))),
    ("budget 10 minutes", "budget", Budget(600.0)),
    ("show me the whole report", "report", Report(full=True)),
    ("why was id dropped?", "explain", Explain("column", "id")),
    ("llm off", "llm", Llm("off")),
    ("go", "run", None),
])
def test_intents_carry_the_commands_typed_arguments(text: str, action: str, args: object) -> None:
    intent = parse(text, columns=["id", "monthly charges", "y"])
    assert (intent.action, intent.args) == (action, args)
    assert args is None or isinstance(args, ARGS[action])


def test_names_reach_the_command_as_they_were_matched(commands: Commands, odd_columns: Path) -> None:
    dispatch(commands, parse(f"load {odd_columns}"))
    assert commands.state["columns"] == ["id", 'say "hi"', "O'Brien score", "monthly charges", "y"]
    # A name with a double quote used to be quoted for the command and split again, and broke.
    dispatch(commands, Intent("drop", Columns(('say "hi"', "O'Brien score")), "drop them"))
    assert commands.state["drop"] == ["O'Brien score", 'say "hi"']
    dispatch(commands, parse("keep monthly charges and O'Brien score", columns=commands.state["columns"]))
    assert commands.state["keep"] == ["O'Brien score", "monthly charges"]
    assert commands.state["drop"] == ['say "hi"']


def test_slash_text_is_read_once_by_its_reader(commands: Commands, odd_columns: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    home = commands.settings.home
    handle(commands, None, f"/load '{odd_columns}'", home)
    handle(commands, None, "/drop 'monthly charges' nope", home)
    handle(commands, None, "/budget 2 minutes", home)
    handle(commands, None, "/target 'y'", home)
    assert commands.state["drop"] == ["monthly charges"] and commands.state["budget"] == 120.0
    assert commands.state["target"] == "y"
    out = " ".join(capsys.readouterr().out.split())
    assert "No column 'nope'." in out and "Will drop monthly charges in the next plan." in out
    assert "Budget: 120 s." in out and "Target: y." in out


def test_commands_without_a_run_say_so(commands: Commands, capsys: pytest.CaptureFixture[str]) -> None:
    for intent in (parse("why was id dropped?"), parse("predict on march.csv"), parse("check march.csv for drift"),
                   parse("show me the whole report"), parse("compare with the last run"), parse("stop"),
                   parse("yes"), parse("no")):
        dispatch(commands, intent)
    out = " ".join(capsys.readouterr().out.split())
    for said in ("No run yet to explain", "Say which file to predict", "Say which file to check", "No run yet:",
                 "I need two runs to compare", "No run is going on.", "There is no plan waiting for approval",
                 "There is no plan to cancel."):
        assert said in out


def test_a_waiting_plan_is_approved_or_cancelled_before_anything_is_resumed(
        commands: Commands, datasets_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = commands.settings.home
    handle(commands, None, f"load {datasets_dir / 'titanic.csv'}", home)
    handle(commands, None, "predict who survived; 30 seconds", home)
    handle(commands, None, "/plan", home)
    assert commands.controller.phase == "awaiting_approval"
    capsys.readouterr()
    handle(commands, None, "/resume", home)
    assert "A plan is waiting for approval" in capsys.readouterr().out
    handle(commands, None, "no", home)
    assert commands.controller.phase == "idle" and "Plan cancelled" in capsys.readouterr().out
