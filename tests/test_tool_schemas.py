"""Tool schemas are generated from typed functions; this test pins them so any change is seen.

Regenerate the snapshot after an intended change with ``MLPILOT_UPDATE_SCHEMAS=1 pytest tests/test_tool_schemas.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import pandas as pd

from agent.decide.policy import ColumnBrief, GoalBrief, SelectionBrief
from agent.job.context import Workspace
from agent.llm.client import LLMClient
from agent.llm.config import LLMConfig
from agent.llm.policy import LLMPolicy
from agent.record.events import EventLog
from tools.profile import profile_frame
from tools.schema import tool_schema

SNAPSHOT = Path(__file__).parent / "data" / "llm_tool_schemas.json"


def sample(column: str, kind: Literal["a", "b"], limit: float | None = None, names: list[str] | None = None) -> str:
    """Do a sample thing.

    A second paragraph that is not part of the description.

    Args:
        column: the column's exact name,
            continued on a second line.
        kind: which kind.
        limit: an optional bound.
        names: a list of names.
    """
    return column


def test_schema_from_signature_and_docstring() -> None:
    schema = tool_schema(sample)["function"]
    assert schema["name"] == "sample" and schema["description"] == "Do a sample thing."
    props = schema["parameters"]["properties"]
    assert props["column"] == {"type": "string", "description": "the column's exact name, continued on a second line."}
    assert props["kind"]["enum"] == ["a", "b"]
    assert props["limit"]["anyOf"] == [{"type": "number"}, {"type": "null"}]
    assert props["names"]["anyOf"][0] == {"type": "array", "items": {"type": "string"}}
    assert schema["parameters"]["required"] == ["column", "kind"]


def test_llm_tool_schemas_are_pinned(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0] * 20, "b": ["x", "y", "z"] * 20, "y": [0, 1, 0] * 20})
    profile = profile_frame(frame)
    ws = Workspace({"table": SimpleNamespace(frame=frame), "profile": profile})
    policy = LLMPolicy(LLMClient(LLMConfig()), EventLog(tmp_path / "e.jsonl"), ws)
    goal = GoalBrief("predict y", list(frame.columns), "", {}, len(frame))
    cols = ColumnBrief("y", "binary", profile.to_dict(), {"suspects": []}, {}, {})
    board = [{"candidate": "lightgbm", "mean": 0.9, "sd": 0.01, "folds": 5, "fit_seconds": 1.0, "complete": True}]
    stages = [policy._goal_stage(goal), policy._columns_stage(cols, policy.rules.choose_columns(cols)),
              policy._selection_stage(SelectionBrief("binary", "roc_auc", True, board, 30.0, 60)),
              policy._final_stage(board, None)]
    schemas = {stage.name: [tool_schema(fn, name=name) for name, fn in stage.tools.items()] for stage in stages}
    for tools in schemas.values():
        for t in tools:
            assert t["function"]["description"], f"{t['function']['name']} has no description"
            for name, prop in t["function"]["parameters"]["properties"].items():
                assert prop.get("description"), f"{t['function']['name']}.{name} has no description"
    if os.environ.get("MLPILOT_UPDATE_SCHEMAS"):
        SNAPSHOT.write_text(json.dumps(schemas, indent=2) + "\n")
    assert schemas == json.loads(SNAPSHOT.read_text()), "a tool schema changed: review it, then regenerate"
