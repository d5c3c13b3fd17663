"""A table bigger than any one worker's memory, trained through ``mlpilot run --dask local``.

Run from the repository root (needs ``pip install -e .[dask]``; about 2 GB of disk for the table):

    .venv/bin/python benchmarks/bench_dask.py [--rows 10000000] [--memory 1.5GB] [--workers 2] [--budget 600]

It writes a 10,000,000 x 20 Parquet table once (17 numeric columns, two categorical ones, a yes/no target
from a non-linear rule plus noise; seeded, so the same file every time; kept in ``--cache``), then runs
what a user would: ``python -m agent.cli run TABLE --target churned --dask local --dask-workers W
--dask-memory M --budget B --seed 42 --json`` in a fresh runs folder, with each worker's memory limit below
the table's size in memory. While it runs, the benchmark samples every process of the run's tree (the
mlpilot process, the Dask scheduler in it, each nanny and worker) every 0.25 s and keeps each one's peak
resident memory.

It prints and saves (``benchmarks/results/bench-dask-<stamp>.json`` and ``.md``): the table's size on disk
and in memory, wall seconds, the run's status, peak memory per process, the time per step (events.jsonl),
the sample size, the rows the final LightGBM learned from and its rounds and seconds, which model was kept
and the holdout score (ROC AUC and the others), and the in-memory model's holdout score it was compared with.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CHUNK = 250_000
LEVELS = [f"region_{i:02d}" for i in range(26)]
PLANS = ["basic", "plus", "family", "business", "student"]


def make_table(path: Path, rows: int, seed: int = 0) -> None:
    """The benchmark's table, written in row groups so it never sits whole in memory."""
    rng = np.random.default_rng(seed)
    region_effect = rng.normal(0, 0.6, len(LEVELS))
    plan_effect = np.array([0.0, -0.4, 0.3, -0.8, 0.5])
    tmp = path.with_suffix(".tmp")
    writer = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        x = rng.normal(size=(n, 17))
        x[:, 5] = x[:, 4] * 0.8 + x[:, 5] * 0.6  # correlated columns, as real tables have
        region = rng.integers(0, len(LEVELS), n)
        plan = rng.integers(0, len(PLANS), n)
        logit = (1.5 * np.sin(x[:, 0]) + x[:, 1] * x[:, 2] + 0.7 * x[:, 3] - 0.5 * np.abs(x[:, 4])
                 + 0.3 * x[:, 6] ** 2 - 0.6 + region_effect[region] + plan_effect[plan] + rng.logistic(size=n))
        columns = {f"x{i + 1:02d}": x[:, i] for i in range(17)}
        missing = rng.random(n) < 0.05
        columns["x07"] = np.where(missing, np.nan, columns["x07"])
        columns["region"] = np.asarray(LEVELS, dtype=object)[region]
        columns["plan"] = np.asarray(PLANS, dtype=object)[plan]
        columns["churned"] = np.where(logit > 0, "yes", "no")
        table = pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)
        writer = writer or pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table)
    writer.close()
    os.replace(tmp, path)


