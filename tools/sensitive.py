"""Which columns may describe protected attributes of people, and how to group their rows for an audit.

``find_sensitive`` looks at each column's NAME and, for text columns, its VALUES:

- name: the name is split into lower-case words (``MaritalStatus``, ``marital status`` and
  ``marital_status`` are all ``marital status``). It matches when it holds one of ``NAME_PATTERNS`` and
  every other word is a harmless qualifier (``QUALIFIERS``: whose attribute it is, its unit, its form),
  so ``age_years``, ``applicant_age`` and ``AgeGroup`` match while ``page``, ``usage``, ``average``,
  ``housing_median_age`` (the houses' age) and ``vehicle_age`` do not.
- values: a text column with at most ``MAX_VALUE_LEVELS`` distinct values matches a category when at least
  ``VALUE_SHARE`` of its rows (leaving out non-answers such as "unknown" or "other") hold one of that
  category's words, with the spread a real attribute shows: both sexes; two or more marital states,
  races or religions; for races at least one word that is no colour, so a car colour column of white and
  black is not a race.
- numbers are never judged by their values alone (a 0/1 column is anything); a numeric column needs its
  name, and then a plausible form: ``age`` any numbers, other categories at most ``MAX_CODES`` codes.

A column may hit several categories (credit_g's ``personal_status``, "male single", "female div/dep/mar",
holds sex and marital status). It gets one: the first of ``CATEGORIES`` found, the rest in ``also``, all
named in the evidence. A column named for sex whose values include a code no person has (abalone's "I"
for infant) stays a candidate, with a ``caveat`` saying the rows may not be people; the caller decides.
Nationality and disability are found by name only. The target is never a candidate.

``group_labels`` turns one such column into group labels for ``tools.fairness.audit_fairness``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from tools.reference import number_label

CATEGORIES = ("sex", "age", "race", "religion", "marital_status", "nationality", "disability")
READABLE = {"marital_status": "marital status"}

NAME_PATTERNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "sex": (("sex",), ("gender",)),
    "age": (("age",),),
    "race": (("race",), ("ethnicity",), ("ethnic",), ("racial",)),
    "religion": (("religion",), ("religious",), ("faith",)),
    "marital_status": (("marital",), ("personal", "status"), ("civil", "status"), ("marriage", "status"),
                       ("married",)),
    "nationality": (("nationality",), ("citizenship",), ("native", "country"), ("country", "of", "birth"),
                    ("birth", "country"), ("foreign", "worker"), ("immigrant",), ("immigration", "status"),
                    ("national", "origin")),
    "disability": (("disability",), ("disabled",), ("handicap",), ("handicapped",), ("disabilities",)),
}
# Words that may sit beside a pattern without changing what the column is: whose attribute it is, its
# unit, its form or when it was taken. Anything else ('housing', 'median', 'vehicle', 'ratio') means the
# column is about something else.
QUALIFIERS = frozenset("""
    of in at the a is
    years year yrs yr
    customer client applicant patient person user member employee respondent borrower driver passenger
    student owner holder subject participant insured policyholder individual mother father spouse
    partner child parent guardian head
    self reported declared main primary current
    admission diagnosis entry enrollment enrolment application baseline interview survey
    group grp band bucket bin cat category class range code cd status type flag indicator ind value
    label desc description name identity background origin affiliation denomination
