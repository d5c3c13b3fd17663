"""Whether the holdout honours what the goal asked of the decision threshold.

A goal such as "avoid false alarms" (precision >= 0.80) or "recall of at least 90%" becomes a threshold rule
(`tools.threshold`), chosen on out-of-fold predictions. The holdout then says whether the promise holds on
rows the model never saw; a person must read that at the top of the report, with the numbers and what to
try, not find it in a table. A threshold that flags nothing, or everything, honours no goal whatever its
precision or recall say.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class GoalCheck:
    """The rule's target, what the holdout gave, and in words what it means and what to try."""

    rule: dict
    target: dict[str, float]
    holdout: dict[str, float]
    flagged: int
    rows: int
    met: bool
    problems: list[str] = field(default_factory=list)
    advice: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def check_goal(rule: dict | None, at_threshold: dict[str, float], confusion: dict, *,
               out_of_fold: dict | None = None) -> GoalCheck | None:
    """The goal's threshold target against the holdout, or None when the goal set no target.

    Args:
        rule: the plan's threshold rule (``min_precision`` / ``min_recall`` carry a target).
        at_threshold: holdout precision and recall at the chosen threshold.
        confusion: the holdout confusion matrix (``matrix``: rows true, columns predicted; binary).
        out_of_fold: the threshold decision's evidence (``feasible``, precision, recall out of fold).
    """
    matrix = confusion.get("matrix") or []
    if len(matrix) != 2:
        return None
    rows = int(sum(sum(r) for r in matrix))
    flagged = int(matrix[0][1] + matrix[1][1])
    holdout = {"precision": float(at_threshold.get("precision", 0.0)), "recall": float(at_threshold.get("recall", 0.0))}
    problems = []
    if flagged == 0:
        problems.append(f"the threshold flags none of the {rows:,} held-out rows")
    elif flagged == rows:
        problems.append(f"the threshold flags every one of the {rows:,} held-out rows")
    target: dict[str, float] = {}
    kind = (rule or {}).get("kind")
    if kind in ("min_precision", "min_recall"):
        what = kind.split("_", 1)[1]
        target[what] = float(rule["value"])
        if holdout[what] + 1e-9 < target[what]:
            problems.append(f"{what} on the holdout is {holdout[what]:.3f}, below the goal's {target[what]:.2f}")
        if out_of_fold is not None and not out_of_fold.get("feasible", True):
            problems.append(f"no threshold reached {what} {target[what]:.2f} even out of fold")
    if not problems and not target:
        return None
    met = not problems
    advice = ""
    if not met:
        other = "recall" if "precision" in target else "precision"
        advice = (f"the model does not separate the classes well enough to meet this target at a useful {other}; "
                  "try a longer budget, more informative columns, or a target the data can meet")
    return GoalCheck(dict(rule or {}), target, holdout, flagged, rows, met, problems, advice)

