"""How often `mlpilot monitor` says ok / warn / retrain: quiet on batches from the training distribution,
loud on shifted ones.

Run (from the repository root, with the Python that has mlpilot installed, because the monitor is
called in-process):

    .venv/bin/python benchmarks/bench_monitor.py [--datasets california_housing,phoneme] [--budget 20]
        [--batches 50] [--batch-rows 500] [--seed 0] [--keep]

Protocol, per dataset (names are file stems from ../shared/datasets/INDEX.json, which gives the target):
- Read the CSV with pandas (`sep=";"` for bank_marketing) and drop rows with a missing target. Shuffle with
  the seed; the last 30% of the shuffled rows are the "future", never seen in training.
- Write the other 70% to train.csv in a temporary folder and train once through the CLI, in a subprocess:
  `python -m agent.cli run train.csv --target T --budget B --seed S --quiet --json --runs-dir TMP`
  (no --task, --metric or --goal: mlpilot's defaults, as a user would get them).
- Draw `--batches` seeded random batches of `--batch-rows` rows (fewer if the future part is smaller),
  each without replacement from the future rows. The same rows of batch i are used in every scenario
  (a paired design: a difference between scenarios comes from the change, not from the rows):
  1. same_no_target: the rows as they are, without the target column;
  2. same_with_target: the rows as they are, with the target (the performance check runs too);
  3. shift_top: the most important feature according to the run's reference.json importances is
     shifted, without target. Numbers: plus one standard deviation of the training part (not "x 1.3":
     a multiplicative shift depends on where zero is, and features centred near zero barely move).
     Categories and booleans: every row of the most frequent training level moves to the second most
     frequent level. Counted: warn or retrain (detected), and whether the summary's drifted_features
     names the shifted feature;
  4. shift_least: the same shift applied to the least important feature only, without target. A
     retrain here is wrong (the model barely uses the feature); a warn is acceptable only when the
     feature still carries a noticeable weight (the verdict warns from a 5% share of importance);
  5. broken_relation: with target, the most important feature's values shuffled across the batch's
     rows. Its distribution is unchanged but its link to the target is gone, so only the performance
     check can see it. Counted: warn or retrain.
  Each batch is written to CSV and checked with `agent.use.monitor.monitor_run(run, csv, home=H, seed=S)` in this
  process; its monitoring record folder is deleted right away and the run lives in the temporary folder.
- Rates are shares of batches. Batches of one dataset overlap (they are drawn from the same future rows),
  so they are not independent: the Wilson 95% intervals in the summary are optimistic.

Summary figures: false-alarm rate = verdict != ok on same-distribution batches (scenarios 1 and 2,
separately); detection rate = warn or retrain on shift_top; wrong-retrain rate = retrain on
shift_least; broken-relation detection = warn or retrain on broken_relation.

Output: a markdown table per dataset and the summary on stdout (progress on stderr), and everything,
down to each batch's verdict, drifted features, weighted drift and performance check, in
benchmarks/results/bench-monitor-<timestamp>.json (git-ignored), rewritten after every dataset.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
# The monitor is called in-process (a subprocess per batch would spend most of its time importing).
sys.path.insert(0, str(ROOT))

DEFAULT_DATASETS = ("california_housing", "bank_marketing", "phoneme", "abalone", "wine_quality_white")
READ_OPTIONS: dict[str, dict[str, Any]] = {"bank_marketing": {"sep": ";"}}
FUTURE_SHARE = 0.30
VERDICTS = ("ok", "warn", "retrain")


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    with_target: bool


SCENARIOS = (
    Scenario("same_no_target", "same distribution, no target", False),
    Scenario("same_with_target", "same distribution, with target", True),
    Scenario("shift_top", "most important feature shifted, no target", False),
    Scenario("shift_least", "least important feature shifted, no target", False),
    Scenario("broken_relation", "most important feature shuffled, with target", True),
)


@dataclass
class Tally:
    """Verdict counts of one scenario on one dataset."""

    n: int = 0
    verdicts: Counter = field(default_factory=Counter)
    drift: int = 0
    named: int = 0          # the shifted feature is among the summary's drifted_features
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, **{v: self.verdicts.get(v, 0) for v in VERDICTS}, "drift": self.drift,
                "named": self.named, "errors": self.errors}


# ---------------------------------------------------------------------------------------------- data


def load_index(folder: Path) -> dict[str, dict]:
    entries = json.loads((folder / "INDEX.json").read_text())
    return {Path(e["file"]).stem: e for e in entries}


def read_dataset(folder: Path, name: str, entry: dict) -> pd.DataFrame:
    frame = pd.read_csv(folder / entry["file"], **READ_OPTIONS.get(name, {}))
    return frame[frame[entry["target"]].notna()].reset_index(drop=True)


def split_future(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, future): a seeded shuffle, the last FUTURE_SHARE of it kept aside."""
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = int(round(len(frame) * (1 - FUTURE_SHARE)))
    return frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(drop=True)


