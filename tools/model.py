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
from concurrent.futures import ThreadPoolExecutor
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
from tools.crossval import make_folds
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
    """What to fit: members, task, classes (original labels, encoded order), threshold, the
    temperature that scales its probabilities (None: not calibrated), and ``bagging``: the number of
    folds whose models are averaged for each member (0: one fit on all the rows given)."""

    members: list[Member]
    task: str
    classes: list = field(default_factory=list)
    threshold: float | None = None
    temperature: float | None = None
    bagging: int = 0

    @property
    def positive(self) -> Any:
        return self.classes[1] if self.task == "binary" else None

    @property
    def label(self) -> str:
        bagged = f" (each bagged over {self.bagging} folds)" if self.bagging else ""
        if len(self.members) == 1:
            return self.members[0].candidate + bagged
        weight: dict[str, int] = {}
        configs: dict[str, int] = {}
        for m in self.members:
            weight[m.candidate] = weight.get(m.candidate, 0) + m.weight
            configs[m.candidate] = configs.get(m.candidate, 0) + 1
        names = [f"{c} x{w}" + (f" ({configs[c]} configurations)" if configs[c] > 1 else "")
                 for c, w in weight.items()]
        return "ensemble of " + " + ".join(names) + bagged

    def member_names(self) -> list[str]:
        """A unique name per member (scikit-learn's voting estimators need them): the candidate, with a
        number when one candidate gives several members."""
        seen: dict[str, int] = {}
        names = []
        for m in self.members:
            seen[m.candidate] = seen.get(m.candidate, 0) + 1
            names.append(m.candidate if seen[m.candidate] == 1 else f"{m.candidate}_{seen[m.candidate]}")
        return names

    def to_dict(self) -> dict:
        data = asdict(self)
        data["classes"] = [_plain(c) for c in self.classes]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ModelSpec":
        members = [Member(**m) for m in data["members"]]
        return cls(members, data["task"], list(data.get("classes", [])), data.get("threshold"),
                   data.get("temperature"), int(data.get("bagging") or 0))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class FittedModel:
    """A fitted estimator and the members whose fit the deadline cut short (fewer trees or rounds)."""

    estimator: Any
    cut: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fit_member(member: Member, plan: ColumnPlan, task: str, X: pd.DataFrame, y: np.ndarray, *, seed: int,
               n_jobs: int, deadline: float | None = None,
               validation: tuple[pd.DataFrame, np.ndarray] | None = None) -> tuple[Pipeline, FitInfo]:
    """Cleaning + model for one member, never fitted past ``deadline``: with boosting rounds fixed from
    cross-validation, or, given ``validation`` rows, with the member's own parameters, early-stopped on
    them as in cross-validation. The steps are fitted one by one so the model's own deadline-aware fit
    is used."""
    cand = get_candidate(member.candidate)
    params = member.params if validation is not None else cand.final_params(member.params, member.iterations)
    prep = build_preprocessor(plan, encoding=cand.encoding, task=task, seed=seed)
    Xt = prep.fit_transform(X[plan.features], y)
    model = cand.make(task, params, seed=seed, n_jobs=n_jobs)
    X_val, y_val = validation if validation is not None and cand.iterative else (None, None)
    info = cand.fit(model, Xt, y, X_val=None if X_val is None else prep.transform(X_val[plan.features]),
                    y_val=y_val, deadline=deadline)
    return Pipeline([("prep", prep), ("model", model)]), info


