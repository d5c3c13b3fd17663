"""Reading a plain-language goal without a model: the target it names, the metric its words imply, and
the time it allows. Pure functions of text (and column names), each returning its evidence, so the rule
policy can log why it decided what it did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

STOPWORDS = frozenset("""
a an the to of for in on at by with from and or but is are was were be been being will would should could
can do does did who whom which what whether when where why how that this these those it its their our my
your we i you they he she them us me predict predicting prediction predictions forecast forecasting model
modelling modeling estimate estimating classify classification regression guess tell find out want need
please using use based than more less most least matters matter important worse better false alarm alarms
minutes minute seconds second hours hour mins min secs sec within under about into each every per if not
missing miss good bad high low very much many data dataset csv column columns value values number
""".split())

CONVENTIONAL_TARGETS = ("target", "label", "class", "y", "outcome", "response")
MISS_WORDS = r"(miss(ing|es|ed)?|false negatives?|overlook\w*|fail(ing|s)? to (catch|find|flag|spot))"
ALARM_WORDS = r"(false (alarm|positive)s?|wrongly (flag|accus)\w*|crying wolf|false accusations?)"


@dataclass(frozen=True)
class TargetMatch:
    column: str
    score: float
    why: str


@dataclass(frozen=True)
class MetricIntent:
    """What the goal's words say about how to score the model."""

    metric: str
    threshold_rule: dict | None
    phrase: str
    why: str
    alternatives: list[dict] = field(default_factory=list)


