"""Synthetic tables for the scale benchmark: a tall one (1,000,000 x 50, mixed numeric and categorical)
and a wide one (50,000 x 2,000 numbers), each with a binary target that a model can learn but not
perfectly. Written once as CSV under benchmarks/results/ (git-ignored) and reused.

Run `python benchmarks/scale_data.py [--out DIR]` to write both; `bench_scale.py` calls `ensure`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

RESULTS = Path(__file__).resolve().parent / "results"


def tall(n_rows: int = 1_000_000, seed: int = 0) -> pa.Table:
    """35 floats (some missing), 3 integers, 11 text categories (3 to 200 levels), 1 yes/no flag."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    logit = np.full(n_rows, -1.2)
    for i in range(35):
        x = rng.normal(size=n_rows)
        if i < 8:
            logit += (0.9 / (i + 1)) * (x if i % 2 else np.tanh(2 * x))
        values = np.round(x * (1 + i) + i, 4)
        mask = rng.random(n_rows) < 0.01 * (i % 4)
        columns[f"num_{i}"] = pa.array(values, mask=mask)
    for i in range(3):
        columns[f"count_{i}"] = pa.array(rng.poisson(2 + 3 * i, size=n_rows))
    logit += 0.15 * (columns["count_0"].to_numpy() > 3)
    for i in range(11):
        n_levels = [3, 5, 8, 12, 20, 30, 45, 60, 90, 140, 200][i]
        codes = rng.integers(0, n_levels, size=n_rows)
        if i < 4:
            effects = rng.normal(scale=0.6, size=n_levels)
            logit += effects[codes]
        levels = np.array([f"c{i}_level_{k}" for k in range(n_levels)], dtype=object)
        columns[f"cat_{i}"] = pa.array(levels[codes])
    flag = rng.random(n_rows) < 0.4
    logit += 0.4 * flag
    columns["flag"] = pa.array(np.where(flag, "yes", "no"))
    columns["target"] = pa.array((rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int64))
    return pa.table(columns)


def wide(n_rows: int = 50_000, n_features: int = 1_999, seed: int = 1) -> pa.Table:
    """``n_features`` float columns, 20 of them informative, and a binary target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features)).astype(np.float32)
    weights = np.zeros(n_features)
    informative = rng.choice(n_features, size=20, replace=False)
    weights[informative] = rng.normal(scale=0.8, size=20)
    logit = X.astype(np.float64) @ weights + 0.5 * np.sin(3 * X[:, informative[0]])
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    columns = {f"x{j}": pa.array(np.round(X[:, j], 3)) for j in range(n_features)}
    columns["target"] = pa.array(y)
    return pa.table(columns)


TABLES = {"tall_1m_x_50": tall, "wide_50k_x_2000": wide}


def ensure(name: str, out: Path = RESULTS) -> Path:
    """The CSV of table ``name``, written first if it is not there yet."""
    path = out / f"{name}.csv"
    if path.exists():
        return path
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    table = TABLES[name]()
    tmp = path.with_suffix(".csv.tmp")
    pacsv.write_csv(table, tmp)
    tmp.replace(path)
    print(f"wrote {path} ({table.num_rows:,} x {table.num_columns}, {path.stat().st_size / 1e6:,.0f} MB) in "
          f"{time.monotonic() - start:.1f} s", flush=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    for name in TABLES:
        print(ensure(name, args.out))


if __name__ == "__main__":
    main()
