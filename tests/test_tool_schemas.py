"""Tool schemas are generated from typed functions; this test pins them so any change is seen.

Regenerate the snapshot after an intended change with ``MLPILOT_UPDATE_SCHEMAS=1 pytest tests/test_tool_schemas.py``.
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import Literal

import pandas as pd

from agent.decide.policy import ColumnBrief, FinalBrief, GoalBrief, SelectionBrief
from agent.decide.rules import RulePolicy
from agent.llm.loop import Stage
from agent.llm.tools_columns import COLUMN_TOOLS, columns_stage
from agent.llm.tools_goal import GOAL_TOOLS, goal_stage
from agent.llm.tools_reviews import FINAL_TOOLS, SELECTION_TOOLS, final_stage, selection_stage
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


def with_deps(deps: object, column: str, limit: int = 3) -> str:
    """A tool that takes its dependencies first.

    Args:
        column: a column.
        limit: a bound.
    """
    return column


def test_the_deps_parameter_is_left_out_bound_or_not() -> None:
    bare = tool_schema(with_deps)["function"]
    assert list(bare["parameters"]["properties"]) == ["column", "limit"]
    assert bare["parameters"]["required"] == ["column"]
    assert tool_schema(partial(with_deps, object())) == tool_schema(with_deps)


def _stages() -> list[Stage]:
    """Every stage of the LLM policy, built by its public builder on a small frame."""
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0] * 20, "b": ["x", "y", "z"] * 20, "y": [0, 1, 0] * 20})
    profile = profile_frame(frame).to_dict()
    goal = GoalBrief("predict y", list(frame.columns), "", {}, len(frame), profile=profile)
    cols = ColumnBrief("y", "binary", profile, {"suspects": []}, {}, {})
    board = [{"candidate": "lightgbm", "mean": 0.9, "sd": 0.01, "folds": 5, "fit_seconds": 1.0, "complete": True}]
    return [goal_stage(goal, frame.__getitem__), columns_stage(cols, RulePolicy().choose_columns(cols)),
            selection_stage(SelectionBrief("binary", "roc_auc", True, board, 30.0, 60), lambda: False),
            final_stage(FinalBrief("roc_auc", board, None), lambda: False)]


def test_llm_tool_schemas_are_pinned() -> None:
    stages = _stages()
    schemas = {stage.name: [tool_schema(fn, name=name) for name, fn in stage.tools.items()] for stage in stages}
    for tools in schemas.values():
        for t in tools:
            assert t["function"]["description"], f"{t['function']['name']} has no description"
            for name, prop in t["function"]["parameters"]["properties"].items():
                assert prop.get("description"), f"{t['function']['name']}.{name} has no description"
    if os.environ.get("MLPILOT_UPDATE_SCHEMAS"):
        SNAPSHOT.write_text(json.dumps(schemas, indent=2) + "\n")
    assert schemas == json.loads(SNAPSHOT.read_text()), "a tool schema changed: review it, then regenerate"


def test_each_stage_holds_its_registry_and_a_bound_tool_has_the_functions_schema() -> None:
    registries = {"plan_goal": GOAL_TOOLS, "plan_columns": COLUMN_TOOLS, "review_selection": SELECTION_TOOLS,
                  "review_tuning": FINAL_TOOLS}
    for stage in _stages():
        tools = registries[stage.name]
        assert list(stage.tools) == [fn.__name__ for fn in tools]
        assert [tool_schema(fn) for fn in stage.tools.values()] == [tool_schema(fn) for fn in tools]
