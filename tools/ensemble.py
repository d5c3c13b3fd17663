"""Ensembles chosen on out-of-fold predictions: a pool of scored configurations and greedy selection over it.

Every configuration cross-validated in a run (each candidate's defaults, the portfolio's and the tuned
trials) leaves out-of-fold predictions. The best few of each candidate are kept in a `Pool`, within a
memory cap, and the final model is built from them by greedy forward selection with replacement (Caruana
et al., 2004): start from the best single configuration, add the member whose inclusion most improves
the out-of-fold score of the weighted average, for a fixed number of rounds, and keep the best blend
seen. Two configurations of one candidate may both be members: different trees on the same data are
what averaging profits from. Integer weights over the members map onto scikit-learn's soft
`VotingClassifier` / `VotingRegressor`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from tools.crossval import CVResult, safe_score
from tools.metrics import Metric

# Configurations kept per candidate, and the memory all kept predictions may take.
PER_CANDIDATE = 6
POOL_BYTES = 400_000_000
# Rounds of greedy selection: enough for the weights to settle, few enough to stay cheap (each round
# scores every pool member once).
ROUNDS = 25
# Distinct members at most: each is fitted again for the final model, so each costs time and size.
MAX_MEMBERS = 6


@dataclass
class Pool:
    """The best configurations of each candidate with their out-of-fold predictions.

    Entries are named ``candidate`` (its defaults, scored in selection) or ``candidate#N`` (trial N of
    its study), so a blend's weights say which configuration each weight belongs to.
    """

    entries: dict[str, CVResult] = field(default_factory=dict)
    per_candidate: int = PER_CANDIDATE
    max_bytes: int = POOL_BYTES

    def offer(self, name: str, result: CVResult, metric: Metric) -> bool:
        """Keep ``result`` if it is complete and among its candidate's best; returns whether it was kept."""
        if result.oof is None or not result.complete or not np.isfinite(result.mean):
            return False
        per = max(1, min(self.per_candidate, self.max_bytes // max(result.oof.nbytes, 1) // max(self._kinds(), 1)))
        mine = [n for n, r in self.entries.items() if r.candidate == result.candidate]
        if len(mine) >= per:
            worst = min(mine, key=lambda n: metric.oriented(self.entries[n].mean))
            if not metric.better(result.mean, self.entries[worst].mean):
                return False
            del self.entries[worst]
        self.entries[name] = result
        return True

    def _kinds(self) -> int:
        return len({r.candidate for r in self.entries.values()}) + 1

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True)
class EnsembleChoice:
    """Weights over pool entries and what the blend scores out of fold, beside the best single entry."""

    weights: dict[str, int]
    score: float
    best_single: str
    best_single_score: float
    rounds: int = 0
    pool_size: int = 0

    @property
    def improvement(self) -> float:
        return self.score - self.best_single_score

    def to_dict(self) -> dict:
        return asdict(self)


def blend(results: dict[str, CVResult], weights: dict[str, int]) -> np.ndarray:
    """The weighted average of members' out-of-fold predictions."""
    total = sum(weights.values())
    return sum(results[name].oof * (w / total) for name, w in weights.items())  # type: ignore[return-value]


def select_ensemble(results: dict[str, CVResult], y: np.ndarray, metric: Metric, *, rounds: int = ROUNDS,
                    max_members: int = MAX_MEMBERS, costs: dict[str, float] | None = None,
                    max_cost: float | None = None, seconds: float | None = None) -> EnsembleChoice | None:
    """Greedy ensemble selection with replacement over the entries with complete out-of-fold predictions.

    Every round adds one weight to the entry that helps most, even when none helps (a plateau may lead
    to a better blend); the best blend seen is returned, so it never scores worse out of fold than the
    best single entry. A new member is admitted only while the blend has fewer than ``max_members`` and,
    with ``costs``, while the members' summed cost (the seconds their final fits will take) stays within
    ``max_cost``. With ``seconds``, no round starts after that many seconds (on big tables a round of
    scoring every entry takes a while). Returns None when fewer than two entries are usable or no blend
    beats the best single.
    """
    start = time.monotonic()
    usable = {n: r for n, r in results.items() if r.oof is not None and np.isfinite(r.mean)}
    if len(usable) < 2:
        return None
    score, part = _scorer(metric, y, usable)
    singles = {n: score(part[n]) for n in usable}
    ranked = [n for n in sorted(singles, key=lambda n: (-metric.oriented(singles[n]), n)) if np.isfinite(singles[n])]
    if len(ranked) < 2:
        return None
    best_single = ranked[0]
    weights = {best_single: 1}
    total = part[best_single].copy()
    best_weights, best_score, best_round = dict(weights), singles[best_single], 0
    for step in range(1, rounds + 1):
        if seconds is not None and time.monotonic() - start > seconds:
            break
        n_members = sum(weights.values())
        spent = sum((costs or {}).get(n, 0.0) for n in weights)
        scores: dict[str, float] = {}
        for name in ranked:
            if name not in weights and (len(weights) >= max_members or
                                        (costs is not None and max_cost is not None and
                                         spent + costs.get(name, 0.0) > max_cost)):
                continue
            scores[name] = score((total + part[name]) / (n_members + 1))
        finite = [n for n in scores if np.isfinite(scores[n])]
        if not finite:
            break
        pick = max(finite, key=lambda n: (metric.oriented(scores[n]), -ranked.index(n)))
        weights[pick] = weights.get(pick, 0) + 1
        total = total + part[pick]
        if metric.better(scores[pick], best_score):
            best_weights, best_score, best_round = dict(weights), scores[pick], step
    if len(best_weights) < 2:
        return None
    return EnsembleChoice(_reduced(best_weights), float(best_score), best_single, float(singles[best_single]),
                          best_round, len(usable))


def _scorer(metric: Metric, y: np.ndarray, usable: dict[str, CVResult]
            ) -> tuple[Callable[[np.ndarray], float], dict[str, np.ndarray]]:
    """How a blend is scored, and the part of each entry's predictions that the score needs.

    Log loss needs only each row's probability of its true class (the blend of probability rows is a
    probability row), which makes a round on a big multiclass table tens of times cheaper; every other
    metric scores the blended predictions whole.
    """
    if metric.name == "log_loss":
        rows, truth = np.arange(len(y)), np.asarray(y, dtype=int)
        part = {n: _true_class(np.asarray(r.oof, dtype=float), rows, truth) for n, r in usable.items()}
        return (lambda p: float(-np.mean(np.log(np.clip(p, 1e-15, 1.0))))), part
    return (lambda p: safe_score(metric, y, p)), {n: np.asarray(r.oof, dtype=float) for n, r in usable.items()}


def _true_class(proba: np.ndarray, rows: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each row's probability of its true class, rows renormalised as the log loss metric does (XGBoost's
    float32 rows sum to 1 only to about 1e-7)."""
    proba = np.clip(proba, 1e-15, 1.0)
    return proba[rows, truth] / proba.sum(axis=1)


def _reduced(weights: dict[str, int]) -> dict[str, int]:
    """The same proportions with the smallest integers (3:3:6 is 1:1:2)."""
    divisor = int(np.gcd.reduce(list(weights.values())))
    return {n: w // divisor for n, w in weights.items()}
