"""Big tables on Dask: the cluster, reading a file as a Dask DataFrame, marking the holdout, drawing the
in-memory sample, and the profile of every row.

A run with ``--dask`` never holds the whole table in one process. It reads the file once into an
in-memory sample (`draw_sample`), on which it plans, selects and tunes as any run does; the final
LightGBM then learns from every training row on the cluster (`tools.bigfit`). Which rows are held out
is fixed per row, not per sample: a seeded generator per partition (`row_marks`) gives each row a
uniform number, the rows below the holdout share are the holdout, and the sample is drawn from the
rest of the numbers. So the sample's holdout rows are exactly rows that the full-data fit never sees,
and both models can be compared on them.

CSV files are read as text and typed per partition with `tools.conform.conform` against the schema that
intake gave the sample, the very code `mlpilot predict` uses on new data, so the full data is typed as
the model will see data in use. Parquet keeps its own types and is conformed the same way.

Dask is optional (``pip install mlpilot[dask]``): nothing here imports it until a cluster is asked for.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tools.conform import conform
from tools.errors import ConfigError, DataError
from tools.intake import Table, read_head_table

EXTRA = "pip install 'mlpilot[dask]'"
# Rows per CSV partition: ~64 MB of text, the size Dask's documentation suggests for a partition.
BLOCKSIZE = "64MB"
HOLDOUT_SHARE = 0.2
# The in-memory sample: about this many values (rows x columns) when nothing else is asked for, enough to
# tune on (250,000 rows of 40 columns) and a few hundred MB in memory at most.
SAMPLE_CELLS = 10_000_000
MIN_SAMPLE_ROWS = 5_000
CONNECT_SECONDS = 10
MARK = "__mlpilot_holdout__"
# Arrow's default allocator (mimalloc) keeps what it freed: reading four 40 MB row groups left a worker at
# 427 MB against 189 MB with the system allocator, and the memory limit counts what a process holds.
WORKER_ENV = {"ARROW_DEFAULT_MEMORY_POOL": "system"}

_clients: dict[str, Any] = {}


def require_dask() -> None:
    """Raises ConfigError naming the extra when Dask (or its distributed scheduler) is not installed."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"--dask needs Dask, which is not installed ({exc.name or exc}). Install the extra: "
                          f"{EXTRA}") from None


def check_address(address: str) -> str:
    """``local`` or a scheduler address (``tcp://host:8786``, ``tls://...``); raises ConfigError otherwise."""
    text = address.strip()
    if text == "local" or (text.split("://", 1)[0] in ("tcp", "tls", "ucx", "inproc") and "://" in text):
        return text
    raise ConfigError(f"--dask must be 'local' (a cluster on this machine) or a scheduler address such as "
                      f"tcp://scheduler:8786; got {address!r}.")


def open_client(address: str, *, workers: int | None = None, memory: str | None = None) -> Any:
    """A Dask client for ``address`` (one per address per process, reused): ``local`` starts a
    `LocalCluster` of ``workers`` processes of one thread each, each limited to ``memory`` (e.g. "2GB").

    Raises:
        ConfigError: Dask is missing, or the scheduler cannot be reached within a few seconds.
    """
    address = check_address(address)
    key = f"{address}|{workers}|{memory}"
    if key in _clients:
        return _clients[key]
    require_dask()
    from distributed import Client, LocalCluster

    try:
        if address == "local":
            import dask

            # No spilling to disk: nothing is kept on the workers between steps, and what LightGBM keeps
            # there (its open sockets) cannot be written to disk; the limit still ends a runaway worker.
            with dask.config.set({"distributed.worker.memory.target": False,
                                  "distributed.worker.memory.spill": False}):
                cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                                       memory_limit=memory or "auto", dashboard_address=None,
                                       silence_logs=logging.ERROR, env=WORKER_ENV)
            client = Client(cluster)
            from tools.bigplugin import QuietStdout

            client.register_plugin(QuietStdout())
        else:
            client = Client(address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"The Dask scheduler at {address} could not be reached ({exc}). Start it with "
                          "`dask scheduler` (and workers with `dask worker ADDRESS`), or use --dask local.") from None
    except ValueError as exc:  # a memory limit Dask cannot parse
        raise ConfigError(f"--dask-memory {memory!r} is not a size Dask understands ({exc}); give e.g. 2GB.") from None
    _clients[key] = client
    return client


