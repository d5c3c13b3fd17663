"""The guard: every decision, from whichever policy, is checked before a node acts on it.

`check(decision, facts)` returns None when the decision is valid, else a message that names the rule
and the valid options: for an LLM it goes back as a tool error to retry; for the rules it is a bug.
``facts`` holds what the check needs (columns, task, candidates evaluated, budget...).
"""

from __future__ import annotations

from typing import Any, Callable

from agent.decide.policy import Decision
from agent.timing.timeplan import ORDER
from tools.candidates import CANDIDATES
from tools.errors import ToolArgumentError
from tools.metrics import get_metric
from tools.preprocess import ROLES
from tools.tasks import TASKS
from tools.threshold import validate_rule

MAX_BUDGET = 24 * 3600.0


def check(decision: Decision, facts: dict[str, Any]) -> str | None:
    """None if ``decision`` is valid given ``facts``, else what is wrong and what would be valid."""
    question = decision.question.split(":", 1)[0]
    checker = _CHECKS.get(question)
    if checker is None:
        return None
    try:
        return checker(decision, facts)
    except ToolArgumentError as exc:
        return str(exc)
    except (KeyError, TypeError, ValueError) as exc:
        return f"malformed answer for '{decision.question}': {exc}"


def _budget(d: Decision, f: dict) -> str | None:
    value = float(d.choice)
    limit = f.get("budget_limit") or MAX_BUDGET
    if not 5.0 <= value <= limit:
        return f"budget must be between 5 and {limit:g} seconds; got {value:g}"
    return None


def _target(d: Decision, f: dict) -> str | None:
    columns = f["columns"]
    if d.choice not in columns:
        return f"no column '{d.choice}'; columns are: {', '.join(map(str, columns[:40]))}"
    return None


def _task(d: Decision, f: dict) -> str | None:
    if d.choice not in TASKS:
        return f"task must be one of {', '.join(TASKS)}; got {d.choice!r}"
    if d.choice == "regression" and not f.get("target_numeric", True):
        return "the target holds text, so the task must be binary or multiclass"
    return None


def _metric(d: Decision, f: dict) -> str | None:
    get_metric(str(d.choice), f["task"])
    return None


def _threshold(d: Decision, f: dict) -> str | None:
    if f["task"] != "binary":
        return None if d.choice is None else "a threshold rule applies only to binary tasks; answer null"
    if d.choice is None:
        return "a binary task needs a threshold rule, e.g. {'kind': 'max_f1'}"
    validate_rule(d.choice)
    return None


MIN_HOLDOUT_ROWS = 20_000


def _validation(d: Decision, f: dict) -> str | None:
    share, folds = float(d.choice["holdout_share"]), int(d.choice["folds"])
    # On millions of rows a small share is still tens of thousands of rows, plenty for an honest estimate.
    rows = f.get("usable_rows")
    lowest = min(0.05, MIN_HOLDOUT_ROWS / rows) if rows else 0.05
    if not lowest <= share <= 0.5:
        return f"holdout_share must be between {lowest:.4g} and 0.5; got {share}"
    if not 2 <= folds <= 20:
        return f"folds must be between 2 and 20; got {folds}"
    return None


def _drop(d: Decision, f: dict) -> str | None:
    column = d.question.split(":", 1)[1]
    if column == f["target"]:
        return f"'{column}' is the target and cannot be dropped"
    if column not in f["columns"]:
        return f"no column '{column}'"
    return None


def _column_plan(d: Decision, f: dict) -> str | None:
    plan = d.choice
    used = [c for role in ROLES for c in plan.get(role, [])]
    if f["target"] in used:
        return f"the target '{f['target']}' cannot be a feature"
    unknown = [c for c in used + list(plan.get("dropped", {})) if c not in f["columns"]]
    if unknown:
        return f"unknown columns {unknown}; columns are: {', '.join(map(str, f['columns'][:40]))}"
    if len(set(used)) != len(used):
        return "a column appears under two roles"
    if not used:
        return "every column was dropped: nothing is left to learn from"
    return None


def _candidates(d: Decision, f: dict) -> str | None:
    names = list(d.choice)
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown or not names:
        return f"candidates must be a non-empty subset of {', '.join(CANDIDATES)}; got {names}"
    return None


def _tuning(d: Decision, f: dict) -> str | None:
    shares = d.choice.get("shares", {})
    allowed = f.get("evaluated", list(CANDIDATES))
    bad = [n for n in shares if n not in allowed]
    if bad:
        return f"only candidates that were evaluated can be tuned ({', '.join(allowed)}); got {bad}"
    if any(float(v) < 0 for v in shares.values()):
        return "shares must be zero or positive"
    return None


def _final(d: Decision, f: dict) -> str | None:
    if d.choice.get("kind") == "iterate":
        return None
    ensemble = d.choice.get("kind") == "ensemble"
    # A blend's weights name configurations of the pool (``lightgbm#12``); a single model names a candidate.
    allowed = list(f.get("evaluated", [])) + (list(f.get("pool", [])) if ensemble else [])
    names = list(d.choice.get("weights", {})) if ensemble else [d.choice.get("candidate")]
    bad = [n for n in names if n not in allowed]
    return f"the final model must use evaluated candidates ({', '.join(allowed)}); got {bad}" if bad else None


def _time_plan(d: Decision, f: dict) -> str | None:
    weights = d.choice.get("weights", {})
    bad = {k: v for k, v in weights.items() if k not in ORDER or not float(v) > 0}
    if bad or not weights:
        return f"time plan weights must be above 0, for steps among {', '.join(ORDER)}; got {weights}"
    return None


def _sample(d: Decision, f: dict) -> str | None:
    rows, limit = int(d.choice.get("rows", 0)), f.get("rows")
    if rows < 1 or (limit is not None and rows > limit):
        return f"a sample must have between 1 and {limit} rows; got {rows}"
    return None


def _refit(d: Decision, f: dict) -> str | None:
    return None if isinstance(d.choice, bool) else f"refit must be true or false; got {d.choice!r}"


_CHECKS: dict[str, Callable[[Decision, dict], str | None]] = {
    "budget": _budget, "target": _target, "task": _task, "metric": _metric, "threshold_rule": _threshold,
    "validation": _validation, "drop": _drop, "column_plan": _column_plan, "candidates": _candidates,
    "tuning": _tuning, "final_model": _final, "refit": _refit, "time_plan": _time_plan, "sample": _sample,
}
