"""What every worker of a local Dask cluster sets up when it starts (a worker plugin: restarted workers get
it too).

Its own module, imported only once a cluster is in use: it needs ``distributed``, an optional extra.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from distributed import WorkerPlugin


class QuietStdout(WorkerPlugin):
    """A local worker's stdout is the run's own (``mlpilot run --json`` prints its summary there), and
    LightGBM's native network set-up prints to it whatever ``verbose`` says: its log callback is per
    thread, and Dask fits in a thread of its own. So the worker's stdout goes to the null device; its own
    log is on stderr."""

    name = "mlpilot-quiet-stdout"

    def setup(self, worker: Any) -> None:
        sys.stdout.flush()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
