"""A model with a small context window (llama.cpp's 4,096 tokens, here smaller): the conversation is fitted
to it by dropping old turns whole, so a long chat never gets the server's HTTP 400 and no tool call is left
without its reply. Against the scripted server on 127.0.0.1, which answers 400 past its context."""

from __future__ import annotations

import pytest

from agent.llm.client import LLMClient
from agent.llm.config import LLMConfig
from agent.llm.context import estimate, fit, orphan_tool_calls
from agent.llm.loop import Conversation, Stage
from agent.settings import Settings
from tests.llm_server import ScriptedLLM, tool_calls
from tools.errors import ConfigError

CONTEXT = 2048
TURNS = 15
# What a user types and the chat adds about the run in one turn: about 400 tokens.
QUESTION = "Which columns matter most for who survived, and why was name dropped? " * 20


def _turn_stage() -> Stage:
    stage = Stage("chat", {}, ("answer",), by_tool={"note": "answer"})

    def note(text: str) -> str:
        stage.decided["answer"] = text
        return "noted: " + text

    stage.tools["note"] = note
    return stage


def _chat(server: ScriptedLLM, context: int | None) -> tuple[Conversation, int]:
    config = LLMConfig(model="local", base_url=server.url, api_key="sk-test", max_tokens=512, context=context,
                       max_retries=0, timeout=20)
    chat = Conversation(LLMClient(config), "You are mlpilot's assistant. " * 10, log=lambda kind, **kw: None)
    done = 0
    for turn in range(TURNS):
        server.enqueue(tool_calls(("note", {"text": f"answer {turn}: sex and class matter most " * 4})))
        chat.run(_turn_stage(), f"turn {turn}: {QUESTION}")
        done += 1
    return chat, done


def test_a_long_chat_fits_a_small_context_and_never_gets_a_400() -> None:
    with ScriptedLLM(context=CONTEXT) as server:
        chat, done = _chat(server, CONTEXT)
    assert done == TURNS and len(server.requests) == TURNS
    for body in server.requests:
        assert server.prompt_tokens(body) + body["max_tokens"] <= CONTEXT
    assert orphan_tool_calls(chat.messages) == [], "every tool call keeps its reply"
    assert chat.messages[0]["role"] == "system" and "turn 14" in chat.messages[-3]["content"]
    assert not any("turn 0:" in str(m.get("content")) for m in chat.messages), "the oldest turns were dropped"


def test_without_the_context_one_400_names_it_and_the_chat_fits_from_then_on() -> None:
    """A server that does not publish its context (llama-cpp-python's) says it in its HTTP 400: the
    conversation takes the size from there, fits the request and sends it once more."""
    with ScriptedLLM(context=CONTEXT) as server:
        chat, done = _chat(server, None)
    over = [b for b in server.requests if server.prompt_tokens(b) + b["max_tokens"] > CONTEXT]
    assert done == TURNS and len(over) == 1 and len(server.requests) == TURNS + 1
    assert chat.context == CONTEXT
    assert orphan_tool_calls(chat.messages) == []


def test_fit_drops_whole_turns_and_keeps_the_last() -> None:
    messages = [{"role": "system", "content": "s"}]
    for i in range(6):
        messages += [{"role": "user", "content": f"question {i} " * 50},
                     {"role": "assistant", "content": "", "tool_calls": [{"id": f"c{i}", "type": "function",
                                                                        "function": {"name": "f", "arguments": "{}"}}]},
                     {"role": "tool", "tool_call_id": f"c{i}", "content": "ok"},
                     {"role": "assistant", "content": "done"}]
    limit = estimate(messages[:1] + messages[-8:])
    dropped = fit(messages, limit)
    assert dropped == 16 and len(messages) == 9 and messages[1]["content"].startswith("question 4")
    assert orphan_tool_calls(messages) == []
    assert fit(messages, 1) == 4 and messages[1]["content"].startswith("question 5"), "the last turn stays"
    many = [{"role": "system", "content": "s"}] + [{"role": "user", "content": str(i)} for i in range(50)]
    fit(many, 10**9, max_messages=40)
    assert len(many) == 40 and many[1]["content"] == "11"


def test_the_context_option_sizes_the_reply_and_is_checked() -> None:
    s = Settings.from_flags({"llm_context": 4096}, env={})
    config = LLMConfig.from_settings(s, "local")
    assert config.context == 4096 and config.max_tokens == 1024
    small = LLMConfig.from_settings(Settings.from_flags({"llm_context": 2048}, env={}), "local")
    assert small.max_tokens == 512
    assert Settings.from_flags({}, env={"MLPILOT_LLM_CONTEXT": "8192"}).llm_context == 8192
    with pytest.raises(ConfigError, match="--llm-context must be at least 1024"):
        Settings.from_flags({"llm_context": 100}, env={})


def test_the_context_is_read_from_a_llama_cpp_server() -> None:
    from agent.llm.probe import server_context

    with ScriptedLLM(context=3072) as server:
        s = Settings.from_flags({"llm": "local-3b"}, env={"OPENAI_BASE_URL": server.url})
        config = LLMConfig.from_settings(s)
        assert config.context == 3072 and config.max_tokens == 768
    with ScriptedLLM() as quiet:  # a server that does not say: unknown, and nothing is cut
        assert server_context(quiet.url, "scripted") is None
