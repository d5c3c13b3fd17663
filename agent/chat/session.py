"""The chat's memory: a small JSON-able state saved after every turn with LangGraph's SQLite checkpointer
in the user's data folder, so ``mlpilot chat --resume`` restores the conversation, the loaded data, the
goal and options, and the current run.

The graph is one node that merges a turn's changes into the state; the checkpointer does the rest
(one thread per session, the last session's id kept in ``last_session``).
"""

from __future__ import annotations

import operator
import secrets
import sqlite3
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from agent.record.checkpoints import checkpoint_serializer
from tools.redact import redact_urls

MAX_MESSAGES = 200


def _last(messages: list[dict]) -> list[dict]:
    return messages[-MAX_MESSAGES:]


class ChatState(TypedDict, total=False):
    """What the chat remembers between turns (and sessions)."""

    session_id: str
    data: str | None
    columns: list[str]
    goal: str
    target: str | None
    metric: str | None
    budget: float | None
    keep: list[str]
    drop: list[str]
    llm: str | None
    run_id: str | None
    run_dir: str | None
    runs: list[str]
    plan_edits: list[dict]   # the person's edits to the plan waiting for approval
    messages: Annotated[list[dict], operator.add]


def _merge(state: ChatState) -> ChatState:
    return {}


class SessionStore:
    """Saves and restores chat sessions in ``home/sessions.sqlite``."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self._conn = sqlite3.connect(home / "sessions.sqlite", check_same_thread=False)
        graph = StateGraph(ChatState)
        graph.add_node("merge", _merge)
        graph.add_edge(START, "merge")
        graph.add_edge("merge", END)
        self.graph = graph.compile(checkpointer=SqliteSaver(self._conn, serde=checkpoint_serializer()))

    def new_session(self) -> str:
        session = secrets.token_hex(6)
        (self.home / "last_session").write_text(session, encoding="utf-8")
        self.save(session, {"session_id": session, "runs": [], "keep": [], "drop": [], "goal": ""})
        return session

    def last_session(self) -> str | None:
        path = self.home / "last_session"
        return path.read_text(encoding="utf-8").strip() if path.exists() else None

    def save(self, session: str, changes: dict[str, Any]) -> None:
        """Merge ``changes`` into the session (``messages`` are appended)."""
        self.graph.invoke(changes, {"configurable": {"thread_id": session}})

    def load(self, session: str) -> ChatState:
        return dict(self.graph.get_state({"configurable": {"thread_id": session}}).values)

    def close(self) -> None:
        self._conn.close()


class Session:
    """One chat session: its state, changed only through `remember`, which saves the change at once (so a
    session cut short by a crash or a closed terminal resumes from its last turn)."""

    def __init__(self, store: SessionStore, session_id: str) -> None:
        self.store = store
        self.id = session_id
        self.state: ChatState = store.load(session_id)

    def remember(self, **changes: Any) -> None:
        """Merge ``changes`` into the state and save them."""
        self.state.update(changes)  # type: ignore[typeddict-item]
        self.store.save(self.id, changes)

    def log(self, role: str, text: str) -> None:
        """Append one message of the conversation ("user" or "assistant"), cut to 2,000 characters."""
        self.store.save(self.id, {"messages": [{"role": role, "text": redact_urls(text[:2000])}]})
