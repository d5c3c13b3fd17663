"""A simple ensemble of the best configurations, chosen on out-of-fold predictions.

Greedy forward selection with replacement (Caruana et al., 2004): start from the best single model and
repeatedly add the member whose inclusion most improves the out-of-fold score of the averaged
prediction. The result is a set of integer weights over at most a handful of members, which maps onto
scikit-learn's soft `VotingClassifier` / `VotingRegressor`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tools.crossval import CVResult, safe_score
from tools.metrics import Metric


@dataclass(frozen=True)
class EnsembleChoice:
    """Weights over members and what they score out of fold, beside the best single model."""

    weights: dict[str, int]
    score: float
    best_single: str
    best_single_score: float

    @property
    def improvement(self) -> float:
        return self.score - self.best_single_score

    def to_dict(self) -> dict:
        return asdict(self)


def blend(results: dict[str, CVResult], weights: dict[str, int]) -> np.ndarray:
    """The weighted average of members' out-of-fold predictions."""
    total = sum(weights.values())
    return sum(results[name].oof * (w / total) for name, w in weights.items())  # type: ignore[return-value]


def select_ensemble(results: dict[str, CVResult], y: np.ndarray, metric: Metric, *,
                    max_rounds: int = 20) -> EnsembleChoice | None:
    """Greedy ensemble over the members that have complete out-of-fold predictions.

    Returns None when fewer than two members are usable or no blend beats the best single model.
    """
    usable = {name: r for name, r in results.items() if r.oof is not None and np.isfinite(r.mean)}
    if len(usable) < 2:
        return None
    singles = {name: safe_score(metric, y, r.oof) for name, r in usable.items()}
    best_single = max(singles, key=lambda n: metric.oriented(singles[n]))
    weights = {best_single: 1}
    current = singles[best_single]
    for _ in range(max_rounds):
        trial_scores = {}
        for name in usable:
            candidate = dict(weights)
            candidate[name] = candidate.get(name, 0) + 1
            trial_scores[name] = safe_score(metric, y, blend(usable, candidate))
        pick = max(trial_scores, key=lambda n: metric.oriented(trial_scores[n]))
        if not metric.better(trial_scores[pick], current):
            break
        weights[pick] = weights.get(pick, 0) + 1
        current = trial_scores[pick]
    if len(weights) < 2:
        return None
    return EnsembleChoice(weights, float(current), best_single, float(singles[best_single]))
