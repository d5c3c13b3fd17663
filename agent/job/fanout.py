"""The run's side of tuning spread over `mlpilot worker` processes (with ``--storage``, a database).

The run stays the coordinator: before tuning it shares its training rows, folds and plan in its folder
(`tools.tuneshare`) and keeps ``clock.json`` telling workers when tuning ends and which candidates are still
tuned; workers add trials to the run's studies in the database and save each complete trial's out-of-fold
predictions. When tuning ends, the run tells them so, adds their trials to its ensemble pool and its
leaderboard, and logs who ran how many trials (``workers`` event; the report lists them). Then the shared
rows and the workers' predictions are removed: like every run folder, it keeps summaries, not rows.
"""

from __future__ import annotations

import time
from collections import Counter

from agent.job.context import RunContext
from tools.crossval import CVResult, TrainingData
from tools.ensemble import Pool
from tools.metrics import Metric
from tools.storage import open_study, worker_name
from tools.tuneshare import SHARE, load_results, unshare, write_clock, write_share


class Fanout:
    """Shares one run's tuning with workers: `start` before tuning, `tick` after each trial, `finish` at the end."""

    def __init__(self, ctx: RunContext, shares: dict[str, float]) -> None:
        self.ctx = ctx
        self.folder = ctx.run_dir / SHARE
        self.active = dict(shares)
        self.candidates = sorted(shares)
        self._written = 0.0

    @classmethod
    def start(cls, ctx: RunContext, data: TrainingData, metric: Metric, shares: dict[str, float]) -> Fanout:
        fan = cls(ctx, shares)
        # The clock is written once the studies exist (`tick` from tune's on_ready): workers wait for it.
        write_share(fan.folder, data, {"run_id": ctx.run_id, "metric": metric.name, "direction": metric.direction,
                                       "prefix": ctx.run_id, "candidates": sorted(shares)})
        ctx.events.emit("tuning_shared", step="tune", folder=str(fan.folder), candidates=sorted(shares),
                        command=f"mlpilot worker {ctx.run_dir} --storage URL")
        return fan

    def tick(self, due: float, active: dict[str, float] | None = None, *, force: bool = False) -> None:
        """Tell workers the current deadline (``due``: `time.monotonic()`) and active candidates; at most
        once a second, since the deadline moves a little after every trial."""
        if active is not None:
            self.active = dict(active)
        now = time.monotonic()
        if force or active is not None or now - self._written >= 1.0:
            write_clock(self.folder, deadline=time.time() + (due - now), active=self.active)
            self._written = now

    def finish(self, pool: Pool, results: dict[str, CVResult], metric: Metric) -> dict[str, int]:
        """Stop the workers, take in their trials, and log who ran how many; returns trials per worker."""
        write_clock(self.folder, deadline=time.time(), active={}, done=True)
        taken = 0
        for name, (_worker, cv) in load_results(self.folder).items():
            if pool.offer(name, cv, metric):
                taken += 1
            best = results.get(cv.candidate)
            if cv.complete and (best is None or not best.complete or metric.better(cv.mean, best.mean)):
                results[cv.candidate] = cv
        counts: Counter[str] = Counter()
        for candidate in self.candidates:
            study = open_study(self.ctx.settings.storage, f"tune-{candidate}", metric.direction, 0,
                               prefix=self.ctx.run_id)
            counts.update(t.user_attrs.get("worker") or "?" for t in study.trials
                          if t.user_attrs.get("source") != "selection" and t.state.is_finished())
        me = worker_name()
        self.ctx.events.emit("workers", step="tune", trials=dict(counts), coordinator=me,
                             from_workers=sum(n for w, n in counts.items() if w != me), pooled=taken)
        removed = unshare(self.folder)
        if removed:
            self.ctx.events.emit("note", step="tune", message=f"removed the shared training rows and the workers' "
                                 f"predictions from {self.folder} ({removed:,} bytes): a run folder keeps no rows")
        return dict(counts)
