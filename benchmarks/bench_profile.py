"""Time and peak memory of `profile_frame` on a 1,000,000 x 50 frame shaped like intake's output.

Run: `python benchmarks/bench_profile.py [--rows N]`. Prints the build time, the profiling time (with a
target) and the peak memory Python allocated while profiling (tracemalloc; numpy and pandas report their
buffers to it), plus the process's peak resident size.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.profile import profile_frame  # noqa: E402


def build_frame(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """30 floats (some NaN), 8 ints, 6 low-cardinality strings, 2 string ids, 2 datetimes, 2 booleans."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for i in range(30):
        x = rng.normal(loc=i, scale=1 + i, size=n_rows)
        x[rng.random(n_rows) < 0.02 * (i % 5)] = np.nan
        data[f"f{i}"] = x
    for i in range(8):
        data[f"i{i}"] = rng.integers(0, 10 ** (i % 4 + 1), size=n_rows)
    data["i0"] = np.arange(n_rows)  # a row counter, to exercise the id-like check
    levels = [f"level_{k}" for k in range(40)]
    for i in range(6):
        data[f"c{i}"] = pd.Series(rng.choice(levels[: 3 + 7 * i], size=n_rows), dtype="str")
    for i in range(2):
        ids = rng.permutation(n_rows)
        data[f"id{i}"] = pd.Series([f"cust-{k:09d}" for k in ids], dtype="str")
    start = np.datetime64("2020-01-01T00:00:00", "s").astype("int64")
    for i in range(2):
        data[f"d{i}"] = pd.to_datetime(start + rng.integers(0, 3 * 365 * 86400, n_rows), unit="s")
    for i in range(2):
        b = pd.array(rng.random(n_rows) < 0.3, dtype="boolean")
        b[rng.random(n_rows) < 0.01] = pd.NA
        data[f"b{i}"] = b
    data["target"] = (rng.random(n_rows) < 0.2).astype("int64")
    return pd.DataFrame(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    t0 = time.perf_counter()
    frame = build_frame(args.rows)
    built = time.perf_counter() - t0
    print(f"built {frame.shape[0]:,} x {frame.shape[1]} in {built:.1f} s, "
          f"{frame.memory_usage(deep=True).sum() / 1e6:,.0f} MB")

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        profile = profile_frame(frame, target="target")
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    profile_frame(frame, target="target")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"profile_frame: {min(times):.2f} s (best of {len(times)}; all: "
          f"{', '.join(f'{t:.2f}' for t in times)})")
    print(f"peak memory allocated while profiling: {peak / 1e6:,.0f} MB (tracemalloc); "
          f"process peak RSS {rss_mb:,.0f} MB")
    print(f"duplicate rows {profile.duplicate_rows}, id-like: "
          f"{[c.name for c in profile.columns if c.id_like]}")


if __name__ == "__main__":
    main()