def close_clients() -> None:
    """Close every client this process opened (and the local clusters they started)."""
    for client in list(_clients.values()):
        cluster = getattr(client, "cluster", None)
        try:
            client.close()
            if cluster is not None:
                cluster.close()
        except Exception:  # closing is best effort: the process is ending
            pass
    _clients.clear()


def cluster_facts(client: Any) -> dict:
    """Workers, their threads and memory limits, as the scheduler reports them."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    return {"address": client.scheduler.address, "workers": len(workers),
            "threads": sum(int(w.get("nthreads", 1)) for w in workers.values()),
            "memory_limit_per_worker": max((int(w.get("memory_limit") or 0) for w in workers.values()), default=0)}


def read_frame(path: Path, *, file_format: str, delimiter: str | None, encoding: str | None,
               names: list[str], min_partitions: int = 1) -> Any:
    """The file as a Dask DataFrame, CSV as text (typed later by `conform`), with intake's column names."""
    import dask.dataframe as dd

    try:
        if file_format == "parquet":
            # A partition per row group, up to the same ~64 MB (Dask's default merges them to 256 MB, and
            # one worker must hold a partition several times over while typing and cleaning it).
            ddf = dd.read_parquet(str(path), blocksize=BLOCKSIZE)
        else:
            ddf = dd.read_csv(str(path), sep=delimiter or ",", encoding=encoding or "utf-8", dtype=str,
                              blocksize=BLOCKSIZE, keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as exc:
        raise DataError(f"'{path.name}' could not be read with Dask ({exc}).") from None
    if ddf.npartitions < min_partitions:  # every worker should hold some rows, even of a small file
        ddf = ddf.repartition(npartitions=min_partitions)
    if len(ddf.columns) != len(names):
        raise DataError(f"'{path.name}' has {len(ddf.columns)} columns when read with Dask but {len(names)} when "
                        "read by mlpilot; check --delimiter.")
    return ddf.rename(columns=dict(zip(ddf.columns, names)))


def open_frame(path: Path, *, delimiter: str | None, encoding: str | None, cells: int,
               min_partitions: int = 1) -> tuple[Table, Any]:
    """The file's first rows as intake reads them (about ``cells`` values: its delimiter, encoding, column
    names and types), and the whole file as a Dask DataFrame read with that delimiter, encoding and names."""
    head = read_head_table(path, cells=cells, delimiter=delimiter, encoding=encoding)
    frame = read_frame(Path(path), file_format=head.file_format, delimiter=head.delimiter, encoding=head.encoding,
                       names=[str(c) for c in head.frame.columns], min_partitions=min_partitions)
    return head, frame


def estimate_rows(path: Path, file_format: str, head_rows: int) -> int:
    """Rows in the file: exact for Parquet (its footer says), from the bytes per line of its first
    ``head_rows`` lines for CSV."""
    if file_format == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    size, lines = 0, 0
    with path.open("rb") as handle:
        for line in handle:
            size += len(line)
            lines += 1
            if lines > head_rows:
                break
    per_line = size / max(lines, 1)
    return max(head_rows, int(path.stat().st_size / max(per_line, 1.0)) - 1)


def sample_rows_for(n_rows: int, n_columns: int, asked: int | None) -> int:
    """Rows for the in-memory sample: as asked, else about `SAMPLE_CELLS` values; never more than the table."""
    if asked:
        return min(n_rows, asked)
    return min(n_rows, max(MIN_SAMPLE_ROWS, SAMPLE_CELLS // max(n_columns, 1)))


def row_marks(n: int, number: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two uniform numbers per row of partition ``number``: the first decides the holdout, the second the
    sample; seeded per partition, so every pass over the data gives each row the same numbers."""
    rng = np.random.default_rng([seed, number])
    return rng.random(n), rng.random(n)


def _sample_part(part: pd.DataFrame, fraction: float, seed: int, partition_info: dict | None = None) -> pd.DataFrame:
    hold, pick = row_marks(len(part), (partition_info or {}).get("number", 0), seed)
    chosen = pick < fraction
    return part.loc[chosen].assign(**{MARK: hold[chosen] < HOLDOUT_SHARE})


def _train_part(part: pd.DataFrame, seed: int, partition_info: dict | None = None) -> pd.DataFrame:
    hold, _ = row_marks(len(part), (partition_info or {}).get("number", 0), seed)
    return part.loc[hold >= HOLDOUT_SHARE]


def killed_workers(what: str, path: Path, exc: BaseException) -> ConfigError:
    """The error for workers that died on the data (almost always their memory limit), saying what to do."""
    return ConfigError(f"Dask workers died while {what} '{path.name}' ({type(exc).__name__}), most likely out of "
                       "memory: a partition must fit in a worker several times over. Give each worker more memory "
                       "(--dask-memory), or write the file in smaller pieces (Parquet row groups, or CSV).")


def draw_sample(ddf: Any, fraction: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A uniform sample of about ``fraction`` of the rows into memory, and which of them are holdout rows."""
    meta = ddf._meta.assign(**{MARK: pd.Series(dtype=bool)})
    frame = ddf.map_partitions(_sample_part, min(1.0, fraction), seed, meta=meta).compute()
    holdout = frame.pop(MARK).to_numpy(dtype=bool)
    return frame.reset_index(drop=True), holdout


def training_part(ddf: Any, seed: int) -> Any:
    """The rows that are not held out (every one of them, lazily)."""
    return ddf.map_partitions(_train_part, seed, meta=ddf._meta)


def _typed(part: pd.DataFrame, schema: list[dict], required: list[str]) -> pd.DataFrame:
    frame, _ = conform(part, schema, required=required)
    return frame


def typed_frame(ddf: Any, schema: list[dict], sample: pd.DataFrame) -> Any:
    """Each partition conformed to the sample's schema (``sample``: the typed in-memory sample, whose empty
    slice is the result's meta)."""
    required = [str(c["name"]) for c in schema]
    return ddf.map_partitions(_typed, schema, required, meta=sample.iloc[:0])


@dataclass
class BigProfile:
    """What Dask measured on every row: counts, missing values, and per numeric column its range and mean."""

    rows: int
    partitions: int
    seconds: float
    missing: dict[str, int] = field(default_factory=dict)
    numeric: dict[str, dict] = field(default_factory=dict)
    distinct: dict[str, int] = field(default_factory=dict)
    lengths: list[int] = field(default_factory=list)  # rows per partition, in order

    def training_rows(self, seed: int) -> int:
        """Rows of the training part (not held out), from the marks alone: no pass over the data."""
        return sum(int((row_marks(n, i, seed)[0] >= HOLDOUT_SHARE).sum()) for i, n in enumerate(self.lengths))

    def to_dict(self) -> dict:
        return {"rows": self.rows, "partitions": self.partitions, "seconds": round(self.seconds, 2),
                "missing": self.missing, "numeric": self.numeric, "distinct": self.distinct}


def profile_big(typed: Any, *, distinct_columns: list[str]) -> BigProfile:
    """Rows, missing values per column, min / max / mean / sd of numeric columns and the approximate
    number of distinct values of ``distinct_columns`` (HyperLogLog), in one pass over the data."""
    import dask

    start = time.monotonic()
    numeric = [c for c in typed.columns if pd.api.types.is_numeric_dtype(typed._meta[c])
               and not pd.api.types.is_bool_dtype(typed._meta[c])]
    tasks: dict[str, Any] = {"lengths": typed.map_partitions(len), "missing": typed.isna().sum()}
    if numeric:
        num = typed[numeric]
        tasks.update(min=num.min(), max=num.max(), mean=num.mean(), std=num.std())
    for c in distinct_columns:
        tasks[f"distinct:{c}"] = typed[c].nunique_approx()
    (done,) = dask.compute(tasks)
    stats = {c: {k: _number(done[k][c]) for k in ("min", "max", "mean", "std")} for c in numeric}
    lengths = [int(n) for n in done["lengths"]]
    return BigProfile(sum(lengths), typed.npartitions, time.monotonic() - start,
                      {str(c): int(v) for c, v in done["missing"].items()}, stats,
                      {c: int(done[f"distinct:{c}"]) for c in distinct_columns}, lengths)


def _number(value: Any) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None
