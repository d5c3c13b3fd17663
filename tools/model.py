"""Turning a chosen configuration into the fitted scikit-learn pipeline that is saved and served.

A `ModelSpec` (JSON-able) names the members (candidate, parameters, weight, CV boosting rounds), the
classes and, for binary problems, the decision threshold. `build_model` makes a plain scikit-learn
object from it: a `Pipeline` (cleaning + model), a soft `VotingClassifier` / `VotingRegressor` of such
pipelines for an ensemble, wrapped in `FixedThresholdClassifier` when a threshold other than 0.5 was
chosen. Nothing of mlpilot is needed to load or use the result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline

from tools.candidates import get_candidate
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
    """What to fit: members, task, classes (original labels, encoded order) and threshold."""

    members: list[Member]
    task: str
    classes: list = field(default_factory=list)
    threshold: float | None = None

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
        return cls(members, data["task"], list(data.get("classes", [])), data.get("threshold"))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def member_pipeline(member: Member, plan: ColumnPlan, task: str, *, seed: int, n_jobs: int) -> Pipeline:
    """Cleaning + model for one member, with boosting rounds fixed from cross-validation."""
    cand = get_candidate(member.candidate)
    params = cand.final_params(member.params, member.iterations)
    prep = build_preprocessor(plan, encoding=cand.encoding, task=task, seed=seed)
    return Pipeline([("prep", prep), ("model", cand.make(task, params, seed=seed, n_jobs=n_jobs))])


def build_model(spec: ModelSpec, plan: ColumnPlan, *, seed: int, n_jobs: int) -> Any:
    """The unfitted scikit-learn estimator for ``spec``."""
    pipes = [member_pipeline(m, plan, spec.task, seed=seed, n_jobs=n_jobs) for m in spec.members]
    if len(pipes) == 1:
        model: Any = pipes[0]
    elif spec.task == "regression":
        model = VotingRegressor([(m.candidate, p) for m, p in zip(spec.members, pipes)],
                                weights=[m.weight for m in spec.members])
    else:
        model = VotingClassifier([(m.candidate, p) for m, p in zip(spec.members, pipes)], voting="soft",
                                 weights=[m.weight for m in spec.members])
    if spec.task == "binary" and spec.threshold is not None and abs(spec.threshold - 0.5) > 1e-9:
        model = FixedThresholdClassifier(model, threshold=spec.threshold, pos_label=spec.positive,
                                         response_method="predict_proba")
    return model


def fit_model(spec: ModelSpec, plan: ColumnPlan, X: pd.DataFrame, labels: pd.Series | np.ndarray, *,
              seed: int, n_jobs: int) -> Any:
    """Build and fit the final estimator on raw rows ``X`` with original ``labels`` (or values)."""
    model = build_model(spec, plan, seed=seed, n_jobs=n_jobs)
    y = np.asarray(labels)
    model.fit(X[plan.features], y)
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