def stem(word: str) -> str:
    """A crude stem good enough to match goal words to column names (survived ~ survivor ~ survival)."""
    word = re.sub(r"[^a-z0-9]", "", word.lower())
    for suffix in ("ations", "ation", "ings", "ing", "ors", "ers", "ed", "es", "or", "er", "al", "s", "e", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def column_words(name: str) -> list[str]:
    """Words of a column name: split on separators and camelCase."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


_USE = re.compile(r"\b(?:only\s+use|use\s+only|use|using|based\s+on|from)\s+(?:only\s+)?(?:the\s+)?"
                  r"(?:columns?\s+|features?\s+)?([^;.!?]+)", re.IGNORECASE)


_NEGATED = re.compile(r"\b(?:without|not|don'?t|never|no)\s*$", re.IGNORECASE)


@dataclass
class GoalColumns:
    """The columns a goal says to use, the phrase that said it, and the items of it that are no column."""

    columns: list[str]
    phrase: str
    unknown: list[str]


def goal_columns(goal: str, columns: list[str], target: str | None = None) -> GoalColumns | None:
    """The columns a goal says to use ("use age, sex and fare", "based on income only"), in the table's
    spelling; None when the goal names none. A phrase counts when every item is a column ("use the best
    model" and "with high recall" name none), or when most are and the rest are reported as ``unknown``."""
    by_name = {c.lower(): c for c in columns if c != target}
    for match in _USE.finditer(goal):
        if _NEGATED.search(goal[:match.start()]):
            continue  # "without using sex", "do not use race": a column kept out, not the columns to use
        phrase = re.sub(r"\s+only$", "", match.group(1).strip(), flags=re.IGNORECASE)
        items = [i.strip().strip("'\"`") for i in re.split(r",|\band\b|&|/", phrase) if i.strip()]
        items = [re.sub(r"^(?:the|columns?)\s+", "", i, flags=re.IGNORECASE) for i in items]
        known = [by_name[i.lower()] for i in items if i.lower() in by_name]
        unknown = [i for i in items if i.lower() not in by_name]
        if known and len(known) >= len(unknown) and len(items) >= (1 if not unknown else 2):
            return GoalColumns(known, match.group(0).strip(), unknown)
    return None


_HARD = re.compile(r"\b(hard|difficult|noisy|challenging|tricky|subtle|barely predictable|close to random)\b",
                   re.IGNORECASE)


def says_hard(goal: str) -> str | None:
    """The words in which a goal calls the problem hard ("a hard problem", "noisy data"), or None."""
    match = _HARD.search(goal or "")
    return match.group(0) if match else None


def goal_words(goal: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9_]+", goal.lower())]


def match_target(goal: str, columns: list[str]) -> list[TargetMatch]:
    """Columns the goal seems to name as the thing to predict, best first.

    A column scores when its whole name appears in the goal (1.0), when all its words do (0.9), or when
    some of its words share a stem with a goal word (0.7 x share matched). A column whose words follow
    "predict", "forecast" or "estimate" gains up to double; one named after "from", "using" or "given"
    (an input) loses up to half.
    """
    text = goal.lower()
    words = goal_words(goal)
    if not words:
        return []
    focus = _focus_words(text)
    inputs = _input_words(text)
    stems = {stem(w) for w in words if w not in STOPWORDS}
    matches: list[TargetMatch] = []
    for col in columns:
        cw = column_words(col)
        if not cw:
            continue
        phrase = " ".join(cw)
        meaningful = [w for w in cw if w not in STOPWORDS] or cw
        if re.search(rf"(?<![a-z0-9]){re.escape(col.lower())}(?![a-z0-9])", text) or \
                (len(cw) > 1 and phrase in re.sub(r"[^a-z0-9]+", " ", text)):
            score, why = 1.0, f"the goal names the column '{col}'"
        else:
            hits = [w for w in meaningful if stem(w) in stems and len(stem(w)) >= 3]
            if not hits:
                continue
            if len(hits) == len(meaningful):
                score, why = 0.9, f"the goal uses the word(s) {', '.join(repr(h) for h in hits)} of '{col}'"
            else:
                score = 0.7 * len(hits) / len(meaningful)
                why = f"the goal shares {', '.join(repr(h) for h in hits)} with '{col}'"
        col_stems = {stem(w) for w in meaningful}
        focus_share = len(col_stems & focus) / len(col_stems)
        input_share = len(col_stems & inputs) / len(col_stems)
        score *= 1.0 + focus_share - 0.5 * input_share
        if focus_share > input_share:
            why += " right after the verb"
        elif input_share > 0:
            why += " (named as an input)"
        matches.append(TargetMatch(col, round(score, 3), why))
    return sorted(matches, key=lambda m: (-m.score, columns.index(m.column)))


def _focus_words(text: str) -> set[str]:
    found = re.findall(r"(?:predict|forecast|estimate|classify|model|guess)\s+(?:the\s+|whether\s+|who\s+|which\s+|if\s+|how\s+many\s+|how\s+much\s+)?([a-z0-9_ ]{1,40})", text)
    out: set[str] = set()
    for chunk in found:
        for w in chunk.split()[:3]:
            if w in ("from", "using", "given", "based", "with"):
                break
            if w not in STOPWORDS:
                out.add(stem(w))
    return out


def _input_words(text: str) -> set[str]:
    found = re.findall(r"(?:from|using|given|based on|with)\s+([a-z0-9_ ,]{1,60})", text)
    return {stem(w) for chunk in found for w in re.split(r"[ ,]+", chunk) if w and w not in STOPWORDS}


def conventional_targets(columns: list[str]) -> list[str]:
    """Columns named like a target by convention (class, label, target, y, ...)."""
    return [c for c in columns if c.strip().lower() in CONVENTIONAL_TARGETS]


_UNITS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60,
          "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600}
_WORD_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "ten": 10,
                 "fifteen": 15, "twenty": 20, "thirty": 30, "half an": 0.5, "half a": 0.5}


def parse_budget(goal: str) -> tuple[float | None, str]:
    """Seconds allowed by phrases like "in 5 minutes", "90s", "within half an hour"; (None, "") if none."""
    text = goal.lower()
    number = r"(\d+(?:\.\d+)?|half an|half a|an|a|one|two|three|four|five|ten|fifteen|twenty|thirty)"
    pattern = rf"(?<![a-z0-9.]){number}\s*-?\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)(?![a-z])"
    for match in re.finditer(pattern, text):
        raw, unit = match.group(1), match.group(2)
        if unit in ("s", "m", "h") and not raw[0].isdigit():
            continue
        value = float(raw) if raw[0].isdigit() else _WORD_NUMBERS[raw]
        # "a model" must not read as a time: a word number needs a time unit written out.
        return value * _UNITS[unit], match.group(0).strip()
    return None, ""


def metric_intent(goal: str, task: str) -> MetricIntent | None:
    """The metric (and threshold rule, for classification) that the goal's words ask for, if any."""
    text = " ".join(goal.lower().split())
    explicit = _explicit_metric(text, task)
    if explicit:
        return explicit
    if task == "regression":
        return _regression_intent(text)
    return _classification_intent(text, task)


@lru_cache(maxsize=64)
def read_goal(goal: str, columns: tuple[str, ...]) -> tuple[TargetMatch | None, MetricIntent | None]:
    """The target and metric a goal points at before the task is known (the chat reads a goal before
    planning): the best-matching column, and the metric for a classification or else a regression goal.
    Cached, because the chat's status line asks on every redraw."""
    matches = match_target(goal, list(columns))
    intent = metric_intent(goal, "binary") or metric_intent(goal, "regression")
    return (matches[0] if matches else None), intent


def _explicit_metric(text: str, task: str) -> MetricIntent | None:
    names = {"roc auc": "roc_auc", "roc_auc": "roc_auc", "auc": "roc_auc", "pr auc": "pr_auc",
             "average precision": "pr_auc", "log loss": "log_loss", "logloss": "log_loss",
             "log_loss": "log_loss", "brier": "brier", "balanced accuracy": "balanced_accuracy",
             "f1": "f1", "rmse": "rmse", "root mean squared error": "rmse", "mae": "mae",
             "mean absolute error": "mae", "r2": "r2", "r squared": "r2", "r-squared": "r2", "mape": "mape"}
    for phrase, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"(?<![a-z0-9_]){re.escape(phrase)}(?![a-z0-9_])", text):
            regression = name in ("rmse", "mae", "r2", "mape")
            if regression != (task == "regression"):
                continue
            rule = {"kind": "max_f1"} if name == "f1" else None
            return MetricIntent(name, rule, phrase, f"the goal names the metric ({phrase})")
    return None


