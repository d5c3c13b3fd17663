"""``mlpilot worker RUN --storage URL``: join a run's tuning from any machine that reads the run's folder.

The worker waits for the run to share its tuning (`tools.tuneshare`: training rows, folds, plan and clock
in ``RUN/tuning/``), then runs trials on the run's studies in the database until the run's deadline, each
recorded with this process as its ``worker`` (host:pid) and a heartbeat, so a worker that dies loses only
its running trial. Each complete trial's out-of-fold predictions are saved for the run's ensemble. It
reads only Parquet, NumPy arrays without pickles and JSON from the folder: nothing in it runs code. A
worker started after the run's tuning ended, or for a run that ended, says so and exits 0.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from agent.record.runfolder import read_manifest
from agent.record.runlock import effective_status
from tools.errors import ConfigError
from tools.metrics import get_metric
from tools.storage import open_storage, open_study, study_name, worker_name
from tools.tune import run_trial
from tools.tuneshare import CLOCK, SHARE, read_clock, read_share, save_result

ALIVE = ("running", "awaiting_approval")
# A trial started with less than this left would only be cut by the deadline.
LAST_START_SECONDS = 1.0


@dataclass
class WorkerOutcome:
    trials: Counter = field(default_factory=Counter)   # state -> count
    reason: str = ""


def run_worker(run_dir: Path, *, storage: str, n_jobs: int, say: Callable[[str], None],
               wait: float = 3600.0) -> WorkerOutcome:
    """Join the tuning of the run in ``run_dir`` until its deadline (see the module docstring).

    Raises:
        ConfigError: the run's studies are not in ``storage`` (another database, or the run has no --storage).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the run's own progress lines are what a person reads
    folder = run_dir / SHARE
    run_id = read_manifest(run_dir)["run_id"]
    open_storage(storage)  # an unreachable database is said now, not after the wait
    stop: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: stop.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not _wait_for_tuning(run_dir, folder, say, wait, stop):
            status = effective_status(run_dir, read_manifest(run_dir).get("status"))
            return WorkerOutcome(reason=f"the run {run_id} did not start tuning ({status.replace('_', ' ')}): "
                                        "nothing to do")
        if read_clock(folder).get("done"):  # the run took in its workers' results and removed the shared rows
            return WorkerOutcome(reason="the run's tuning has ended")
        data, info = read_share(folder)
        metric = get_metric(info["metric"])
        me = worker_name()
        names = list(info["candidates"])
        existing = set(optuna.get_all_study_names(open_storage(storage)))
        missing = [n for n in names if study_name(f"tune-{n}", run_id) not in existing]
        if missing:
            raise ConfigError(f"The studies of run {run_id} are not in this database ({', '.join(missing)} missing): "
                              "give --storage the URL the run was started with.")
        studies = {name: open_study(storage, f"tune-{name}", info["direction"], random.randrange(2**31),
                                    prefix=run_id) for name in names}
        outcome = WorkerOutcome()
        say(f"joined run {run_id}: {len(data.y):,} rows, {len(data.folds)} folds, candidates {', '.join(names)}")
        chooser = random.Random(me)
        ended = _Ended(folder)
        took: list[float] = []
        while not stop:
            clock = read_clock(folder)
            left = clock["deadline"] - time.time()
            active = {n: s for n, s in clock.get("active", {}).items() if n in studies and s > 0}
            # A trial that cannot end before the deadline would only be cut: judged by this worker's own trials.
            typical = sorted(took)[len(took) // 2] if took else 0.0
            if clock.get("done") or left < max(LAST_START_SECONDS, 0.8 * typical) or not active:
                outcome.reason = "the run's tuning has ended" if clock.get("done") else "the run's deadline came"
                break
            name = chooser.choices(list(active), weights=list(active.values()))[0]
            ends = time.monotonic() + left
            record, cv = run_trial(studies[name], name, data, metric, ends, lambda: bool(stop) or ended(), n_jobs,
                                   storage)
            outcome.trials[record.state] += 1
            took.append(record.seconds)
            # Once the run has closed its tuning it has taken in the workers' results: a later one is not saved.
            if cv is not None and not ended(now=True):
                save_result(folder, me, f"{name}#{record.number}", cv)
            value = f" {metric.name} {record.value:.4f}" if record.value is not None else f" ({record.note})"
            say(f"trial {name}#{record.number}: {record.state}{value}, {record.seconds:.1f} s")
        if stop:
            outcome.reason = "stopped by a signal"
        return outcome
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Ended:
    """Whether the run has closed its tuning (``clock.json`` says done), read at most once a second: a
    worker's trial polls it between folds and stops there."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.read_at = 0.0
        self.done = False

    def __call__(self, *, now: bool = False) -> bool:
        if not self.done and (now or time.monotonic() - self.read_at >= 1.0):
            self.read_at = time.monotonic()
            try:
                self.done = bool(read_clock(self.folder).get("done"))
            except (OSError, ValueError):
                pass
        return self.done


def _wait_for_tuning(run_dir: Path, folder: Path, say: Callable[[str], None], wait: float, stop: list[int]) -> bool:
    """Whether the run shared its tuning (waiting while it is alive, up to ``wait`` seconds)."""
    told = False
    until = time.monotonic() + wait
    while not stop and time.monotonic() < until:
        if (folder / CLOCK).exists():
            return True
        status = effective_status(run_dir, read_manifest(run_dir).get("status"))
        if status not in ALIVE:
            return False
        if not told:
            say(f"waiting for the run {run_dir.name} to start tuning ({status.replace('_', ' ')})")
            told = True
        time.sleep(0.5)
    return False