def _watch(root: psutil.Process, peaks: dict[int, dict], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for p in procs:
            try:
                rss = p.memory_info().rss
                line = " ".join(p.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            seen = peaks.setdefault(p.pid, {"peak": 0, "role": _role(p.pid == root.pid, line)})
            seen["peak"] = max(seen["peak"], rss)
        stop.wait(0.25)


def _role(is_root: bool, line: str) -> str:
    if is_root:
        return "mlpilot run (client, scheduler, in-memory tuning)"
    if "multiprocessing.spawn" in line or "spawn_main" in line:
        return "Dask worker"
    if "resource_tracker" in line:
        return "resource tracker"
    return "child: " + line[:60]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory", default="1.5GB", help="memory limit per Dask worker")
    ap.add_argument("--budget", type=float, default=600)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "mlpilot-bench-dask")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    data = args.cache / f"churn-{args.rows}.parquet"
    if not data.exists():
        began = time.monotonic()
        make_table(data, args.rows)
        print(f"wrote {data} in {time.monotonic() - began:.0f} s", flush=True)
    parquet = pq.ParquetFile(data)
    # The table in pandas, measured on its first row group (all are alike) and scaled to every row.
    first = parquet.read_row_group(0).to_pandas()
    in_memory = int(first.memory_usage(deep=True).sum() * args.rows / len(first))
    print(f"table: {args.rows:,} x 20, {data.stat().st_size / 1e9:.2f} GB on disk, {in_memory / 1e9:.2f} GB in "
          f"memory (pandas); {args.workers} workers of {args.memory} each", flush=True)
    runs = Path(tempfile.mkdtemp(prefix="bench-dask-runs-"))
    env = {**os.environ, "MLPILOT_RUNS_DIR": str(runs)}
    command = [sys.executable, "-m", "agent.cli", "run", str(data), "--target", "churned", "--goal",
               "predict who churns", "--dask", "local", "--dask-workers", str(args.workers), "--dask-memory",
               args.memory, "--budget", str(args.budget), "--seed", "42", "--json"]
    began = time.monotonic()
    with open(runs / "stderr.txt", "w") as err:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        peaks: dict[int, dict] = {}
        stop = threading.Event()
        watcher = threading.Thread(target=_watch, args=(psutil.Process(proc.pid), peaks, stop), daemon=True)
        watcher.start()
        out, _ = proc.communicate()
        stop.set()
        watcher.join()
    wall = time.monotonic() - began
    (runs / "stdout.txt").write_text(out)
    start = out.find("\n{") + 1 if not out.startswith("{") else 0
    try:
        summary = json.loads(out[start:]) if "{" in out else {}
    except json.JSONDecodeError:
        summary = {}
    summary = summary or {"status": "no summary", "raw": out[-2000:]}
    run_dir = Path(summary.get("run_dir") or runs)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()] \
        if (run_dir / "events.jsonl").exists() else []
    first = {e["kind"]: e for e in reversed(events)}
    steps: dict[str, float] = {}
    for e in events:
        if e["kind"] == "step_finished":
            steps[e["step"]] = steps.get(e["step"], 0.0) + e["seconds"]
    decisions = {e["question"]: e for e in events if e["kind"] == "decision"}
    kept = decisions.get("full_data_model", {})
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "table": {"rows": args.rows, "columns": 20, "disk_bytes": data.stat().st_size,
                  "memory_bytes_pandas": in_memory},
        "workers": args.workers, "memory_limit_per_worker": args.memory, "budget": args.budget,
        "wall_seconds": round(wall, 1), "exit": proc.returncode, "status": summary.get("status"),
        "peak_memory": [{"pid": pid, "role": v["role"], "peak_bytes": v["peak"]} for pid, v in sorted(peaks.items())],
        "steps": steps, "dask_read": first.get("dask_read"), "dask_profile": first.get("dask_profile"),
        "dask_fit": first.get("dask_fit"), "full_data_model": kept.get("choice"),
        "compared": kept.get("evidence"), "model": summary.get("model"), "metrics": summary.get("metrics"),
        "primary": summary.get("primary_metric"), "run_dir": str(run_dir),
    }
    lines = [f"# mlpilot --dask benchmark ({dt.datetime.now():%Y-%m-%d %H:%M})", "",
             f"{args.rows:,} x 20 table ({data.stat().st_size / 1e9:.2f} GB Parquet, {in_memory / 1e9:.2f} GB "
             f"in memory as a pandas DataFrame), {args.workers} workers with {args.memory} each, "
             f"budget {args.budget:.0f} s, "
             f"{os.cpu_count()} cores.", "",
             f"- wall {wall:.1f} s, exit {proc.returncode}, status {summary.get('status')}",
             f"- model {summary.get('model')}; holdout " + ", ".join(
                 f"{k} {v:.4f}" for k, v in (summary.get("metrics") or {}).items() if isinstance(v, float)),
             ]
    if kept:
        lines.append(f"- fit on every row kept: {kept.get('choice')} ({kept.get('reason', '')[:300]})")
    if first.get("dask_fit"):
        f = first["dask_fit"]
        lines.append(f"- final LightGBM on {f['rows']:,} rows: {f['rounds']} rounds in {f['seconds']:.0f} s")
    if first.get("dask_read"):
        r = first["dask_read"]
        lines.append(f"- sample in memory: {r['sample_rows']:,} rows ({r['sample_holdout_rows']:,} held out), "
                     f"{r['partitions']} partitions")
    lines += ["", "| process | peak memory |", "| --- | ---: |"]
    lines += [f"| {v['role']} (pid {pid}) | {v['peak'] / 1e9:.2f} GB |" for pid, v in sorted(peaks.items())]
    lines += ["", "| step | seconds |", "| --- | ---: |"] + [f"| {k} | {v:.1f} |" for k, v in steps.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"bench-dask-{stamp}.json").write_text(json.dumps(result, indent=2, default=str))
    (RESULTS / f"bench-dask-{stamp}.md").write_text(text)


if __name__ == "__main__":
    main()
