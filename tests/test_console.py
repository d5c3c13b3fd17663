"""The terminal's progress lines, fed the events a run emits (no run needed to check their wording)."""

from __future__ import annotations

import io
import re

from rich.console import Console

from agent.console import Terminal


def _chat_terminal(width: int = 200) -> tuple[Terminal, io.StringIO]:
    term = Terminal(chat=True)
    buffer = io.StringIO()
    term.out = term.err = Console(file=buffer, width=width, highlight=False, no_color=True)
    return term, buffer


def _one_run(term: Terminal, run_id: str, trials: int) -> None:
    term.on_event({"kind": "run_started", "t": 0.0, "run_id": run_id})
    term.on_event({"kind": "tuning_started", "t": 1.0, "seconds": 20})
    for i in range(trials):
        term.on_event({"kind": "trial", "t": 2.0 + i, "candidate": "lightgbm", "state": "complete",
                       "best_so_far": 0.8, "seconds_left": 20 - i})
    term.on_event({"kind": "tuning_finished", "t": 30.0, "trials": trials, "stopped": "budget"})


def test_each_run_of_a_chat_session_counts_its_own_trials() -> None:
    term, buffer = _chat_terminal()
    _one_run(term, "run-a", 23)
    _one_run(term, "run-b", 12)
    counts = [int(n) for n in re.findall(r"tuning: trial (\d+)", buffer.getvalue())]
    assert counts == [10, 20, 10], "the second run's counter starts again at 1"


def test_chat_answers_wrap_between_words() -> None:
    from agent.chat.commands import Commands

    term, buffer = _chat_terminal(width=40)
    text = ("Run 20261202-004702-titanic-1ff6 completed after 31 s of its 40 s budget: an ensemble of "
            "lightgbm and catboost scores ROC AUC 0.8794 on the holdout.")

    class _Quiet:
        def log(self, *args: object) -> None:
            pass

    fake = Commands.__new__(Commands)
    fake.out, fake.transcript, fake.session = term.out, None, _Quiet()
    Commands.say(fake, text)
    lines = buffer.getvalue().splitlines()
    assert len(lines) > 2 and all(len(line) <= 40 for line in lines)
    assert " ".join(line.strip() for line in lines) == text, "every break falls between two words"


def test_the_status_line_shows_the_models_tokens_waiting_and_spend(tmp_path) -> None:  # noqa: ANN001
    from agent.chat.app import status_line
    from agent.chat.commands import Commands
    from agent.chat.session import Session, SessionStore
    from agent.settings import Settings

    store = SessionStore(tmp_path / "home")
    settings = Settings(runs_dir=tmp_path / "runs", home=tmp_path / "home", llm_model="gpt-4o-mini")
    commands = Commands(settings, Session(store, store.new_session()), Terminal(chat=True))
    assert " | LLM: gpt-4o-mini | " in status_line(commands), "nothing used yet"
    commands.llm_usage = lambda: {"calls": 3, "tokens": 4200, "seconds": 12.4, "cost_usd": 0.00123}
    assert " | LLM: gpt-4o-mini (4.2k tokens, 12 s waited, $0.0012) | " in status_line(commands)
    commands.llm_usage = lambda: {"calls": 3, "tokens": 4200, "seconds": 31.0, "cost_usd": 0.0}
    assert "(4.2k tokens, 31 s waited) |" in status_line(commands), "a local model costs nothing: no spend shown"
    store.close()


def test_errors_warnings_and_notes_print_square_brackets_as_written() -> None:
    """A message is plain text: "mlpilot[dask]" or a column named "price [usd]" is not rich markup."""
    term, buffer = _chat_terminal()
    term.error("install the extra: pip install 'mlpilot[dask]'")
    term.warning("column 'price [usd]' has 3 placeholders")
    term.info("note: [bold]not bold[/bold]")
    text = buffer.getvalue()
    assert "'mlpilot[dask]'" in text and "'price [usd]'" in text and "[bold]not bold[/bold]" in text
