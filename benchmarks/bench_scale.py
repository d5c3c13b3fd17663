"""Does every table get a model within the wall? `mlpilot run` on a tall and a wide synthetic table.

Run from the repository root (the tables are written once under benchmarks/results/, ~1 GB, ~20 s):

    .venv/bin/python benchmarks/bench_scale.py [--only tall_1m_x_50] [--runs-dir DIR] [--keep]

Each case runs the CLI as a user would (`python -m agent.cli run FILE --target target --budget B --json
--quiet`), one after another, nothing else in parallel. Printed per case: the wall time against the
hard wall (budget x 1.1 + 10 s), the process's peak resident memory (from `wait4`), exit code and
status, whether a model was saved and when the first one was (seconds on the run's clock and as a
share of the budget; on these files the quick look's, from the file's first rows) and when the first one
fitted on all the data was, rows behind the final model, and the holdout ROC AUC against the first model's.
The rows also go to benchmarks/results/bench-scale-<stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_data import RESULTS, ensure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CASES = [("tall_1m_x_50", 60.0), ("wide_50k_x_2000", 30.0)]


def run_case(name: str, budget: float, runs_dir: Path) -> dict:
    data = ensure(name)
    command = [sys.executable, "-m", "agent.cli", "run", str(data), "--target", "target", "--budget", f"{budget:g}",
               "--json", "--quiet", "--runs-dir", str(runs_dir)]
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read(), proc.stderr.read()
    row = {"table": name, "budget": budget, "wall": round(wall, 1), "limit": round(budget * 1.1 + 10, 1),
           "peak_mb": round(usage.ru_maxrss / 1024), "exit": proc.returncode, "stderr": err[-800:]}
    try:
        summary = json.loads(out)
    except json.JSONDecodeError:
        return {**row, "status": "no summary"}
    run_dir = Path(summary["run_dir"])
    log = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]
    saved = [e for e in log if e["kind"] == "model_saved"]
    holdouts = [e for e in log if e["kind"] == "holdout_metrics"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    first_t = saved[0]["t"] if saved else None
    on_all = next((e["t"] for e in saved if e["step"] != "quick_look"), None)
    row.update(status=summary["status"], model=bool(summary.get("model_file")), final=summary.get("model"),
               fitted_on=manifest.get("model", {}).get("fitted_on"), elapsed=summary.get("elapsed_seconds"),
               first_model_at=first_t, first_model_share=round(first_t / budget, 3) if first_t else None,
               roc_auc=summary.get("metrics", {}).get("roc_auc"),
               first_on_all_data_at=on_all, quick_look=bool(saved) and saved[0]["step"] == "quick_look",
               first_roc_auc=holdouts[0]["metrics"].get("roc_auc") if holdouts else None,
               time_spent=manifest.get("time_plan", {}).get("spent"))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="one table: " + ", ".join(n for n, _ in CASES))
    parser.add_argument("--runs-dir", type=Path, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary runs folder")
    args = parser.parse_args()
    runs_dir = args.runs_dir or Path(tempfile.mkdtemp(prefix="mlpilot-scale-"))
    rows = []
    for name, budget in CASES:
        if args.only and name != args.only:
            continue
        row = run_case(name, budget, runs_dir)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "stderr"}), flush=True)
    print("\n| table | budget | wall (limit) | peak memory | exit | status | model | first model at | on all data at "
          "| final model | ROC AUC (first) |")
    print("| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | --- | ---: |")
    for r in rows:
        first = f"{r.get('first_model_at') or 0:.1f} s ({(r.get('first_model_share') or 0):.0%})" + \
            (" quick look" if r.get("quick_look") else "")
        on_all = f"{r['first_on_all_data_at']:.1f} s" if r.get("first_on_all_data_at") else "-"
        print(f"| {r['table']} | {r['budget']:g} s | {r['wall']} s ({r['limit']} s) | {r['peak_mb']:,} MB "
              f"| {r['exit']} "
              f"| {r.get('status')} | {'yes' if r.get('model') else 'no'} | {first} | {on_all} | {r.get('final')} on "
              f"{r.get('fitted_on')} | {r.get('roc_auc')} ({r.get('first_roc_auc')}) |")
    ok = all(r.get("model") and r["wall"] <= r["limit"] for r in rows)
    print(f"\nevery table got a model within budget x 1.1 + 10 s: {'yes' if ok else 'NO'}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"rows: {out}")
    if not args.runs_dir and not args.keep:
        shutil.rmtree(runs_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
