"""mlpilot's agent: the graph, the policies and guard, the CLI and the report.

For notebooks::

    from agent import run
    outcome = run("data.csv", goal="predict churn; recall matters most", budget=60)
    outcome.status, outcome.metrics, outcome.run_dir
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run(data: str | Path, goal: str = "", **options: Any) -> Any:
    """Run the whole job as ``mlpilot run`` does and return its `RunOutcome` (nothing is printed).

    Args:
        data: CSV or Parquet file.
        goal: the goal in plain language.
        **options: any ``mlpilot run`` option by its long name with underscores: target, task, metric,
            budget, seed, runs_dir, max_trials, folds, keep, drop, delimiter, encoding, n_jobs.
    """
    import time

    from agent.job.runner import run_job
    from agent.settings import Settings

    # In a notebook the budget counts from this call, not from when the kernel started.
    started = time.monotonic()
    settings = Settings.from_flags({"data": str(data), "goal": goal, **options})
    return run_job(settings, started=started)


__all__ = ["run"]