""".split())
# One-word forms such as 'agegroup' or 'sexcode'.
COMPOUND_SUFFIXES = ("group", "grp", "band", "bucket", "bin", "cat", "range", "years", "yrs", "code", "cd")

MALE = frozenset({"male", "males", "m", "man", "men", "boy", "boys", "masculine"})
FEMALE = frozenset({"female", "females", "f", "woman", "women", "girl", "girls", "feminine", "fem"})
SEX_OTHER = frozenset({"nonbinary", "intersex", "diverse", "genderqueer", "transgender", "trans", "x"})
MARITAL = frozenset({"married", "marr", "mar", "single", "divorced", "div", "widowed", "widow", "widower", "wid",
                     "separated", "sep", "unmarried", "spouse", "cohabiting", "cohabitant", "partnered"})
RACE_COLOURS = frozenset({"white", "black", "brown"})
RACE_MARKERS = frozenset({"asian", "hispanic", "latino", "latina", "latinx", "caucasian", "african", "islander",
                          "hawaiian", "eskimo", "aleut", "multiracial", "biracial", "arab", "aboriginal",
                          "indigenous", "mestizo"})
RACE_SUPPORT = frozenset({"american", "amer", "indian", "native", "pacific", "pac", "alaska", "alaskan",
                          "mixed", "middle", "eastern"})
RELIGIONS = frozenset({"christian", "catholic", "protestant", "muslim", "islam", "islamic", "jewish", "judaism",
                       "hindu", "hinduism", "buddhist", "buddhism", "sikh", "atheist", "agnostic", "orthodox",
                       "mormon", "lutheran", "baptist", "methodist", "evangelical", "jain", "shinto", "taoist"})
# Values that are no answer: left out of the share a category's words must reach.
NEUTRAL = frozenset({"other", "others", "unknown", "unk", "na", "n", "a", "none", "missing", "not", "stated",
                     "prefer", "to", "say", "declined", "refused", "unspecified", "specified", "nan", "null",
                     "no", "answer", "blank"})

VALUE_SHARE = 0.9
MAX_VALUE_LEVELS = 30
MAX_NAMED_LEVELS = 60          # a text column named 'race' with thousands of values is free text, not a group
MAX_NATIONALITY_LEVELS = 250
MAX_CODES = 20                 # a numeric 'sex' or 'race' column holds a few codes, not measurements
SHOWN_VALUES = 5
SHOWN_CHARS = 30
AGE_BANDS: tuple[tuple[float | None, float | None], ...] = ((None, 25), (25, 40), (40, 60), (60, None))
MISSING = "(missing)"
OTHER = "other"


@dataclass
class SensitiveCandidate:
    """A column that may describe a protected attribute of people.

    ``category`` is one of ``CATEGORIES``; ``also`` holds further categories its values show (credit_g's
    ``personal_status``: sex, also marital_status); ``evidence`` says in plain words why, with at most a
    few values, for a decision log; ``caveat`` says why it may not be about people at all (empty if none).
    """

    column: str
    category: str
    evidence: str
    also: list[str] = field(default_factory=list)
    caveat: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def find_sensitive(frame: pd.DataFrame, *, target: str | None = None) -> list[SensitiveCandidate]:
    """Columns of ``frame`` that may describe a protected attribute of people (sex, age, race, religion,
    marital status, nationality, disability), found by name and by values, in the frame's column order.

    Args:
        frame: the table, as read.
        target: the target column, never a candidate.
    """
    found = []
    for column in frame.columns:
        if target is not None and str(column) == str(target):
            continue
        candidate = _judge(str(column), frame[column])
        if candidate is not None:
            found.append(candidate)
    return found


def _judge(name: str, values: pd.Series) -> SensitiveCandidate | None:
    by_name = name_category(name)
    nonnull = values.dropna()
    if _is_text(values):
        if by_name == "age" and len(nonnull):
            # Ages stored as text ("34") are still numbers.
            as_number = pd.to_numeric(nonnull, errors="coerce")
            if as_number.notna().mean() >= VALUE_SHARE:
                return _numeric(name, by_name, as_number.dropna())
        return _text(name, by_name, nonnull.astype(str).str.strip().value_counts())
    if by_name is None:
        return None
    if pd.api.types.is_bool_dtype(values):
        counts = nonnull.astype(str).value_counts()
        return SensitiveCandidate(name, by_name, f"named '{name}'; values {_show(counts.index)}")
    if pd.api.types.is_numeric_dtype(values):
        return _numeric(name, by_name, pd.to_numeric(nonnull, errors="coerce").dropna())
    return None


def _numeric(name: str, category: str, numbers: pd.Series) -> SensitiveCandidate | None:
    distinct = np.unique(numbers.to_numpy(dtype=float))
    shown = _show([number_label(v) for v in distinct])
    if category != "age":
        if len(distinct) > MAX_CODES:
            return None
        return SensitiveCandidate(name, category, f"named '{name}'; {len(distinct)} coded values {shown}")
    if len(distinct) == 0:
        return SensitiveCandidate(name, category, f"named '{name}'; no values")
    if len(distinct) <= 10:
        return SensitiveCandidate(name, category, f"named '{name}'; {len(distinct)} coded values {shown}",
                                  caveat="a few codes, not ages in years: their meaning is not known")
    low, high = float(distinct[0]), float(distinct[-1])
    evidence = f"named '{name}'; numbers {low:g} to {high:g} ({len(distinct)} distinct)"
    caveat = ""
    if not _years_like(numbers):
        caveat = "values are not ages in years (outside 0 to 120): perhaps days or months, or not a person's age"
    return SensitiveCandidate(name, category, evidence, caveat=caveat)


def _text(name: str, by_name: str | None, counts: pd.Series) -> SensitiveCandidate | None:
    limit = MAX_NATIONALITY_LEVELS if by_name == "nationality" else MAX_NAMED_LEVELS
    if by_name is not None and len(counts) > limit:
        return None
    by_values = _value_categories(counts) if len(counts) <= MAX_VALUE_LEVELS else []
    if by_name is None and not by_values:
        return None
    categories = [c for c in CATEGORIES if c == by_name or c in by_values]
    category, also = categories[0], categories[1:]
    shown = _show(counts.index)
    if by_name is None:
        evidence = f"values {shown} read as {_readable(categories)}; the name '{name}' says nothing"
    elif by_values and categories != [by_name]:
        evidence = f"named '{name}' ({_readable([by_name])}); values {shown} read as {_readable(by_values)}"
    else:
        evidence = f"named '{name}'; values {shown}"
    caveat = ""
    if by_name == "sex" and "sex" not in by_values and len(counts):
        known = MALE | FEMALE | SEX_OTHER | NEUTRAL
        strange = [str(v) for v in counts.index if _tokens(str(v)) and not _tokens(str(v)) <= known]
        if strange:
            share = counts[strange].sum() / counts.sum()
            caveat = (f"values also include {_show(strange)} ({share:.0%} of rows), no usual code of a person's "
                      "sex: the rows may not be people")
    return SensitiveCandidate(name, category, evidence, also=also, caveat=caveat)


def name_category(name: str) -> str | None:
    """The category a column's name says it holds, or None ('marital_status' -> "marital_status",
    'housing_median_age' -> None)."""
    words = _name_words(name)
    for category in CATEGORIES:
        for pattern in NAME_PATTERNS[category]:
            if _matches(words, pattern):
                return category
    return None


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return re.findall(r"[a-z]+|\d+", spaced.lower())


def _matches(words: list[str], pattern: tuple[str, ...]) -> bool:
    k = len(pattern)
    for i in range(len(words) - k + 1):
        if tuple(words[i:i + k]) == pattern and _harmless(words[:i] + words[i + k:]):
            return True
    joined = "".join(pattern)
    for i, word in enumerate(words):
        rest = words[:i] + words[i + 1:]
        if not _harmless(rest):
            continue
        if word == joined and k > 1:
            return True
        if k == 1 and any(word == joined + suffix for suffix in COMPOUND_SUFFIXES):
            return True
    return False


def _harmless(words: list[str]) -> bool:
    return all(w in QUALIFIERS or w.isdigit() for w in words)


def _value_categories(counts: pd.Series) -> list[str]:
    """Categories the distinct values of a text column (value -> row count) show, in ``CATEGORIES`` order."""
    tokens = {value: _tokens(str(value)) for value in counts.index}
    answered = {v: t for v, t in tokens.items() if t and not t <= NEUTRAL}
    total = sum(int(counts[v]) for v in answered)
    if total == 0:
        return []

    def share(vocabulary: frozenset[str]) -> float:
        return sum(int(counts[v]) for v, t in answered.items() if t & vocabulary) / total

    def values_with(vocabulary: frozenset[str]) -> list[str]:
        return [v for v, t in answered.items() if t & vocabulary]

    found = []
    words = set().union(*answered.values())
    if share(MALE | FEMALE | SEX_OTHER) >= VALUE_SHARE and words & MALE and words & FEMALE:
        found.append("sex")
    race_words = RACE_COLOURS | RACE_MARKERS | RACE_SUPPORT
    if share(race_words) >= VALUE_SHARE and len(values_with(race_words)) >= 2 and words & RACE_MARKERS:
        found.append("race")
    if share(RELIGIONS) >= VALUE_SHARE and len(words & RELIGIONS) >= 2:
        found.append("religion")
    if share(MARITAL) >= VALUE_SHARE and len(words & MARITAL) >= 2:
        found.append("marital_status")
    return found


def _tokens(value: str) -> frozenset[str]:
    # 'non-binary' and 'nonbinary' are one word for the vocabulary.
    text = value.lower().replace("non-binary", "nonbinary").replace("non binary", "nonbinary")
    return frozenset(re.findall(r"[a-z]+", text))


def _is_text(values: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
                or pd.api.types.is_datetime64_any_dtype(values) or isinstance(values.dtype, pd.PeriodDtype))


def _years_like(numbers: pd.Series) -> bool:
    values = numbers.to_numpy(dtype=float)
    return bool(len(values)) and float(np.mean((values >= 0) & (values <= 120))) >= 0.95


def _readable(categories: list[str]) -> str:
    names = [READABLE.get(c, c) for c in categories]
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]


def _show(values: object) -> str:
    """At most ``SHOWN_VALUES`` values, each cut to ``SHOWN_CHARS`` characters: they go into a log."""
    # Values with spaces or commas are quoted, so the list reads unambiguously.
    items = [f"'{v}'" if re.search(r"[\s,;]", str(v)) else str(v) for v in values]
    shown = [v if len(v) <= SHOWN_CHARS else v[:SHOWN_CHARS - 3] + "..." for v in items[:SHOWN_VALUES]]
    more = f" (+{len(items) - SHOWN_VALUES} more)" if len(items) > SHOWN_VALUES else ""
    return ", ".join(shown) + more


def group_labels(values: pd.Series, category: str, *, min_size: int = 30) -> tuple[pd.Series, str]:
    """Group labels (text) for the rows of a sensitive column, and a one-line note on how they were made.

    - age in years -> bands "<25", "25-39", "40-59", "60+"; a band with fewer than ``min_size`` rows is
      merged into its smaller neighbour (the label then spans both, e.g. "40+");
    - other numbers with more than 10 distinct values (also ages not in years) -> up to four quantile bands
      labelled by their ranges ("19 to 27"), fewer when there are too few rows for four of ``min_size``;
    - text, booleans and numbers with at most 10 distinct values -> the value as text; values with fewer
      than ``min_size`` rows are pooled as "other" (unless that would only rename one value, or pool all);
    - missing -> "(missing)", never pooled.

    The result is a categorical Series of strings with the input's index; its categories are in a
    meaningful order (bands ascending; values by size, "other" and "(missing)" last), which the audit keeps.

    Args:
        values: the column.
        category: its category from ``find_sensitive`` (decides whether numbers are ages).
        min_size: the fewest rows a group may have before it is merged.
    """
    original = values
    values = values.reset_index(drop=True)      # positions, so a duplicated index cannot misplace labels
    missing = values.isna()
    nonnull = values[~missing]
    numbers = None
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = nonnull.astype(float)
    elif category == "age" and _is_text(values) and len(nonnull):
        parsed = pd.to_numeric(nonnull, errors="coerce")
        if parsed.notna().mean() >= VALUE_SHARE:
            numbers = parsed
            missing = missing | pd.to_numeric(values, errors="coerce").isna()
    many = numbers is not None and numbers.dropna().nunique() > 10
    if many and category == "age" and _years_like(numbers.dropna()):
        labels, order, note = _age_bands(numbers.dropna(), min_size)
    elif many:
        labels, order, note = _quantile_bands(numbers.dropna(), min_size)
    else:
        text = nonnull.map(number_label) if numbers is not None else nonnull.astype(str).str.strip()
        labels, order, note = _pooled(text, min_size)
    out = np.full(len(values), MISSING, dtype=object)
    out[labels.index.to_numpy(dtype=np.int64)] = labels.to_numpy(dtype=object)
    n_missing = int(np.sum(out == MISSING))
    if n_missing:
        order = order + [MISSING]
        note += f"; {n_missing} missing as '{MISSING}'"
    return pd.Series(pd.Categorical(out, categories=order), index=original.index, name=original.name), note


def _age_bands(ages: pd.Series, min_size: int) -> tuple[pd.Series, list[str], str]:
    bands = [list(b) for b in AGE_BANDS]
    data = ages.to_numpy(dtype=float)

    def count(band: list) -> int:
        lo, hi = band
        return int(np.sum((data >= (lo if lo is not None else -np.inf)) & (data < (hi if hi is not None else np.inf))))

    merged = []
    while len(bands) > 1:
        sizes = [count(b) for b in bands]
        i = int(np.argmin(sizes))
        if sizes[i] >= min_size:
            break
        if i == 0:
            j = 1
        elif i == len(bands) - 1:
            j = i - 1
        else:
            j = i - 1 if sizes[i - 1] <= sizes[i + 1] else i + 1
        a, b = sorted((i, j))
        merged.append(f"{_band_label(bands[i])} ({sizes[i]} rows) into {_band_label(bands[j])}")
        bands[a:b + 1] = [[bands[a][0], bands[b][1]]]
    edges = [b[1] for b in bands[:-1]]
    index = np.searchsorted(np.array(edges, dtype=float), data, side="right")
    names = [_band_label(b) for b in bands]
    labels = pd.Series(np.array(names, dtype=object)[index], index=ages.index)
    counts = [int(np.sum(index == k)) for k in range(len(bands))]
    note = "age in bands " + ", ".join(f"{n} ({c})" for n, c in zip(names, counts))
    if merged:
        note += f"; merged bands under {min_size} rows: " + ", ".join(merged)
    return labels, names, note


def _band_label(band: list) -> str:
    lo, hi = band
    if lo is None and hi is None:
        return "all ages"
    if lo is None:
        return f"<{hi:g}"
    if hi is None:
        return f"{lo:g}+"
    return f"{lo:g}-{hi - 1:g}"


def _quantile_bands(numbers: pd.Series, min_size: int) -> tuple[pd.Series, list[str], str]:
    data = numbers.to_numpy(dtype=float)
    n_bands = int(min(4, max(1, len(data) // max(min_size, 1))))
    edges = np.unique(np.quantile(data, np.linspace(0, 1, n_bands + 1)))
    if len(edges) < 2:
        edges = np.array([edges[0], edges[0]])
    # Each band holds its upper edge; the first also its lower one.
    index = np.clip(np.searchsorted(edges[1:-1], data, side="left"), 0, len(edges) - 2)
    names = [f"{edges[k]:.4g} to {edges[k + 1]:.4g}" for k in range(len(edges) - 1)]
    labels = pd.Series(np.array(names, dtype=object)[index], index=numbers.index)
    counts = [int(np.sum(index == k)) for k in range(len(names))]
    note = (f"{len(names)} quantile bands, each holding its upper edge: "
            + ", ".join(f"{n} ({c})" for n, c in zip(names, counts)))
    return labels, names, note


def _pooled(text: pd.Series, min_size: int) -> tuple[pd.Series, list[str], str]:
    counts = text.value_counts()
    rare = [str(v) for v, c in counts.items() if c < min_size and str(v) != OTHER]
    kept_any = len(rare) < len([v for v in counts.index if str(v) != OTHER])
    if not ((len(rare) >= 2 or (rare and OTHER in counts.index)) and kept_any):
        # Pooling one value only renames it, and pooling them all leaves one group: keep the values.
        rare = []
    labels = text.where(~text.isin(rare), OTHER)
    kept = [str(v) for v in counts.index if str(v) not in rare and str(v) != OTHER]
    order = kept + ([OTHER] if (labels == OTHER).any() else [])
    note = f"{len(kept)} values as groups"
    if rare:
        note += (f"; {len(rare)} value(s) under {min_size} rows pooled as '{OTHER}' "
                 f"({int(counts[rare].sum())} rows: {_show(rare)})")
    return labels, order, note
