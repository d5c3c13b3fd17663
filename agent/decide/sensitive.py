"""Which columns the fairness audit compares groups by, and which of them the goal keeps out of the model.

Candidates come from `tools.sensitive.find_sensitive` (names and values). The goal may add columns
("fair to women" adds the column holding sex, "no bias by age" the one holding age, "fair across
region" the column `region`) and may keep one out of the model ("without using sex", "do not use
race"); ``--sensitive COL`` adds a column and ``--not-sensitive COL`` removes one. Sensitive columns stay
features unless the goal or ``--drop`` says otherwise: dropping a column rarely removes its information
(others stand in for it), while keeping it lets the audit show what the model does with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.decide.goal import column_words
from agent.decide.policy import Decision

# Words a person uses for a category -> the category (tools.sensitive.CATEGORIES).
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "sex": ("women", "woman", "men", "man", "female", "females", "male", "males", "gender", "genders", "sex",
            "sexes", "girls", "boys"),
    "age": ("age", "ages", "old", "older", "elderly", "young", "younger", "youth", "seniors", "senior"),
    "race": ("race", "races", "racial", "ethnicity", "ethnic", "ethnicities", "minorities", "minority", "black",
             "white", "asian", "hispanic"),
    "religion": ("religion", "religious", "faith"),
    "marital_status": ("married", "single", "divorced", "marital", "widowed"),
    "nationality": ("nationality", "foreign", "foreigners", "immigrants", "immigrant", "citizenship", "origin"),
    "disability": ("disability", "disabled", "disabilities", "handicapped"),
}
_FAIR = re.compile(r"\b(?:fair(?:ly|ness)?|unfair(?:ly|ness)?|bias(?:ed)?|discriminat\w*|equal(?:ly)?|"
                   r"treat\w*\s+\w+\s+(?:the\s+)?same)\b\s*(?:to|for|towards?|against|across|between|by|among|"
                   r"regarding|with\s+respect\s+to|in\s+terms\s+of|of)?\s+([^;.!?]+)", re.IGNORECASE)
_WITHOUT = re.compile(r"\b(?:without\s+(?:using\s+|looking\s+at\s+)?|(?:do\s+not|don'?t|never|must\s+not|should\s+"
                      r"not|shouldn'?t)\s+(?:use|consider|look\s+at)\s+|exclud(?:e|ing)\s+|ignor(?:e|ing)\s+)"
                      r"(?:the\s+)?(?:columns?\s+)?([^;.!?]+)", re.IGNORECASE)


@dataclass
class GoalFairness:
    """What the goal says about sensitive columns: to audit (``add``) and to keep out of the model (``drop``),
    each with the phrase that said it."""

    add: dict[str, str] = field(default_factory=dict)    # column -> phrase
    drop: dict[str, str] = field(default_factory=dict)   # column -> phrase


def goal_fairness(goal: str, columns: list[str], categories: dict[str, str], target: str | None) -> GoalFairness:
    """Read the goal for the columns it wants audited or kept out.

    Args:
        goal: the goal text.
        columns: the table's columns.
        categories: candidate column -> its category (and further categories), from find_sensitive.
        target: the target column, never added or dropped.
    """
    out = GoalFairness()
    for pattern, into in ((_FAIR, out.add), (_WITHOUT, out.drop)):
        for match in pattern.finditer(goal or ""):
            for column in _named(match.group(1), columns, categories, target):
                into.setdefault(column, match.group(0).strip())
    return out


def _named(text: str, columns: list[str], categories: dict[str, str], target: str | None) -> list[str]:
    """Columns a phrase names: by the column's own words, or by words for its category."""
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    found = []
    for column in columns:
        if column == target:
            continue
        own = column_words(column)
        if own and (" ".join(own) in " ".join(re.findall(r"[a-z0-9]+", text.lower())) or column.lower() in words):
            found.append(column)
            continue
        wanted = {c for c in categories.get(column, "").split(",") if c}
        if any(words & set(CATEGORY_WORDS.get(c, ())) for c in wanted):
            found.append(column)
    return found


def choose_sensitive(candidates: list[dict], goal: GoalFairness, *, added: list[str], removed: list[str],
                     columns: list[str]) -> Decision:
    """The decision of which columns the fairness audit compares groups by (a dict column -> category).

    Args:
        candidates: `SensitiveCandidate.to_dict()` of each column found by name or values.
        goal: what the goal said (`goal_fairness`).
        added: ``--sensitive`` columns; removed: ``--not-sensitive`` columns (both checked to exist).
        columns: the table's columns.
    """
    chosen: dict[str, str] = {}
    evidence: dict[str, str] = {}
    actor = "rules"
    for c in candidates:
        if c["column"] in removed:
            continue
        chosen[c["column"]] = c["category"]
        evidence[c["column"]] = c["evidence"] + (f" ({c['caveat']})" if c.get("caveat") else "")
    for column, phrase in goal.add.items():
        if column in removed:
            continue
        if column not in chosen:
            chosen[column] = "named in the goal"
        evidence[column] = f"the goal says '{phrase}'" + (f"; {evidence[column]}" if column in evidence else "")
        actor = "user"
    for column in added:
        if column not in chosen:
            chosen[column] = "named with --sensitive"
            evidence[column] = "you named it with --sensitive"
        actor = "user"
    if removed:
        actor = "user"
    chosen = {c: chosen[c] for c in columns if c in chosen}
    if chosen:
        listed = ", ".join(f"'{c}' ({k})" for c, k in chosen.items())
        reason = (f"the model's results are compared across the groups of {listed} on the holdout; they stay "
                  "features unless the goal or --drop says otherwise, since dropping a column seldom removes what "
                  "other columns reveal of it, while keeping it lets the audit show what the model does")
    else:
        reason = ("no column looks like it describes people's sex, age, race, religion, marital status, nationality "
                  "or disability, so no fairness audit; name one with --sensitive COL if the data has one")
    alternatives = [{"choice": "no audit", "why_not": "a model about people can treat groups very differently "
                     "while scoring well overall"}] if chosen else \
        [{"choice": "audit a column", "why_not": "none was found or named"}]
    if removed:
        alternatives.append({"choice": f"audit {', '.join(removed)}", "why_not": "you said --not-sensitive"})
    return Decision("sensitive_columns", chosen, reason, {"found": evidence, "removed": list(removed)}, alternatives,
                    actor=actor)
