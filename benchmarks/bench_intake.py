"""Time `tools.intake.read_table` against a plain `pd.read_csv` on a large mixed-type CSV.

Generates a 1,000,000-row x 50-column file (30 floats, 8 integers, 6 low-cardinality strings, 2 yes/no
columns, 2 datetime columns, 1 numbers-stored-as-text column with "$" and thousands separators, 1 free
text column with a few NA tokens) in a temporary folder, then reads it both ways and prints the times.

    /work/.venv/bin/python benchmarks/bench_intake.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.intake import read_table  # noqa: E402


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i in range(30):
        values = rng.normal(100, 30, rows).round(3)
        values[rng.random(rows) < 0.02] = np.nan  # a few gaps, as in real data
        cols[f"f{i}"] = values
    for i in range(8):
        cols[f"i{i}"] = rng.integers(0, 10_000, rows)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"])
    for i in range(6):
        cols[f"c{i}"] = words[rng.integers(0, len(words), rows)]
    for i in range(2):
        cols[f"b{i}"] = np.where(rng.random(rows) < 0.3, "yes", "no")
    start = np.datetime64("2020-01-01T00:00:00")
    for i in range(2):
        stamps = start + rng.integers(0, 3 * 365 * 86400, rows).astype("timedelta64[s]")
        cols[f"d{i}"] = np.datetime_as_string(stamps, unit="s")
    cols["price"] = np.char.add("$", np.char.mod("%.2f", rng.uniform(0, 999, rows)))
    free = np.char.add("item ", rng.integers(0, 50_000, rows).astype(str))
    free[rng.random(rows) < 0.01] = "N/A"
    cols["label"] = free
    return pd.DataFrame(cols)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    # pyarrow writes a million rows in a couple of seconds; DataFrame.to_csv takes much longer.
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.set_column(
        table.schema.get_field_index("d0"), "d0", pa.array(frame["d0"].str.replace("T", " ", regex=False))
    )
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        t0 = time.perf_counter()
        write_csv(make_frame(args.rows), path)
        print(f"generated {path.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows x 50 columns "
              f"in {time.perf_counter() - t0:.1f} s")
        plain, ours = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            raw = pd.read_csv(path)
            plain.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            table = read_table(path)
            ours.append(time.perf_counter() - t0)
        print(f"pd.read_csv:  {min(plain):.2f} s (best of {args.repeat})")
        print(f"read_table:   {min(ours):.2f} s (best of {args.repeat})  ratio {min(ours) / min(plain):.2f}x")
        kinds = pd.Series([c.kind for c in table.columns]).value_counts().to_dict()
        print(f"read_table kinds: {kinds}; plain read_csv dtypes: {raw.dtypes.astype(str).value_counts().to_dict()}")


if __name__ == "__main__":
    main()
