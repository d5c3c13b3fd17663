"""Answers to "is the model fair to women?" from the run's fairness audit, citing its events.

The question's words pick the columns ("women" -> the column holding sex, "older people" -> age, a
column's own name -> that column); with none recognised, every audited column is summarised. The answer
gives each group's rate with its size, the gaps with their intervals, and says plainly which gaps are
flagged, and that "fair" here means these measures on the holdout, nothing more.
"""

from __future__ import annotations

import re

from agent.chat.explain import Answer, _cite, _Notes
from agent.decide.goal import column_words
from agent.decide.sensitive import CATEGORY_WORDS
from agent.record.reader import RunRecord
from tools.fmt import number

_RATE = {"binary": ("selection_rate", "predicted '{positive}'"), "multiclass": ("accuracy", "accuracy"),
         "regression": ("mae", "mean absolute error")}
_GAP_NAMES = {"demographic_parity_difference": "selection-rate gap (demographic parity difference)",
              "demographic_parity_ratio": "selection-rate ratio", "equalized_odds_difference":
              "equalized odds difference", "accuracy_difference": "accuracy gap", "mae_difference": "MAE gap",
              "mean_error_difference": "mean error gap"}


def answer_fairness(run: RunRecord, subject: str | None) -> Answer:
    """How the run's model fares across groups of people, for the groups ``subject`` names (or all)."""
    decision = run.decision("sensitive_columns")
    audit = run.last("fairness_audit")
    if decision is None and audit is None:
        return Answer("This run has no fairness audit in its log (it ended before planning, or an older mlpilot "
                      "made it).", (), False)
    notes = _Notes()
    if audit is None:
        if decision and decision.get("choice"):
            notes.add(f"The plan chose {', '.join(decision['choice'])} to compare groups by {_cite(decision)}, but "
                      "the run ended before a model was scored on the holdout, so there is no audit.", decision)
        else:
            notes.add(f"No column describing people was found or named {_cite(decision)}, so there is no audit: "
                      "run again with --sensitive COLUMN to compare groups by a column.", decision)
        return notes.answer()
    columns = _asked(audit, subject)
    if decision is not None:
        notes.add(f"The plan compares the groups of {', '.join(decision.get('choice') or {}) or 'no column'} "
                  f"{_cite(decision)}; the audit below is of the published model ({audit.get('model')}).", decision)
    for column in columns:
        _describe(notes, audit, column)
    notes.add("'Fair' here means these measures on the held-out rows: similar selection rates and similar error "
              "rates across groups. They can disagree, and small groups make wide intervals.")
    return notes.answer()


def _asked(audit: dict, subject: str | None) -> list[dict]:
    """The audited columns the question is about (all of them when it names none)."""
    words = set(re.findall(r"[a-z0-9]+", (subject or "").lower()))
    if not words:
        return audit["columns"]
    chosen = []
    for column in audit["columns"]:
        own = set(column_words(column["column"]))
        categories = set(str(column.get("category", "")).split(","))
        if own & words or any(words & set(CATEGORY_WORDS.get(c, ())) for c in categories):
            chosen.append(column)
    return chosen or audit["columns"]


def _describe(notes: _Notes, audit: dict, column: dict) -> None:
    task = audit["task"]
    key, what = _RATE[task]
    what = what.format(positive=audit.get("positive_class"))
    rates = "; ".join(f"{g['group']} {_rate(g.get(key), task)} (n={g['n']:,})" for g in column["groups"])
    notes.add(f"{column['column']} ({column.get('category')}), {what} per group on the holdout: {rates} "
              f"{_cite(audit)}.", audit)
    if not column["disparities"]:
        notes.add(f"Too few rows to compare its groups: {column['note']}.")
        return
    flagged = [d for d in column["disparities"] if d["flagged"]]
    for d in column["disparities"]:
        interval = "" if d.get("low") is None else \
            f", 90% interval {number(d['low'], digits=3)} to {number(d['high'], digits=3)}"
        verdict = "flagged: large, and the interval rules out no gap" if d["flagged"] else \
            "large, but the interval does not rule out no gap" if d["large"] else "small"
        notes.add(f"- {_GAP_NAMES.get(d['name'], d['name'])} {number(d['value'], digits=3)} between "
                  f"{d['between'][0]} and {d['between'][1]}{interval}: {verdict}.")
    if flagged:
        notes.add(f"So on {column['column']}, no: the model treats these groups measurably differently.")
    else:
        notes.add(f"So on {column['column']}, no gap is flagged: within what {audit['n_rows']:,} held-out rows can "
                  "tell, the groups are treated alike on these measures.")


def _rate(value: float | None, task: str) -> str:
    if value is None:
        return "-"
    return number(value, digits=4, significant=True) if task == "regression" else f"{value:.0%}"
