"""Turning a chosen configuration into the fitted scikit-learn pipeline that is saved and served.

A `ModelSpec` (JSON-able) names the members (candidate, parameters, weight, CV boosting rounds), the
classes and, for binary problems, the decision threshold. `fit_model` makes a plain scikit-learn object
from it: a `Pipeline` (cleaning + model), a soft `VotingClassifier` / `VotingRegressor` of such pipelines
for an ensemble, in a `CalibratedClassifierCV` when a temperature was chosen out of fold
(`tools.calibrate`), and in `FixedThresholdClassifier` when a threshold other than 0.5 was chosen.
Nothing of mlpilot is needed to load or use the result.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline

from tools.calibrate import calibrated
from tools.candidates import FitInfo, get_candidate
from tools.preprocess import ColumnPlan, build_preprocessor


@dataclass
class Member:
    """One model of the final estimator."""

    candidate: str
    params: dict
    weight: int = 1
    iterations: list[int] = field(default_factory=list)


@dataclass
class ModelSpec:
    """What to fit: members, task, classes (original labels, encoded order), threshold, and the
    temperature that scales its probabilities (None: not calibrated)."""

    members: list[Member]
    task: str
    classes: list = field(default_factory=list)
    threshold: float | None = None
    temperature: float | None = None

    @property
    def positive(self) -> Any:
        return self.classes[1] if self.task == "binary" else None

    @property
    def label(self) -> str:
        names = [f"{m.candidate} x{m.weight}" if len(self.members) > 1 else m.candidate for m in self.members]
        return ("ensemble of " if len(self.members) > 1 else "") + " + ".join(names)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["classes"] = [_plain(c) for c in self.classes]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ModelSpec":
        members = [Member(**m) for m in data["members"]]
        return cls(members, data["task"], list(data.get("classes", [])), data.get("threshold"),
                   data.get("temperature"))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class FittedModel:
    """A fitted estimator and the members whose fit the deadline cut short (fewer trees or rounds)."""

    estimator: Any
    cut: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fit_member(member: Member, plan: ColumnPlan, task: str, X: pd.DataFrame, y: np.ndarray, *, seed: int,
               n_jobs: int, deadline: float | None = None) -> tuple[Pipeline, FitInfo]:
    """Cleaning + model for one member, fitted with boosting rounds fixed from cross-validation and never
    past ``deadline``. The steps are fitted one by one so the model's own deadline-aware fit is used."""
    cand = get_candidate(member.candidate)
    params = cand.final_params(member.params, member.iterations)
    prep = build_preprocessor(plan, encoding=cand.encoding, task=task, seed=seed)
    Xt = prep.fit_transform(X[plan.features], y)
    model = cand.make(task, params, seed=seed, n_jobs=n_jobs)
    info = cand.fit(model, Xt, y, deadline=deadline)
    return Pipeline([("prep", prep), ("model", model)]), info


def fit_model(spec: ModelSpec, plan: ColumnPlan, X: pd.DataFrame, labels: pd.Series | np.ndarray, *,
              seed: int, n_jobs: int, deadline: float | None = None) -> FittedModel:
    """Fit the final estimator on raw rows ``X`` with original ``labels`` (or values).

    Members are fitted first and then frozen (`FrozenEstimator`) inside the soft-voting ensemble and the
    fixed-threshold wrapper, whose own ``fit`` then only records the classes.
    """
    start = time.monotonic()
    y = np.asarray(labels)
    fitted: list[tuple[str, Pipeline]] = []
    cut: list[str] = []
    for member in spec.members:
        pipe, info = fit_member(member, plan, spec.task, X, y, seed=seed, n_jobs=n_jobs, deadline=deadline)
        fitted.append((member.candidate, pipe))
        if info.cut_by_deadline:
            cut.append(member.candidate)
    features = X[plan.features]
    if len(fitted) == 1:
        model: Any = fitted[0][1]
    else:
        frozen = [(name, FrozenEstimator(pipe)) for name, pipe in fitted]
        weights = [m.weight for m in spec.members]
        model = (VotingRegressor(frozen, weights=weights) if spec.task == "regression"
                 else VotingClassifier(frozen, voting="soft", weights=weights)).fit(features, y)
    if spec.temperature is not None and spec.task != "regression":
        model = calibrated(model, spec.temperature, features, y)
    return FittedModel(with_threshold(model, spec, features, y), cut, time.monotonic() - start)


def with_threshold(model: Any, spec: ModelSpec, X: pd.DataFrame, y: np.ndarray) -> Any:
    """``model`` frozen inside a fixed-threshold wrapper when the spec's threshold is not 0.5 (binary);
    the wrapper's fit only records the classes of ``y``."""
    if spec.task == "binary" and spec.threshold is not None and abs(spec.threshold - 0.5) > 1e-9:
        return FixedThresholdClassifier(FrozenEstimator(model), threshold=spec.threshold,
                                        pos_label=spec.positive, response_method="predict_proba").fit(X, y)
    return model


def predict_table(model: Any, X: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """``prediction`` plus ``proba_<class>`` per class (classification), in the spec's class order."""
    out = pd.DataFrame(index=X.index)
    if spec.task == "regression":
        out["prediction"] = model.predict(X)
        return out
    proba = class_probabilities(model, X, spec)
    out["prediction"] = model.predict(X)
    for i, cls in enumerate(spec.classes):
        out[f"proba_{cls}"] = proba[:, i]
    return out


def class_probabilities(model: Any, X: pd.DataFrame, spec: ModelSpec) -> np.ndarray:
    """Probabilities with columns in the spec's (encoded) class order, whatever order the model uses."""
    proba = np.asarray(model.predict_proba(X), dtype=float)
    order = [list(model.classes_).index(c) for c in spec.classes]
    return proba[:, order]
