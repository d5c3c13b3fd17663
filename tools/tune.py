"""Tuning: one seeded Optuna study per candidate, scheduled across candidates within a deadline.

Each study lives in the run folder's journal file (openable with optuna-dashboard), is seeded with the
selection result of its candidate (so TPE starts from a known-good point), then tries the candidate's
portfolio of configurations known to work (`tools.portfolio`) before TPE's own, samples with a seeded TPE
sampler and prunes poor trials fold by fold with a median pruner; boosting models also stop early on
each validation fold. A trial that raises is recorded as failed and the search carries on.

The scheduler gives each candidate trials in proportion to its share of the plan (counted in trials,
so a run with a trial cap is reproducible) and re-plans after every trial: a candidate that has had a
fair number of trials and still trails the leader by more than the leader's fold-to-fold spread is
dropped, and its share goes to the others. Each re-plan is reported through ``on_replan``.

On small tables the folds cannot tell close configurations apart: after hundreds of trials the best
cross-validated score is mostly the luckiest draw of fold noise, and the model picked by it does worse
on new rows. So a trial counts as a gain only when it beats the candidate's best by more than a share of
the folds' own noise (the leader's standard error over the folds), and a candidate with no such gain in
its last `PATIENCE` trials stops; when every candidate has stopped, tuning ends early ("converged") and
its time goes to the steps after it. On big tables the noise is tiny and any gain counts.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import optuna
from optuna.trial import TrialState, create_trial

from tools.candidates import get_candidate
from tools.crossval import CVResult, TrainingData, cross_validate
from tools.metrics import Metric
from tools.portfolio import portfolio
from tools.storage import beating, fail_stale, open_study, worker_name

MIN_TRIALS_BEFORE_DROP = 4
# Trials without a real gain after which a candidate stops, and what "real" means: more than this share
# of the leader's standard error over the folds.
PATIENCE = 20
NOISE_SHARE = 0.25
# Who ran a trial, as its user attribute "worker": this process, or a `mlpilot worker` on another machine.
WORKER = worker_name()


@dataclass
class TrialRecord:
    """One finished trial, as logged."""

    candidate: str
    number: int
    state: str             # complete | pruned | failed | cut (the deadline stopped it)
    value: float | None
    sd: float | None
    params: dict
    seconds: float
    best_so_far: float | None
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TuneResult:
    """What tuning found: the best complete result per candidate and the history."""

    best: dict[str, CVResult]
    trials: list[TrialRecord] = field(default_factory=list)
    replans: list[dict] = field(default_factory=list)
    stopped: str = "budget"

    def leader(self, metric: Metric) -> CVResult | None:
        ranked = sorted(self.best.values(), key=lambda r: metric.oriented(r.mean), reverse=True)
        return ranked[0] if ranked else None


def tune(shares: dict[str, float], data: TrainingData, metric: Metric, *, seeds: dict[str, CVResult],
         storage: Path | str, seed: int, deadline: float | Callable[[], float], max_trials: int | None = None,
         should_stop: Callable[[], bool] = lambda: False,
         on_trial: Callable[[TrialRecord], None] | None = None,
         on_replan: Callable[[dict], None] | None = None,
         on_best: Callable[[str, CVResult], None] | None = None,
         on_result: Callable[[str, CVResult], None] | None = None, n_jobs: int = 2,
         study_prefix: str | None = None, on_ready: Callable[[], None] | None = None) -> TuneResult:
    """Tune the candidates in ``shares`` until the deadline, the trial cap or a stop request.

    Args:
        shares: candidate -> share of the tuning trials (normalised here).
        data: training part with its folds.
        metric: what to optimise.
        seeds: candidate -> its selection result, added to its study as the first trial.
        storage: the journal file of the studies, or a database URL (`tools.storage`).
        study_prefix: in a database, the run's id, which names its studies.
        on_ready: called once every study exists with its seeds and queued configurations (workers may join).
        seed: base seed of the samplers.
        deadline: `time.monotonic()` by which tuning must end, or a function giving it before each trial
            (the caller's time plan moves it as tuned configurations show what the final fit will cost).
        max_trials: cap on new trials over all candidates (None: only the deadline stops).
        should_stop: polled between trials and folds (Ctrl-C).
        on_trial: called with each finished trial.
        on_replan: called with each change of the active candidates.
        on_best: called with a candidate and its new best result whenever that improves.
        on_result: called with every complete trial's name (``candidate#number``) and result, so the
            caller may keep its out-of-fold predictions for the ensemble.
        n_jobs: threads per model.
    """
    due: Callable[[], float] = deadline if callable(deadline) else (lambda: deadline)
    n_rows, n_features = len(data.y), data.n_features
    active = _normalise({c: s for c, s in shares.items() if s > 0})
    result = TuneResult(best={c: r for c, r in seeds.items() if r.complete and c in active})
    studies: dict[str, optuna.Study] = {}
    counts = {c: 0 for c in active}
    # A seed the clock cut timed fewer folds than a trial fits.
    durations: dict[str, list[float]] = {
        c: [seeds[c].fit_seconds * len(data.folds) / max(len(seeds[c].scores), 1)] if c in seeds else []
        for c in active}
    last_gain = {c: 0 for c in active}
    for i, name in enumerate(sorted(active)):
        study = open_study(storage, f"tune-{name}", metric.direction, seed + i, prefix=study_prefix)
        cand = get_candidate(name)
        if not study.trials:  # a new study; a resumed run's study keeps what it has (queued trials too)
            if name in seeds and seeds[name].complete:
                space = cand.search_space(n_rows, n_features, data.task)
                study.add_trial(create_trial(params=seeds[name].params, distributions=space,
                                             value=seeds[name].mean,
                                             user_attrs={"source": "selection", "worker": WORKER}))
            for params in portfolio(name, n_rows, n_features, data.task):
                study.enqueue_trial(params, user_attrs={"source": "portfolio"})
        studies[name] = study
    if on_ready:
        on_ready()

    while active:
        if should_stop():
            result.stopped = "interrupted"
            break
        if max_trials is not None and sum(counts.values()) >= max_trials:
            result.stopped = "max_trials"
            break
        ends = due()
        name = _next_candidate(active, counts, durations, ends)
        if name is None:
            result.stopped = "budget"
            break
        record, cv = run_trial(studies[name], name, data, metric, ends, should_stop, n_jobs, storage)
        counts[name] += 1
        durations[name].append(record.seconds)
        if cv is not None and on_result:
            on_result(f"{name}#{record.number}", cv)
        previous = result.best[name].mean if name in result.best else None
        if cv is not None and metric.better(cv.mean, previous):
            if previous is None or metric.oriented(cv.mean) - metric.oriented(previous) > _noise(result, metric):
                last_gain[name] = counts[name]
            result.best[name] = cv
            if on_best:
                on_best(name, cv)
        leader = result.leader(metric)
        record.best_so_far = leader.mean if leader else None
        result.trials.append(record)
        if on_trial:
            on_trial(record)
        change = _replan(active, counts, last_gain, result, metric)
        if change:
            active = change["active"]
            result.replans.append(change)
            if on_replan:
                on_replan(change)
            if not active:
                result.stopped = "converged"
    return result


def _noise(result: TuneResult, metric: Metric) -> float:
    """The smallest gain that counts: a share of the leader's standard error over the folds."""
    leader = result.leader(metric)
    if leader is None or len(leader.scores) < 2:
        return 0.0
    return NOISE_SHARE * leader.sd / math.sqrt(len(leader.scores))


def run_trial(study: optuna.Study, name: str, data: TrainingData, metric: Metric, deadline: float,
              should_stop: Callable[[], bool], n_jobs: int, storage: Path | str = ""
              ) -> tuple[TrialRecord, CVResult | None]:
    """One trial of candidate ``name`` on ``study``: asked, cross-validated until ``deadline`` (monotonic) with
    median pruning across folds, told; its process's heartbeat recorded while it runs (a database storage)."""
    fail_stale(study, storage)
    with warnings.catch_warnings():
        # Optuna warns that heartbeats are meant for study.optimize; `beating` records them for ask and tell.
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        trial = study.ask()
        trial.set_user_attr("worker", WORKER)
        with beating(storage, trial):
            return _trial(study, trial, name, data, metric, deadline, should_stop, n_jobs)


def _trial(study: optuna.Study, trial: optuna.Trial, name: str, data: TrainingData, metric: Metric, deadline: float,
           should_stop: Callable[[], bool], n_jobs: int) -> tuple[TrialRecord, CVResult | None]:
    cand = get_candidate(name)
    start = time.monotonic()
    params: dict = {}

    def report(fold: int, running: float) -> None:
        trial.report(running, fold)
        if trial.should_prune():
            raise optuna.TrialPruned()
        if should_stop():
            raise _Stopped()

    try:
        params = cand.suggest(trial, len(data.y), data.n_features, data.task)
        cv = cross_validate(cand, params, data, metric, n_jobs=n_jobs, deadline=deadline, on_fold=report)
    except optuna.TrialPruned:
        study.tell(trial, state=TrialState.PRUNED)
        return TrialRecord(name, trial.number, "pruned", None, None, params,
                           time.monotonic() - start, None, "worse than the median trial after the same folds"), None
    except _Stopped:
        study.tell(trial, state=TrialState.FAIL)
        return TrialRecord(name, trial.number, "cut", None, None, params, time.monotonic() - start, None,
                           "stopped on request"), None
    except Exception as exc:  # a failed trial is data, not a crash (Optuna's own rule)
        trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
        study.tell(trial, state=TrialState.FAIL)
        return TrialRecord(name, trial.number, "failed", None, None, params, time.monotonic() - start, None,
                           f"{type(exc).__name__}: {exc}"[:300]), None
    seconds = time.monotonic() - start
    if not cv.complete or not np.isfinite(cv.mean):
        study.tell(trial, state=TrialState.FAIL)
        note = "cut by the time budget" if not cv.complete else "score undefined on some fold"
        return TrialRecord(name, trial.number, "cut", None, None, params, seconds, None, note), None
    if cv.iterations:
        trial.set_user_attr("iterations", cv.iterations)
    study.tell(trial, cv.mean)
    note = "a portfolio configuration" if trial.user_attrs.get("source") == "portfolio" else ""
    return TrialRecord(name, trial.number, "complete", cv.mean, cv.sd, params, seconds, None, note), cv


class _Stopped(Exception):
    pass


def _normalise(shares: dict[str, float]) -> dict[str, float]:
    total = sum(shares.values())
    return {c: s / total for c, s in shares.items()} if total > 0 else {}


def _next_candidate(active: dict[str, float], counts: dict[str, int], durations: dict[str, list[float]],
                    deadline: float) -> str | None:
    """The active candidate furthest behind its share whose typical trial still fits before the deadline."""
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    total = sum(counts.values()) + 1
    order = sorted(active, key=lambda c: (counts[c] - active[c] * total, c))
    for name in order:
        typical = float(np.median(durations[name])) if durations[name] else 0.0
        # A trial expected to take far longer than what is left would only be cut: skip it.
        if typical <= max(left * 1.5, 0.5):
            return name
    return None


def _replan(active: dict[str, float], counts: dict[str, int], last_gain: dict[str, int],
            result: TuneResult, metric: Metric) -> dict | None:
    leader = result.leader(metric)
    if leader is None:
        return None
    spread = leader.sd / math.sqrt(max(len(leader.scores), 1)) * 2 + 1e-12
    noise = _noise(result, metric)
    dropped: dict[str, str] = {}
    for name in active:
        if counts[name] - last_gain[name] >= PATIENCE:
            dropped[name] = (f"no gain above the folds' noise ({noise:.4g}) in its last {PATIENCE} trials: more "
                             "trials would fit the folds' noise, not the data" if noise > 0 else
                             f"no improvement in its last {PATIENCE} trials")
            continue
        if name == leader.candidate or counts[name] < MIN_TRIALS_BEFORE_DROP or len(active) < 2:
            continue
        best = result.best.get(name)
        gap = metric.oriented(leader.mean) - (metric.oriented(best.mean) if best else -math.inf)
        if gap > spread:
            dropped[name] = (f"after {counts[name]} trials its best ({best.mean:.4f}) trails "
                             f"{leader.candidate} ({leader.mean:.4f}) by more than twice the leader's "
                             f"standard error ({spread / 2:.4f})" if best else
                             f"no complete trial in {counts[name]} attempts")
    if not dropped:
        return None
    remaining = _normalise({c: s for c, s in active.items() if c not in dropped})
    evidence = {"noise": noise, "standard_error": spread / 2,
                "candidates": {n: {"trials": counts[n], "trials_since_gain": counts[n] - last_gain[n],
                                   "best": result.best[n].mean if n in result.best else None} for n in dropped}}
    return {"trial": sum(counts.values()), "dropped": dropped, "active": remaining,
            "leader": leader.candidate, "leader_score": leader.mean, "evidence": evidence}
