"""What every Dask worker of a run sets up when it starts (a worker plugin: restarted workers get it too).

Its own module, imported only once a cluster is in use: it needs ``distributed``, an optional extra.
"""

from __future__ import annotations

import logging
from typing import Any

import lightgbm as lgb
from distributed import WorkerPlugin


class QuietLightGBM(WorkerPlugin):
    """On every worker, including one restarted later: LightGBM's native log (its network set-up, printed
    to the process's stdout whatever ``verbose`` says, which is the run's own stdout on a local cluster)
    goes to a silent logger instead."""

    name = "mlpilot-quiet-lightgbm"

    def setup(self, worker: Any) -> None:
        logger = logging.getLogger("mlpilot.lightgbm")
        logger.propagate = False
        logger.setLevel(logging.ERROR)
        lgb.register_logger(logger)