# ------------------------------------------------------------------------------------------- shifts


def is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def make_shift(train: pd.DataFrame, column: str, kind: str) -> tuple[Callable[[pd.Series], pd.Series], str]:
    """A function that shifts ``column`` of a batch, and a description; parameters come from the training
    part, so every batch gets the same shift."""
    values = train[column]
    if is_number(values):
        sd = float(values.std())
        return (lambda s: s + sd), f"+1 sd ({sd:.4g})"
    if kind == "datetime":
        stamps = pd.to_datetime(values, errors="coerce")
        sd = pd.Timedelta(seconds=float(stamps.astype("int64").std() / 1e9))

        def shift_dates(s: pd.Series) -> pd.Series:
            return (pd.to_datetime(s, errors="coerce") + sd).dt.strftime("%Y-%m-%d %H:%M:%S")
        return shift_dates, f"+1 sd ({sd})"
    counts = values.dropna().astype(str).value_counts()
    top = str(counts.index[0])
    # With a single level there is nowhere to move the rows: invent a level the model never saw.
    other = str(counts.index[1]) if len(counts) > 1 else "__unseen__"

    def remix(s: pd.Series) -> pd.Series:
        text = s.astype(object)
        return text.where(text.astype(str) != top, other)
    return remix, f"level '{top}' ({counts.iloc[0] / counts.sum():.0%} of rows) -> '{other}'"


def build_batch(scenario: str, rows: pd.DataFrame, target: str, top: str, least: str,
                shifts: dict[str, Callable[[pd.Series], pd.Series]], rng: np.random.Generator) -> pd.DataFrame:
    batch = rows.copy()
    if scenario == "shift_top":
        batch[top] = shifts[top](batch[top])
    elif scenario == "shift_least":
        batch[least] = shifts[least](batch[least])
    elif scenario == "broken_relation":
        batch[top] = batch[top].to_numpy()[rng.permutation(len(batch))]
    if not next(s for s in SCENARIOS if s.key == scenario).with_target:
        batch = batch.drop(columns=[target])
    return batch


# ------------------------------------------------------------------------------------------ running


