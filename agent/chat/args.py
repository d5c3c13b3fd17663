"""The typed arguments of the chat's commands, and the one reader of each command's slash text.

A command that takes arguments takes one of these frozen dataclasses. Three callers build them:

- the offline intent parser (`agent.chat.intents`) from plain language, with columns already matched;
- a slash command ("/predict march.csv out.csv"): the text after the name is read by the class's
  ``parse``, the only place that text is read (`ARGS` says which class each command takes);
- the LLM's tools (`agent.chat.chat_llm`), from their typed parameters, or through ``parse`` where the
  parameter is text as the person said it.

So an argument is never quoted back into a string to be split again. Pure: no I/O. Strings that were
not said are "" (``Predict.output`` and ``Explain.subject`` are None), so a command can tell "not said".
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from agent.decide.goal import parse_budget


@dataclass(frozen=True)
class Load:
    """/load: the data file to read; "" when none was named."""

    path: str

    @classmethod
    def parse(cls, text: str) -> Load:
        return cls(_one_path(text))


@dataclass(frozen=True)
class Goal:
    """/goal: the goal in the person's words, and the data file named with it ("predict churn in x.csv")."""

    goal: str
    path: str = ""

    @classmethod
    def parse(cls, text: str) -> Goal:
        return cls(text.strip())


@dataclass(frozen=True)
class Target:
    """/target: the column to predict; ``unknown`` holds it again when the data has no column of that name."""

    column: str
    unknown: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Target:
        return cls(_unquote(text))


@dataclass(frozen=True)
class Metric:
    """/metric: a metric's registry name or one of its spellings ("roc auc")."""

    metric: str

    @classmethod
    def parse(cls, text: str) -> Metric:
        return cls(text.strip())


@dataclass(frozen=True)
class Budget:
    """/budget: seconds (None when the text says no time), and the text as typed, which a plan edit quotes."""

    seconds: float | None
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Budget:
        text = text.strip()
        seconds = float(text) if text.replace(".", "", 1).isdigit() else parse_budget(text)[0]
        return cls(seconds, text)


@dataclass(frozen=True)
class Columns:
    """/keep and /drop: column names; ``unknown`` holds words the intent parser matched to no column."""

    columns: tuple[str, ...]
    unknown: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Columns:
        return cls(tuple(name.strip("'\"") for name in split_words(text)))


@dataclass(frozen=True)
class Report:
    """/report: the whole report (``full``) or its summary, of ``run`` ("" for the current run)."""

    full: bool = False
    run: str = ""

    @classmethod
    def parse(cls, text: str) -> Report:
        parts = split_words(text)
        full = bool(parts) and parts[0].lower() in ("full", "all", "--full")
        return cls(full, " ".join(parts[1:] if full else parts))


@dataclass(frozen=True)
class Explain:
    """/explain: what a question is about (column, model, metric, threshold, ...) and, if any, which one."""

    topic: str = "general"
    subject: str | None = None

    @classmethod
    def parse(cls, text: str) -> Explain:
        parts = split_words(text)
        return cls(parts[0] if parts else "general", " ".join(parts[1:]) or None)


@dataclass(frozen=True)
class Predict:
    """/predict: the file to predict and where to write the predictions (None: beside it)."""

    path: str
    output: str | None = None

    @classmethod
    def parse(cls, text: str) -> Predict:
        parts = split_words(text)
        return cls(parts[0] if parts else "", parts[1] if len(parts) > 1 else None)


@dataclass(frozen=True)
class Monitor:
    """/monitor: the batch to check for drift."""

    path: str

    @classmethod
    def parse(cls, text: str) -> Monitor:
        return cls(_one_path(text))


@dataclass(frozen=True)
class Llm:
    """/llm: a model's name, "off", or "" to ask which model is on."""

    model: str = ""

    @classmethod
    def parse(cls, text: str) -> Llm:
        return cls(text.strip())


@dataclass(frozen=True)
class RunRef:
    """/resume, /leaderboard, /compare: a run by id or folder; "" for the current (or previous) one."""

    run: str = ""

    @classmethod
    def parse(cls, text: str) -> RunRef:
        return cls(text.strip())


Args = Load | Goal | Target | Metric | Budget | Columns | Report | Explain | Predict | Monitor | Llm | RunRef

# Which argument class each command takes; a command not listed takes none (and ignores any text after it).
ARGS: dict[str, type[Args]] = {
    "load": Load, "goal": Goal, "target": Target, "metric": Metric, "budget": Budget, "keep": Columns,
    "drop": Columns, "report": Report, "explain": Explain, "predict": Predict, "monitor": Monitor, "llm": Llm,
    "resume": RunRef, "leaderboard": RunRef, "compare": RunRef,
}


def parse_slash(name: str, rest: str) -> Args | None:
    """The arguments of "/name rest", read by the command's own reader; None for a command without any."""
    kind = ARGS.get(name)
    return kind.parse(rest) if kind is not None else None


def split_words(text: str) -> list[str]:
    """Words as a shell splits them, so quotes keep a name with spaces whole; an unbalanced quote (an
    apostrophe in a name) falls back to plain words rather than failing."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _unquote(text: str) -> str:
    return text.strip().strip("'\"")


def _one_path(text: str) -> str:
    """One path: the whole text, since a folder may have unescaped spaces ("/my data/x.csv"); quotes around
    it go, and so do the backslashes of escaped spaces, as a terminal pastes a dropped file. Other
    backslashes stay, for Windows paths."""
    return _unquote(text).replace("\\ ", " ")
