"""``mlpilot chat``: the terminal session.

prompt_toolkit reads the input (history kept in the user's data folder, multi-line paste, completion of
slash commands, file paths and column names, a status line at the bottom); rich prints tables and
progress above the prompt. A turn starting with "/" is a command; anything else is understood by the LLM
when one is on (configured, and not switched off with /llm), else by the offline intent parser. Never a
traceback: problems the person can fix are told plainly, and anything else is one line plus a traceback
in ``chat.log``.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.patch_stdout import patch_stdout

from agent.chat.args import Args, parse_slash
from agent.chat.commands import Commands
from agent.chat.intents import Intent, help_text, parse
from agent.chat.session import Session, SessionStore
from agent.chat.view import edited, in_chat_words
from agent.console import Terminal
from agent.decide.goal import read_goal
from agent.settings import Settings
from tools.errors import MlpilotError

if TYPE_CHECKING:  # the chat's model pulls in the openai client only when a model may be used
    from agent.chat.chat_llm import ChatModels

PROMPT = "mlpilot> "
# Turns that control the session are carried out here even with an LLM on: leaving, stopping a run and
# switching the model must work at once, whatever the model would make of them (it has no tool for these).
LOCAL = ("quit", "stop", "llm")


class ChatCompleter(Completer):
    """Slash commands at the start of a line; file paths for words that look like paths; column names."""

    def __init__(self, commands: Commands) -> None:
        self.commands = commands
        self.paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: object) -> Iterable[Completion]:
        text = document.text_before_cursor
        word = document.get_word_before_cursor(WORD=True)
        if text.startswith("/") and " " not in text:
            for name in self.commands.names():
                if name.startswith(text[1:]):
                    yield Completion("/" + name, start_position=-len(text))
            return
        if "/" in word or word.startswith(".") or word.endswith((".csv", ".parquet")):
            yield from self.paths.get_completions(Document(word, len(word)), complete_event)
            return
        for column in self.commands.state.get("columns") or []:
            if word and column.lower().startswith(word.lower()):
                yield Completion(column, start_position=-len(word))


def status_line(commands: Commands) -> str:
    s = commands.state
    data = Path(s["data"]).name if s.get("data") else "no data"
    llm = commands.llm_model or "offline"
    used = commands.llm_usage() if commands.llm_model else None
    if used and used.get("calls"):
        spend = f", ${used['cost_usd']:.4f}" if used.get("cost_usd") else ""
        llm += f" ({used['tokens'] / 1000:.1f}k tokens, {used['seconds']:.0f} s waited{spend})"
    runs = commands.controller
    run = ("stopping" if runs.stopping else "running") if runs.running else ("plan waiting for approval" if runs.plan else (s.get("run_id") or "no run"))
    seconds, source = commands.budget
    target, metric = s.get("target"), s.get("metric")
    if runs.plan is not None:  # what the waiting plan will do, with the person's edits, not the session's wishes
        (metric, seconds), source, target = edited(runs.plan, runs.edits), "", runs.plan["target"]
    budget = f"{seconds:g} s" + (f" ({source})" if source else "") if seconds else "default"
    if s.get("goal") and not (target and metric):
        match, intent = read_goal(s["goal"], tuple(s.get("columns") or ()))
        target = target or (f"{match.column} (from the goal)" if match else None)
        metric = metric or (f"{intent.metric} (from the goal)" if intent else None)
    return (f" {data} | target: {target or 'not set'} | metric: {metric or 'default'} | "
            f"budget: {budget} | LLM: {llm} | {run} ")


def run_chat(settings: Settings, *, data: str | None = None, resume: bool = False) -> int:
    """The chat loop; returns the exit code."""
    store = SessionStore(settings.home)
    session = store.last_session() if resume else None
    term = Terminal(chat=True)
    if resume and session is None:
        term.out.print("No earlier session to resume; starting a new one.")
    if session is None:
        session = store.new_session()
    commands = Commands(settings, Session(store, session), term)
    models = None
    if settings.llm_enabled or settings.llm_endpoint:  # a model is on, or may be switched on with /llm
        from agent.chat.chat_llm import ChatModels

        models = ChatModels(commands)
        commands.llm_usage = lambda: models.current.client.usage.to_dict() if models.current else None
    prompt = PromptSession(history=FileHistory(str(settings.home / "history")), completer=ChatCompleter(commands),
                           bottom_toolbar=lambda: status_line(commands), complete_while_typing=False,
                           refresh_interval=0.5)  # a run's end, on another thread, must not leave "running" shown
    with patch_stdout(raw=True):
        _greet(commands, resume, data)
        while not commands.quit_requested:
            try:
                text = prompt.prompt(PROMPT)
            except KeyboardInterrupt:
                if commands.controller.running:
                    commands.cmd_stop()
                else:
                    term.out.print("(Ctrl-D or /quit leaves)")
                continue
            except EOFError:
                break
            handle(commands, models, text, settings.home)
        if commands.controller.running:
            term.out.print("Stopping the run in progress before leaving ...")
            commands.controller.stop()
            commands.controller.wait(120)
    commands.controller.leave()
    store.close()
    term.out.print("Bye.")
    return 0


def _greet(commands: Commands, resume: bool, data: str | None) -> None:
    s = commands.state
    if resume and s.get("messages"):
        commands.out.print(f"Resumed the session from {commands.settings.home}:")
        for m in s["messages"][-6:]:
            who = "you" if m["role"] == "user" else "mlpilot"
            commands.out.print(f"  {who}: {m['text'][:200]}", markup=False)
        if s.get("data"):
            commands.say(f"Data: {s['data']}; goal: {s.get('goal') or '(none)'}; last run: {s.get('run_id') or '(none)'}.")
        _reopen(commands)
    else:
        commands.out.print("mlpilot chat. Load data and tell me what to predict; /help lists what I can do.")
    if data:
        handle(commands, None, f"/load {data}", commands.settings.home)


def _reopen(commands: Commands) -> None:
    """Bring back what the last session had in flight: its data, and a run waiting or interrupted."""
    from agent.record.runfolder import read_manifest

    if commands.state.get("data") and Path(commands.state["data"]).exists():
        from tools.intake import read_table
        from tools.profile import profile_frame

        commands.table = read_table(commands.state["data"])
        commands.profile = profile_frame(commands.table.frame).to_dict()
    run_dir = commands.controller.run_dir()
    if run_dir is None or not (run_dir / "manifest.json").exists():
        return
    status = read_manifest(run_dir).get("status")
    if status == "awaiting_approval":
        try:
            commands.reopen_plan(run_dir)
        except MlpilotError as exc:  # the controller has dropped the plan's edits
            commands.say(f"Your last plan was waiting for approval but cannot be brought back ({exc}); "
                         "say 'go' to plan again.")
    elif status in ("interrupted", "running", "timed_out"):
        commands.say(f"The last run ({run_dir.name}) is {status}; /resume continues it.")


def handle(commands: Commands, models: ChatModels | None, text: str, home: Path) -> None:
    """One turn: a slash command, or free text for the LLM (when one is on) or the intent parser."""
    text = text.strip()
    if not text:
        return
    commands.session.log("user", text)
    try:
        if text.startswith("/"):
            name, _, rest = text[1:].partition(" ")
            method = getattr(commands, f"cmd_{name.lower()}", None)
            if method is None:
                commands.say(f"There is no /{name}; /help lists the commands.")
                return
            _call(method, parse_slash(name.lower(), rest))
            return
        intent = parse(text, columns=commands.state.get("columns") or [],
                       pending_plan=commands.controller.plan is not None)
        chat = models.for_turn() if models is not None else None
        if chat is None or intent.action in LOCAL or plainly(text, intent):
            dispatch(commands, intent)
        else:
            chat.handle(text)
    except MlpilotError as exc:
        commands.say(in_chat_words(str(exc)))
    except Exception as exc:  # a bug: one line here, the traceback in the chat log
        with open(home / "chat.log", "a", encoding="utf-8") as log:
            log.write(traceback.format_exc() + "\n")
        commands.say(f"Something went wrong ({type(exc).__name__}: {exc}); details in {home / 'chat.log'}.")


def plainly(text: str, intent: Intent) -> bool:
    """Whether a turn is clear enough to carry out here even with a model on: a short yes or no to a plan
    ("yes", "ok go", "no"), or "load PATH" alone. Asking a model costs seconds to minutes on a local one
    (seen: 85 s for "yes"), and it may garble a path."""
    words = text.split()
    if intent.action in ("approve", "cancel"):
        return len(words) <= 3
    return intent.action == "load" and len(words) == 2 and words[0].lower() == "load"


def dispatch(commands: Commands, intent: Intent) -> None:
    """Carry out what the offline parser understood: its arguments are the command's, as they are."""
    if intent.action == "unknown":
        commands.say("I did not understand that. " + help_text())
        return
    _call(getattr(commands, f"cmd_{intent.action}"), intent.args)


def _call(command: Callable[..., None], args: Args | None) -> None:
    if args is None:
        command()
    else:
        command(args)