def fit_model(spec: ModelSpec, plan: ColumnPlan, X: pd.DataFrame, labels: pd.Series | np.ndarray, *,
              seed: int, n_jobs: int, deadline: float | None = None,
              folds: list[tuple[np.ndarray, np.ndarray]] | None = None) -> FittedModel:
    """Fit the final estimator on raw rows ``X`` with original ``labels`` (or values).

    Members are fitted first and then frozen (`FrozenEstimator`) inside the soft-voting ensemble and the
    fixed-threshold wrapper, whose own ``fit`` then only records the classes. With ``spec.bagging``,
    each member is fitted on each of ``folds`` (made here, seeded, when not given).
    """
    start = time.monotonic()
    y = np.asarray(labels)
    fitted: list[tuple[str, Any]] = []
    cut: list[str] = []
    features = X[plan.features]
    if spec.bagging and folds is None:
        folds = bagging_folds(spec, y, seed)
    for name, member in zip(spec.member_names(), spec.members):
        if spec.bagging and folds:
            bag, was_cut = fit_bagged(member, plan, spec.task, X, y, folds, seed=seed, n_jobs=n_jobs,
                                      deadline=deadline)
            fitted.append((name, bag))
        else:
            pipe, info = fit_member(member, plan, spec.task, X, y, seed=seed, n_jobs=n_jobs, deadline=deadline)
            fitted.append((name, pipe))
            was_cut = info.cut_by_deadline
        if was_cut:
            cut.append(member.candidate)
    if len(fitted) == 1:
        model: Any = fitted[0][1]
    else:
        weights = [m.weight for m in spec.members]
        model = _vote([(name, FrozenEstimator(est)) for name, est in fitted], spec.task, features, y, weights)
    if spec.temperature is not None and spec.task != "regression":
        model = calibrated(model, spec.temperature, features, y)
    return FittedModel(with_threshold(model, spec, features, y), cut, time.monotonic() - start)


def _vote(estimators: list[tuple[str, Any]], task: str, X: pd.DataFrame, y: np.ndarray,
          weights: list[int] | None = None) -> Any:
    """A soft vote over already fitted (frozen) estimators; its ``fit`` only records the classes."""
    return (VotingRegressor(estimators, weights=weights) if task == "regression"
            else VotingClassifier(estimators, voting="soft", weights=weights)).fit(X, y)


def bagging_folds(spec: ModelSpec, y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The folds a bagged fit uses: those of cross-validation (`make_folds`, same seed) on these rows."""
    if spec.task == "regression":
        encoded = y
    else:
        index = {c: i for i, c in enumerate(spec.classes)}
        encoded = np.array([index.get(_plain(v), -1) for v in y])
    return make_folds(encoded, spec.task, n_folds=spec.bagging, seed=seed)


def fit_bagged(member: Member, plan: ColumnPlan, task: str, X: pd.DataFrame, y: np.ndarray,
               folds: list[tuple[np.ndarray, np.ndarray]], *, seed: int, n_jobs: int,
               deadline: float | None = None) -> tuple[Any, bool]:
    """One member fitted on each fold's training rows, early-stopped on its validation rows (boosting),
    averaged by a soft vote: the models whose predictions cross-validation scored. Folds are fitted side
    by side with ``n_jobs`` of 2 or more, one thread each. Returns the vote and whether a fit was cut."""
    workers = max(1, min(n_jobs, len(folds)))

    def one(fold: tuple[np.ndarray, np.ndarray]) -> tuple[Pipeline, bool]:
        train, val = fold
        pipe, info = fit_member(member, plan, task, X.iloc[train], y[train], seed=seed,
                                n_jobs=1 if workers > 1 else n_jobs, deadline=deadline,
                                validation=(X.iloc[val], y[val]))
        return pipe, info.cut_by_deadline

    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(one, folds))
    else:
        done = [one(fold) for fold in folds]
    vote = _vote([(f"fold{i}", FrozenEstimator(pipe)) for i, (pipe, _) in enumerate(done)], task,
                 X[plan.features], y)
    return vote, any(cut for _, cut in done)


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
    # From the probabilities, as the model's own predict would (the threshold wrapper's rule, else argmax),
    # rather than a second pass through every member of an ensemble.
    if spec.task == "binary" and spec.threshold is not None and abs(spec.threshold - 0.5) > 1e-9:
        chosen = (proba[:, 1] >= spec.threshold).astype(int)
    else:
        chosen = np.argmax(proba, axis=1)
    own = np.asarray(model.classes_)
    out["prediction"] = own[[list(own).index(c) for c in spec.classes]][chosen]
    for i, cls in enumerate(spec.classes):
        out[f"proba_{cls}"] = proba[:, i]
    return out


def class_probabilities(model: Any, X: pd.DataFrame, spec: ModelSpec) -> np.ndarray:
    """Probabilities with columns in the spec's (encoded) class order, whatever order the model uses."""
    proba = np.asarray(model.predict_proba(X), dtype=float)
    order = [list(model.classes_).index(c) for c in spec.classes]
    return proba[:, order]
