"""Changing a column plan after it was made: dropping a used column, or using a dropped one.

Shared by the LLM policy (its changes to the rules' proposal), the plan approval (a person's edits) and
the extra iteration; the plan is the JSON-able dict form of `tools.preprocess.ColumnPlan`.
"""

from __future__ import annotations

from copy import deepcopy

from tools.preprocess import DATETIME_PARTS, HIGH_CARDINALITY, ROLES


def copy_plan(plan: dict) -> dict:
    return deepcopy(plan)


def features(plan: dict) -> list[str]:
    return [c for role in ROLES for c in plan.get(role, [])]


def drop_column(plan: dict, column: str, reason: str) -> bool:
    """Stop using ``column`` (in place); False when it was not a feature."""
    used = False
    for role in ROLES:
        if column in plan.get(role, []):
            plan[role].remove(column)
            used = True
    plan["missing_indicators"] = [c for c in plan.get("missing_indicators", []) if c != column]
    plan.get("datetime_parts", {}).pop(column, None)
    plan.setdefault("dropped", {})[column] = reason
    return used


def keep_column(plan: dict, column: str, profile_column: dict) -> str:
    """Use a dropped ``column`` again (in place), in the role its profile calls for; returns the role."""
    plan.get("dropped", {}).pop(column, None)
    kind = profile_column["kind"]
    role = {"numeric": "numeric", "boolean": "boolean", "datetime": "datetime"}.get(kind)
    role = role or ("high_cardinality" if profile_column.get("n_unique", 0) > HIGH_CARDINALITY else "categorical")
    if column not in plan[role]:
        plan[role].append(column)
    if role == "datetime":
        plan.setdefault("datetime_parts", {})[column] = list(DATETIME_PARTS)
    return role
