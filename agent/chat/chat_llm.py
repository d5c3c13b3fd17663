"""The chat with a language model: free text goes to the model, which acts through the chat's commands
(as tools, passing the commands' typed arguments) and answers with `reply`. Answers about a run must
cite event numbers that exist in its log; a reply citing an event that does not exist goes back to the
model as an error. When the model cannot be reached, the offline intent parser takes the turn.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Literal

from agent.chat.args import ARGS, Columns, Goal, Load, Monitor, Predict
from agent.chat.commands import Commands
from agent.chat.explain import explain as explain_from_log
from agent.llm.client import LLMClient, LLMUnavailable, Usage
from agent.llm.config import LLMConfig
from agent.llm.context import fit
from agent.llm.loop import Conversation, Stage, StageFailed, ToolError
from agent.llm.prompts import load_prompt
from agent.record.reader import RunRecord
from tools.errors import MlpilotError

MAX_HISTORY = 40
# HTML entities or escaped quotes in an argument: a small model's garbling of what the person wrote.
GARBLED = re.compile(r"&(?:#\d+|amp|quot|lt|gt);|\\\"")


class ChatModels:
    """The chat's model follows /llm: none when it is off (the offline parser reads every turn), a new
    conversation when the model changes. What the chat spends counts against --llm-budget over the whole
    session, across model changes; each run started from the chat has a budget of its own."""

    def __init__(self, commands: Commands) -> None:
        self.commands = commands
        self.current: ChatLLM | None = None

    def for_turn(self) -> ChatLLM | None:
        model = self.commands.llm_model
        if model is None:
            return None
        if self.current is None or self.current.client.config.model != model:
            spent = self.current.client.usage if self.current else Usage()
            self.current = ChatLLM(self.commands, LLMConfig.from_settings(self.commands.settings, model), spent)
        return self.current


class ChatLLM:
    """One model conversation."""

    def __init__(self, commands: Commands, config: LLMConfig, spent: Usage) -> None:
        self.commands = commands
        self.client = LLMClient(config, usage=spent)
        self.chat = Conversation(self.client, load_prompt("chat").text, log=lambda kind, **kw: None)

    def handle(self, text: str) -> None:
        from agent.chat.app import dispatch
        from agent.chat.intents import parse

        c = self.commands
        # Old turns go whole (a tool call never without its reply); the model's context is kept by the loop.
        fit(self.chat.messages, 10**9, max_messages=MAX_HISTORY)
        stage = self._stage()
        c.transcript = []
        try:
            self.chat.run(stage, text)
        except (LLMUnavailable, StageFailed) as exc:
            c.transcript = None
            why = "is unavailable" if isinstance(exc, LLMUnavailable) else "gave no valid answer"
            c.say(f"(the language model {why}: {exc}; I'll read that myself)")
            dispatch(c, parse(text, columns=c.state.get("columns") or [], pending_plan=c.controller.plan is not None))
            return
        finally:
            c.transcript = None
        if "answer" in stage.decided:
            c.say(stage.decided["answer"])

    def _stage(self) -> Stage:
        c = self.commands
        stage = Stage("chat", {}, ("answer",), by_tool={"reply": "answer"}, max_turns=6)

        def said(action: Callable[..., None], *args: object) -> str:
            before = len(c.transcript or [])
            try:
                action(*args)
            except MlpilotError as exc:  # the model's call was wrong: it hears why, the person does not
                raise ToolError(str(exc)) from None
            return "\n".join((c.transcript or [])[before:]) or "done"

        def checked_path(path: str) -> str:
            if not path or GARBLED.search(path) or not Path(path).expanduser().is_file():
                raise ToolError(f"no file at {path!r}; use the path exactly as the person wrote it")
            return path

        def checked_columns(names: list[str]) -> list[str]:
            known = {str(col).lower(): str(col) for col in c.state.get("columns") or []}
            unknown = [n for n in names if n.lower() not in known and n.lower().replace(" ", "_") not in known]
            if not known:
                raise ToolError("no data is loaded yet; load a file first")
            if unknown:
                raise ToolError(f"no column {', '.join(map(repr, unknown))}; the columns are "
                                f"{', '.join(list(known.values())[:40])}")
            return names

        def load(path: str) -> str:
            """Load a CSV or Parquet file and profile it.

            Args:
                path: the file's path as the person gave it.
            """
            return said(c.cmd_load, Load.parse(checked_path(path)))

        def set_goal(goal: str) -> str:
            """Set the goal: what to predict and what matters, in the person's words.

            Args:
                goal: the goal text.
            """
            if GARBLED.search(goal) or not any(ch.isalpha() for ch in goal):
                raise ToolError(f"the goal {goal!r} looks garbled; give the person's words as plain text")
            return said(c.cmd_goal, Goal.parse(goal))

        def set_option(option: Literal["target", "metric", "budget"], value: str) -> str:
            """Set the target column, the metric (a registry name) or the budget (seconds).

            Args:
                option: which setting.
                value: its value.
            """
            # The value is text, as the person would type it after the slash command: read it the same way.
            return said(getattr(c, f"cmd_{option}"), ARGS[option].parse(value))

        def columns(action: Literal["keep", "drop"], names: list[str]) -> str:
            """Keep or drop columns (in the plan waiting for approval, or for the next plan).

            Args:
                action: keep or drop.
                names: exact column names.
            """
            return said(getattr(c, f"cmd_{action}"), Columns(tuple(checked_columns(names))))

        def act(action: Literal["profile", "plan", "approve", "cancel", "stop", "runs", "report", "leaderboard",
                                "compare", "resume", "serve"]) -> str:
            """Do one of the chat's actions: show the profile, make the plan, approve or cancel it, stop the run,
            list runs, show the report, show the models tried and their scores, compare with the previous run,
            resume an interrupted run, say how to serve the model over HTTP.

            Args:
                action: which one.
            """
            return said(getattr(c, f"cmd_{action}"))

        def files(action: Literal["predict", "monitor"], path: str) -> str:
            """Predict a file with the current model, or check it for drift.

            Args:
                action: predict or monitor.
                path: the file.
            """
            path = checked_path(path)
            return said(c.cmd_predict, Predict(path)) if action == "predict" else said(c.cmd_monitor, Monitor(path))

        def explain(topic: Literal["column", "model", "baseline", "metric", "threshold", "target", "budget",
                                   "fairness", "general"], subject: str | None = None) -> str:
            """What the current run's event log says about a topic, with the event numbers.

            Args:
                topic: what the question is about.
                subject: the column or model asked about, if any; for fairness, the groups asked about.
            """
            run_dir = c.controller.run_dir()
            if run_dir is None:
                return "there is no run yet"
            answer = explain_from_log(run_dir, topic, subject)
            return json.dumps({"text": answer.text, "event_ids": list(answer.events), "found": answer.found})

        def reply(text: str, event_ids: list[int] | None = None) -> str:
            """Answer the person and end the turn.

            Args:
                text: one to four sentences.
                event_ids: the event numbers the answer rests on (required when it is about a run).
            """
            if event_ids:
                run_dir = c.controller.run_dir()
                known = RunRecord(run_dir).seqs if run_dir else set()
                missing = [i for i in event_ids if i not in known]
                if missing:
                    raise ToolError(f"events {missing} are not in the run's log; cite only numbers explain returned",
                                    "answer")
                text += f" (events {', '.join(map(str, event_ids))})"
            stage.decided["answer"] = text
            return "ok"

        stage.tools.update(load=load, set_goal=set_goal, set_option=set_option, columns=columns, act=act,
                           files=files, explain=explain, reply=reply)
        return stage