def source_hash() -> str:
    """A hash of mlpilot's code: it may be edited while the benchmark runs, and the report should say so."""
    digest = hashlib.sha256()
    for folder in ("agent", "tools"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def train_run(train_csv: Path, target: str, budget: float, seed: int, runs_dir: Path) -> tuple[Path, dict, float]:
    cmd = [sys.executable, "-m", "agent.cli", "run", str(train_csv), "--target", target, "--budget", str(budget),
           "--seed", str(seed), "--quiet", "--json", "--runs-dir", str(runs_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPILOT_", "OPENAI_"))}
    start = time.monotonic()
    # The run's own wall is budget x 1.1 + 10 s; the timeout only catches a hang.
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=3 * budget + 120)
    wall = time.monotonic() - start
    try:
        out = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"mlpilot run exited {done.returncode}: {done.stderr.strip()[-600:]}") from None
    run_dir = out.get("run_dir")
    if not run_dir or not (Path(run_dir) / "reference.json").exists():
        raise RuntimeError(f"mlpilot run exited {done.returncode} without a reference: {out.get('error')}")
    path = Path(run_dir)
    return (path if path.is_absolute() else ROOT / path), out, wall


def feature_ranking(reference: dict) -> list[tuple[str, float, float]]:
    """(feature, permutation importance mean, weight) for every monitored feature, most important first;
    the weight is the share of positive importance, as the verdict uses it."""
    features = list(reference["features"])
    raw = {r["feature"]: float(r["mean"]) for r in reference.get("importances", [])}
    total = sum(max(raw.get(f, 0.0), 0.0) for f in features)
    rows = [(f, raw.get(f, 0.0), max(raw.get(f, 0.0), 0.0) / total if total > 0 else 1 / len(features))
            for f in features]
    return sorted(rows, key=lambda r: -r[1])


def bench_dataset(name: str, entry: dict, folder: Path, args: argparse.Namespace, workdir: Path,
                  monitor_run: Callable[..., Any]) -> dict[str, Any]:
    target = entry["target"]
    frame = read_dataset(folder, name, entry)
    train, future = split_future(frame, args.seed)
    data_dir = workdir / name
    data_dir.mkdir(parents=True)
    train_csv = data_dir / "train.csv"
    train.to_csv(train_csv, index=False)
    print(f"[{name}] training on {len(train):,} rows ({args.budget:g} s budget)...", file=sys.stderr, flush=True)
    run_dir, run_out, wall = train_run(train_csv, target, args.budget, args.seed, data_dir / "runs")
    reference = json.loads((run_dir / "reference.json").read_text())
    ranking = feature_ranking(reference)
    (top, top_mean, top_weight), (least, least_mean, least_weight) = ranking[0], ranking[-1]
    shifts: dict[str, Callable[[pd.Series], pd.Series]] = {}
    described: dict[str, str] = {}
    for column in (top, least):
        shifts[column], described[column] = make_shift(train, column, reference["features"][column]["kind"])

    rows_per_batch = min(args.batch_rows, len(future))
    tallies = {s.key: Tally() for s in SCENARIOS}
    batches: list[dict[str, Any]] = []
    same_drifted: Counter = Counter()      # which features drift on same-distribution batches
    started = time.monotonic()
    for i in range(args.batches):
        rng = np.random.default_rng([args.seed, i])
        rows = future.iloc[rng.choice(len(future), size=rows_per_batch, replace=False)].reset_index(drop=True)
        for scenario in SCENARIOS:
            batch = build_batch(scenario.key, rows, target, top, least, shifts, rng)
            csv = data_dir / f"batch-{scenario.key}.csv"
            batch.to_csv(csv, index=False)
            tally = tallies[scenario.key]
            tally.n += 1
            try:
                outcome = monitor_run(run_dir, csv, seed=args.seed)
            except Exception as exc:  # noqa: BLE001 - a failing batch is a finding, recorded and counted
                tally.errors += 1
                batches.append({"batch": i, "scenario": scenario.key, "error": f"{type(exc).__name__}: {exc}"})
                continue
            shutil.rmtree(outcome.record, ignore_errors=True)
            summary = outcome.summary
            drifted = [d["column"] for d in summary["drifted_features"]]
            shifted = top if scenario.key == "shift_top" else least if scenario.key == "shift_least" else None
            tally.verdicts[outcome.verdict] += 1
            tally.drift += bool(outcome.drift)
            tally.named += bool(shifted and shifted in drifted)
            if scenario.key.startswith("same_"):
                same_drifted.update(drifted + (["(predictions)"] if summary["prediction_drift"] else []))
            perf = summary.get("performance") or {}
            batches.append({"batch": i, "scenario": scenario.key, "verdict": outcome.verdict,
                            "drift": outcome.drift, "drifted": drifted,
                            "weighted_drift": summary["weighted_drift"],
                            "prediction_drift": summary["prediction_drift"],
                            "performance": {k: perf.get(k) for k in ("metric", "batch", "holdout", "difference",
                                                                      "standard_error", "significant", "lift_lost")}
                            if perf else None,
                            "reason": summary["reason"]})
        if (i + 1) % 10 == 0:
            print(f"[{name}] {i + 1}/{args.batches} batches ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr, flush=True)
    return {"dataset": name, "target": target, "task": reference["task"], "metric": reference["metric"],
            "rows": len(frame), "train_rows": len(train), "future_rows": len(future), "batch_rows": rows_per_batch,
            "train_wall_s": round(wall, 1), "model": run_out.get("model"), "run_status": run_out.get("status"),
            "holdout": (run_out.get("metrics") or {}).get(reference["metric"]),
            "top": {"feature": top, "importance": top_mean, "weight": round(top_weight, 4),
                    "kind": reference["features"][top]["kind"], "shift": described[top]},
            "least": {"feature": least, "importance": least_mean, "weight": round(least_weight, 4),
                      "kind": reference["features"][least]["kind"], "shift": described[least]},
            "monitor_wall_s": round(time.monotonic() - started, 1),
            "scenarios": {k: t.to_dict() for k, t in tallies.items()},
            "same_distribution_drift_flags": dict(same_drifted.most_common()),
            "batches": batches}


# ------------------------------------------------------------------------------------------ reporting


def pct(count: int, n: int) -> str:
    return f"{100 * count / n:.0f}" if n else "-"


def wilson(count: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def dataset_table(result: dict[str, Any]) -> str:
    top, least = result["top"], result["least"]
    holdout = result["holdout"]
    score = f" {holdout:.4g}" if isinstance(holdout, (int, float)) else ""
    lines = [f"### {result['dataset']}", "",
             f"{result['task']}, holdout {result['metric']}{score}; model {result['model']}, trained on "
             f"{result['train_rows']:,} rows in {result['train_wall_s']} s; {result['future_rows']:,} future rows, "
             f"batches of {result['batch_rows']}.",
             f"Most important: `{top['feature']}` ({top['kind']}, weight {top['weight']:.0%}), shift {top['shift']}. "
              f"Least important: `{least['feature']}` ({least['kind']}, weight {least['weight']:.1%}), "
              f"shift {least['shift']}.", "",
              "| scenario | n | ok % | warn % | retrain % | any drift % | named the feature % | errors |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for scenario in SCENARIOS:
        t = result["scenarios"][scenario.key]
        named = pct(t["named"], t["n"]) if scenario.key in ("shift_top", "shift_least") else ""
        lines.append(f"| {scenario.key} | {t['n']} | {pct(t['ok'], t['n'])} | {pct(t['warn'], t['n'])} | "
                     f"{pct(t['retrain'], t['n'])} | {pct(t['drift'], t['n'])} | {named} | {t['errors']} |")
    flags = result["same_distribution_drift_flags"]
    if flags:
        n_same = result["scenarios"]["same_no_target"]["n"] + result["scenarios"]["same_with_target"]["n"]
        lines += ["", f"Drift flags on the {n_same} same-distribution batches: "
                  + ", ".join(f"{k} {v}" for k, v in flags.items()) + "."]
    return "\n".join(lines)


def overall(results: list[dict[str, Any]]) -> dict[str, Any]:
    def total(scenario: str, *keys: str) -> tuple[int, int]:
        rows = [r["scenarios"][scenario] for r in results]
        return sum(sum(r[k] for k in keys) for r in rows), sum(r["n"] - r["errors"] for r in rows)

    figures = {
        "false_alarm_no_target": total("same_no_target", "warn", "retrain"),
        "false_alarm_with_target": total("same_with_target", "warn", "retrain"),
        "false_retrain_same": tuple(map(sum, zip(total("same_no_target", "retrain"),
                                                 total("same_with_target", "retrain")))),
        "detection_top_shift": total("shift_top", "warn", "retrain"),
        "named_top_shift": total("shift_top", "named"),
        "wrong_retrain_least_shift": total("shift_least", "retrain"),
        "warn_least_shift": total("shift_least", "warn"),
        "detection_broken_relation": total("broken_relation", "warn", "retrain"),
    }
    return {k: {"count": c, "n": n, "rate": c / n if n else None, "wilson95": wilson(c, n)}
            for k, (c, n) in figures.items()}


def summary_text(summary: dict[str, Any]) -> str:
    def fmt(key: str) -> str:
        f = summary[key]
        if not f["n"]:
            return "-"
        lo, hi = f["wilson95"]
        return f"{100 * f['rate']:.1f}% ({f['count']}/{f['n']}, 95% {100 * lo:.1f}-{100 * hi:.1f}%)"
    return ("**Overall.** False alarms (verdict != ok on same-distribution batches): "
            f"{fmt('false_alarm_no_target')} without target, {fmt('false_alarm_with_target')} with target "
            f"(retrain on same-distribution batches: {fmt('false_retrain_same')}). "
            f"Detection of a shift in the most important feature (warn or retrain): {fmt('detection_top_shift')}; "
            f"it named the feature in {fmt('named_top_shift')}. "
            f"Wrong retrain on a shift in the least important feature: {fmt('wrong_retrain_least_shift')} "
            f"(warn {fmt('warn_least_shift')}). "
            f"Broken feature-target relation detected (warn or retrain): {fmt('detection_broken_relation')}.")


# ------------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=",".join(DEFAULT_DATASETS),
                   help="comma-separated names (file stems from INDEX.json)")
    p.add_argument("--budget", type=float, default=20, help="mlpilot run --budget, seconds per dataset")
    p.add_argument("--batches", type=int, default=50, help="batches per scenario and dataset")
    p.add_argument("--batch-rows", type=int, default=500, help="rows per batch (fewer if the future part is smaller)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the run, the batches and the monitor")
    p.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "datasets",
                   help="folder with INDEX.json and the CSVs")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (data, runs, batch CSVs)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from agent.settings import Settings  # after sys.path holds the project root
    from agent.use.monitor import monitor_run

    # The runs are made by this user (through the CLI), so they carry this user's signature.
    monitor_run = functools.partial(monitor_run, home=Settings.from_flags({}).home)

    index = load_index(args.data_dir)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in index]
    if unknown:
        print(f"unknown datasets {unknown}; known: {', '.join(sorted(index))}", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_path = RESULTS / f"bench-monitor-{stamp}.json"
    hash_start = source_hash()
    workdir = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    results: list[dict[str, Any]] = []
    failures: dict[str, str] = {}
    started = time.monotonic()
    record: dict[str, Any] = {}
    try:
        for name in names:
            try:
                result = bench_dataset(name, index[name], args.data_dir, args, workdir, monitor_run)
            except Exception as exc:  # noqa: BLE001 - one dataset failing must not lose the others
                failures[name] = f"{type(exc).__name__}: {exc}"
                print(f"[{name}] failed: {failures[name]}", file=sys.stderr, flush=True)
                continue
            results.append(result)
            print(dataset_table(result) + "\n", flush=True)
            record = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                      "started": stamp, "python": platform.python_version(), "source_hash_start": hash_start,
                      "results": results, "failures": failures, "summary": overall(results)}
            out_path.write_text(json.dumps(record, indent=1, default=str))
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    hash_end = source_hash()
    if results:
        summary = overall(results)
        print(summary_text(summary))
        record.update(summary=summary, failures=failures, source_hash_end=hash_end,
                      wall_s=round(time.monotonic() - started, 1))
        out_path.write_text(json.dumps(record, indent=1, default=str))
    for name, error in failures.items():
        print(f"\n{name}: FAILED: {error}")
    if hash_end != hash_start:
        print(f"\nWarning: mlpilot's source changed during the benchmark ({hash_start} -> {hash_end}); "
              "runs trained later may use other code than the monitor imported at the start.")
    print(f"\nsaved {out_path} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0 if results and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