def _threshold_value(text: str, what: str, default: float = 0.8) -> float:
    # The level sits in the same clause, and a number with a time unit is the budget ("precision matters;
    # 15 seconds" asks for no precision of 0.15).
    unit = r"(?!\d|\.\d|\s*(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b)"
    for pattern in (rf"{what}[^\d;]{{0,25}}?(\d+(?:\.\d+)?)\s*(%|percent)?{unit}",
                    rf"(\d+(?:\.\d+)?)\s*(%|percent)\s*{what}"):
        match = re.search(pattern, text)
        if match:
            value = float(match.group(1))
            value = value / 100 if value > 1 else value
            if 0 < value < 1:
                return value
    return default


def _classification_intent(text: str, task: str) -> MetricIntent | None:
    comparison = re.search(r"(.*?)\b(?:is|are|would be|costs?)?\s*(?:much\s+|far\s+)?"
                           r"(worse|more costly|more expensive|costlier|more harmful|more dangerous)\s+than\s+(.*)", text)
    recall_side = precision_side = False
    phrase = ""
    if comparison:
        left, right = comparison.group(1), comparison.group(3)
        phrase = comparison.group(0).strip()
        if re.search(MISS_WORDS, left) or re.search(ALARM_WORDS, right):
            recall_side = True
        elif re.search(ALARM_WORDS, left) or re.search(MISS_WORDS, right):
            precision_side = True
    if not (recall_side or precision_side):
        m = re.search(r"recall|sensitivity|catch (as many|all|every|most)|don'?t miss|never miss|find (all|every|as many)"
                      r"|miss(ing)? as few|few(er)? missed", text)
        if m:
            recall_side, phrase = True, m.group(0)
    if not (recall_side or precision_side):
        m = re.search(r"precision|avoid(ing)? false (alarm|positive)s?|avoid false|few(er)? false (alarm|positive)s?|no false (alarm|positive)s?"
                      r"|only (flag|alert) when (sure|certain|confident)|false (alarm|positive)s? (are|is) (costly|expensive|bad)", text)
        if m:
            precision_side, phrase = True, m.group(0)
    if recall_side:
        if task == "multiclass":
            return MetricIntent("balanced_accuracy", None, phrase,
                                "the goal puts finding every case first; balanced accuracy is the mean recall over classes")
        value = _threshold_value(text, "recall")
        return MetricIntent("pr_auc", {"kind": "min_recall", "value": value}, phrase,
                            "the goal says missing a positive is the costly error: models are compared by PR AUC "
                            f"(how well they rank positives first at every threshold) and the threshold is then set "
                            f"for recall >= {value:.2f} with the best precision",
                            [{"choice": "recall", "why_not": "recall at a fixed threshold rewards flagging everything"},
                             {"choice": "roc_auc", "why_not": "ROC AUC weighs the negatives as much as the positives"}])
    if precision_side:
        if task == "multiclass":
            return MetricIntent("f1", None, phrase, "the goal puts avoiding wrong alarms first; macro F1 balances it "
                                "with recall over classes")
        value = _threshold_value(text, "precision")
        return MetricIntent("pr_auc", {"kind": "min_precision", "value": value}, phrase,
                            "the goal says false alarms are the costly error: models are compared by PR AUC and the "
                            f"threshold is then set for precision >= {value:.2f} with the best recall",
                            [{"choice": "precision", "why_not": "precision at a fixed threshold rewards flagging almost nothing"}])
    rules: list[tuple[str, str, dict | None, str]] = [
        (r"good probabilit|calibrat|reliable probabilit|accurate probabilit|probabilities? (that|which) (are|can be) trusted|risk scores?",
         "log_loss", {"kind": "fixed", "value": 0.5}, "the goal asks for trustworthy probabilities; log loss scores them directly"),
        (r"\brank|\branking|prioriti[sz]|order (the|by)|top \d+|sort (the|by)",
         "roc_auc", {"kind": "max_f1"}, "the goal is about ordering cases; ROC AUC measures ranking quality"),
        (r"balance (between )?precision and recall|f-?score|f-?measure",
         "f1", {"kind": "max_f1"}, "the goal balances precision and recall; F1 is their harmonic mean"),
        (r"every class (matters|counts)|all classes (matter|equally)|rare classes|balanced",
         "balanced_accuracy", {"kind": "max_balanced_accuracy"}, "the goal weighs every class equally"),
        (r"accura|most (predictions|answers|of them) right|as often as possible|correct",
         "accuracy", {"kind": "max_accuracy"}, "the goal asks to be right as often as possible: accuracy"),
    ]
    for pattern, metric, rule, why in rules:
        m = re.search(pattern, text)
        if m:
            return MetricIntent(metric, rule if task == "binary" else None, m.group(0), why)
    return None


def _regression_intent(text: str) -> MetricIntent | None:
    rules = [
        (r"percent(age)? error|relative error|% error|in percent|error in %|percentage",
         "mape", "the goal measures error relative to the true value: mean absolute percentage error"),
        (r"(error|off) (in|by) (dollars|euros|pounds|units|\$|€|£)|average (absolute )?error|typical error|"
         r"absolute error|how far off|off by",
         "mae", "the goal measures error in the target's own units: mean absolute error"),
        (r"large errors|big (mistakes|errors|misses)|penali[sz]e (large|big)|squared|outliers? matter",
         "rmse", "the goal weighs large errors more: root mean squared error"),
        (r"variance explained|explain(s|ed)? (the )?variance|goodness of fit",
         "r2", "the goal asks how much variance is explained: R2"),
    ]
    for pattern, metric, why in rules:
        m = re.search(pattern, text)
        if m:
            return MetricIntent(metric, None, m.group(0), why)
    return None
