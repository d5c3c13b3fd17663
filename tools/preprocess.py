"""Cleaning as a scikit-learn transformer, built from a column plan.

The plan (`ColumnPlan`) says what each kept column is; `build_preprocessor` turns it into a
`ColumnTransformer` for one family of models. Every piece is a scikit-learn built-in (with stdlib
`operator` callables inside `FunctionTransformer`), so a saved pipeline loads with joblib and
scikit-learn alone, without mlpilot installed. The transformer is fitted inside each training fold by
the cross-validation code, never on validation or holdout rows.

Encodings by model family:
- ``onehot`` (linear models): median imputation (+ missing indicators where the plan asks), scaling,
  one-hot of few-level categoricals with rare levels grouped, target encoding of many-level ones.
- ``ordinal`` (random forest, extra trees): NaN kept (these trees handle it), ordinal codes for
  categoricals (unknown levels become NaN), target encoding of many-level ones.
- ``native`` (LightGBM, HistGradientBoosting): as ``ordinal`` but categoricals typed as pandas
  ``category`` so the booster splits on them natively.
"""

from __future__ import annotations

import operator
import re
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder

ENCODINGS = ("onehot", "ordinal", "native")
DATETIME_PARTS = ("year", "month", "day", "day_of_week", "hour")
# The lists of a ColumnPlan that hold features, one per way a column is modelled.
ROLES = ("numeric", "boolean", "categorical", "high_cardinality", "datetime")
# More levels than this and one-hot columns outnumber what a model can learn from: target-encode instead.
HIGH_CARDINALITY = 50

_UNSAFE = re.compile(r'["\',:\[\]{}<>\\]')


@dataclass
class ColumnPlan:
    """What to do with each column: the cleaning part of the plan (JSON-able).

    Attributes:
        numeric: numeric feature columns.
        boolean: boolean feature columns (modelled as 0/1).
        categorical: categorical columns with few levels.
        high_cardinality: categorical columns with many levels (target encoded inside folds).
        datetime: datetime columns, each expanded into ``datetime_parts[col]``.
        missing_indicators: columns whose missingness carries signal (an indicator is added for
            models that impute).
        dropped: column -> reason, for every column not used (the target excluded).
    """

    numeric: list[str] = field(default_factory=list)
    boolean: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    high_cardinality: list[str] = field(default_factory=list)
    datetime: list[str] = field(default_factory=list)
    datetime_parts: dict[str, list[str]] = field(default_factory=dict)
    missing_indicators: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """Every raw column the model reads, in a stable order."""
        return self.numeric + self.boolean + self.categorical + self.high_cardinality + self.datetime

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ColumnPlan":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def safe_names(parts: list[tuple[str, object, list[str]]]) -> dict[str, str]:
    """New names for the features whose names a model refuses, with those characters written as their
    code ("num__fare (a: b)" -> "num__fare (a_3a_ b)"), each unique. LightGBM stops the process on JSON's
    special characters and XGBoost refuses brackets and "<", and a column may be named anything. A plain
    mapping, so the saved pipeline still loads without mlpilot; one-hot columns are not in it (only the
    linear models, which take any name, see them)."""
    names = [f"{part}__{col}" for part, _, cols in parts for col in cols]
    taken, renamed = set(names), {}
    for name in names:
        if not _UNSAFE.search(name):
            continue
        safe = base = _UNSAFE.sub(lambda m: f"_{ord(m.group()):x}_", name)
        n = 1
        while safe in taken:
            n += 1
            safe = f"{base}_{n}"
        taken.add(safe)
        renamed[name] = safe
    return renamed


def _one_to_one(func: object) -> FunctionTransformer:
    return FunctionTransformer(func, feature_names_out="one-to-one")


def _as_float() -> FunctionTransformer:
    return _one_to_one(operator.methodcaller("astype", "float64"))


def _date_part(part: str) -> FunctionTransformer:
    # DataFrame.apply(attrgetter("dt.month")) keeps column names; float so NaT becomes NaN.
    return Pipeline([("part", _one_to_one(operator.methodcaller("apply", operator.attrgetter(f"dt.{part}")))),
                     ("float", _as_float())])


def build_preprocessor(plan: ColumnPlan, *, encoding: str, task: str, seed: int = 0,
                       min_frequency: int = 5) -> ColumnTransformer | Pipeline:
    """A `ColumnTransformer` (pandas output) that cleans raw columns for one model family, followed by a
    renaming of the features whose names a model would refuse, when there are any (see `safe_names`).

    Args:
        plan: the column plan.
        encoding: ``onehot``, ``ordinal`` or ``native`` (see module doc).
        task: ``binary``, ``multiclass`` or ``regression`` (target encoding needs it).
        seed: seed of the target encoder's internal folds.
        min_frequency: levels seen fewer times are grouped as infrequent.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}; got {encoding!r}")
    impute = encoding == "onehot"
    parts: list[tuple[str, object, list[str]]] = []

    def numeric_pipe(extra: list[tuple[str, object]] | None = None, indicator: bool = False) -> object:
        steps = list(extra or [])
        if impute:
            steps.append(("impute", SimpleImputer(strategy="median", add_indicator=indicator,
                                                  keep_empty_features=True)))
            steps.append(("scale", StandardScaler()))
        if not steps:
            return "passthrough"
        return Pipeline(steps) if len(steps) > 1 else steps[0][1]

    indicated = [c for c in plan.numeric if c in plan.missing_indicators] if impute else []
    plain = [c for c in plan.numeric if c not in indicated]
    if plain:
        parts.append(("num", numeric_pipe(), plain))
    if indicated:
        parts.append(("num_ind", numeric_pipe(indicator=True), indicated))
    if plan.boolean:
        parts.append(("bool", numeric_pipe([("float", _as_float())], indicator=impute), plan.boolean))
    for part in sorted({p for c in plan.datetime for p in plan.datetime_parts.get(c, [])}):
        cols = [c for c in plan.datetime if part in plan.datetime_parts.get(c, [])]
        parts.append((f"dt_{part}", numeric_pipe([("part", _date_part(part))]), cols))
    if plan.categorical:
        parts.append(("cat", _categorical(encoding, min_frequency), plan.categorical))
    if plan.high_cardinality:
        target_type = "continuous" if task == "regression" else task
        # A fixed smoothing: "auto" leaves categories seen once unshrunk, which overfits id-like codes.
        encoder = TargetEncoder(target_type=target_type, smooth=10.0,
                                cv=KFold(5, shuffle=True, random_state=seed))
        steps: list[tuple[str, object]] = [("text", _one_to_one(operator.methodcaller("astype", "object"))),
                                           ("target", encoder)]
        if impute:
            steps.append(("scale", StandardScaler()))
        parts.append(("te", Pipeline(steps), plan.high_cardinality))
    transformer = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=True).set_output(transform="pandas")
    renamed = safe_names(parts)
    if not renamed:
        return transformer
    return Pipeline([("columns", transformer), ("names", FunctionTransformer(operator.methodcaller("rename",
                                                                                               columns=renamed)))])


def _categorical(encoding: str, min_frequency: int) -> object:
    as_object = ("text", _one_to_one(operator.methodcaller("astype", "object")))
    if encoding == "onehot":
        return Pipeline([as_object, ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist",
                                                             min_frequency=min_frequency,
                                                             sparse_output=False))])
    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                             encoded_missing_value=np.nan, min_frequency=min_frequency)
    steps = [as_object, ("ordinal", ordinal)]
    if encoding == "native":
        steps.append(("category", _one_to_one(operator.methodcaller("astype", "category"))))
    return Pipeline(steps)
