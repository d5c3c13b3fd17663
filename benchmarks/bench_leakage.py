"""How well the leakage check (`tools.leakage.find_leakage`) finds planted leaks, and whether it ever drops an
honest column.

Run: `python benchmarks/bench_leakage.py [--seed 0] [--time-limit 15]`.

Protocol: 14 realistic leaks are planted, one at a time, in shared datasets (../shared/datasets), each a
column a data scientist meets in practice: an outcome recorded after the fact (mostly missing), an amount
that is non-zero exactly for one class, a post-event date, a sum of parts, a scaled or logged copy, a
noisy label copy. The check runs on each planted table as a run does (the training data, at most 5,000
sampled rows, its time limit). A plant is **detected** when it is a suspect of either severity. Every
original column of the 13 datasets (less the known leaks: bank_marketing `duration`, taxis `total`) is
**honest**: one flagged `strong` (dropped by the rules) is a **false drop**, one flagged `suspect` (kept,
with a warning) a false alarm. Printed: one line per plant (rule, severity, seconds), the detection rate,
and the false drops and false alarms per dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.intake import read_table  # noqa: E402
from tools.leakage import find_leakage  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
KNOWN_LEAKS = {"bank_marketing.csv": ["duration"], "taxis.csv": ["total"]}


def _positive(frame: pd.DataFrame, target: str) -> np.ndarray:
    values = frame[target].astype(str)
    top = values.value_counts().index
    positive = "1" if "1" in set(values) else "yes" if "yes" in set(values) else top[-1]
    return (values == positive).to_numpy()


Plant = Callable[[pd.DataFrame, str, np.random.Generator], pd.DataFrame]


def refund_amount(f: pd.DataFrame, t: str, rng: np.random.Generator) -> pd.DataFrame:
    """An amount paid out only in positive cases (non-zero exactly when the target is yes)."""
    pos = _positive(f, t)
    return f.assign(refund_amount=np.where(pos, rng.gamma(2.0, 40.0, len(f)).round(2), 0.0))


def outcome_record(f: pd.DataFrame, t: str, rng: np.random.Generator) -> pd.DataFrame:
    """A follow-up note filled in for 90% of positive cases after the event, missing otherwise."""
    pos = _positive(f, t)
    filled = pos & (rng.random(len(f)) < 0.9)
    return f.assign(followup_note=np.where(filled, rng.choice(["called back", "signed", "confirmed"], len(f)), None))


def post_event_date(f: pd.DataFrame, t: str, rng: np.random.Generator) -> pd.DataFrame:
    """The date a contract was signed: there only for the positive cases."""
    pos = _positive(f, t)
    days = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, len(f)), unit="D")
    return f.assign(contract_signed=pd.Series(days).where(pos).to_numpy())


def noisy_flag(f: pd.DataFrame, t: str, rng: np.random.Generator) -> pd.DataFrame:
    """A collections flag that is the outcome with 3% of rows flipped."""
    pos = _positive(f, t)
    return f.assign(collections_flag=np.where(rng.random(len(f)) < 0.03, ~pos, pos).astype(int))


def label_copy(f: pd.DataFrame, t: str, rng: np.random.Generator) -> pd.DataFrame:
    """A 'confirmed' label: the target as text, 1% replaced by another class."""
    values = f[t].astype(str).to_numpy().copy()
    flip = rng.random(len(f)) < 0.01
    values[flip] = rng.choice(np.unique(values), int(flip.sum()))
    return f.assign(confirmed_label=values)


def sum_of_parts(f: pd.DataFrame, t: str, rng: np.random.Generator) -> pd.DataFrame:
    """The target split into two recorded parts (before and added)."""
    y = f[t].to_numpy(dtype=float)
    part = np.floor(y * rng.uniform(0.2, 0.8, len(f)))
    return f.assign(part_before=part, part_added=y - part)


def price_plus_tax(f: pd.DataFrame, t: str, rng: np.random.Generator) -> pd.DataFrame:
    y = f[t].to_numpy(dtype=float)
    tax = (y * 0.2 / 1.2).round(2)
    return f.assign(price_ex_tax=y - tax, tax=tax)


def per_unit(f: pd.DataFrame, t: str, rng: np.random.Generator) -> pd.DataFrame:
    """A per-room value: the target divided by a column the table has."""
    return f.assign(value_per_room=f[t].to_numpy(dtype=float) / f["total_rooms"].to_numpy(dtype=float))


def scaled_copy(f: pd.DataFrame, t: str, rng: np.random.Generator) -> pd.DataFrame:
    return f.assign(amount_in_cents=(f[t].to_numpy(dtype=float) * 100).round())


def logged_copy(f: pd.DataFrame, t: str, rng: np.random.Generator) -> pd.DataFrame:
    return f.assign(log_value=np.log1p(f[t].to_numpy(dtype=float)))


def score_plus_noise(f: pd.DataFrame, t: str, rng: np.random.Generator) -> pd.DataFrame:
    """A second taster's score: the target plus a little noise."""
    return f.assign(taster_score=f[t].to_numpy(dtype=float) + rng.normal(0, 0.15, len(f)))


def treatment_started(f: pd.DataFrame, t: str, rng: np.random.Generator) -> pd.DataFrame:
    """A treatment start date, there only for the diagnosed (every class but the commonest)."""
    common = f[t].value_counts().index[0]
    days = pd.to_datetime("2023-06-01") + pd.to_timedelta(rng.integers(0, 300, len(f)), unit="D")
    return f.assign(treatment_started=pd.Series(days).where((f[t] != common).to_numpy()).to_numpy())


PLANTS: list[tuple[str, str, Plant]] = [
    ("titanic.csv", "refund_amount", refund_amount),
    ("titanic.csv", "followup_note", outcome_record),
    ("bank_marketing.csv", "contract_signed", post_event_date),
    ("credit_g.csv", "collections_flag", noisy_flag),
    ("mammography.csv", "confirmed_label", label_copy),
    ("phoneme.csv", "refund_amount", refund_amount),
    ("horse_colic.csv", "followup_note", outcome_record),
    ("hypothyroid.csv", "treatment_started", treatment_started),
    ("wine_quality_white.csv", "taster_score", score_plus_noise),
    ("abalone.csv", "part_before", sum_of_parts),
    ("diamonds.csv", "price_ex_tax", price_plus_tax),
    ("california_housing.csv", "value_per_room", per_unit),
    ("california_housing.csv", "log_value", logged_copy),
    ("taxis.csv", "amount_in_cents", scaled_copy),
]


def load(name: str, index: dict) -> tuple[pd.DataFrame, str, str]:
    entry = index[name]
    frame = read_table(DATASETS / name).frame.drop(columns=KNOWN_LEAKS.get(name, []))
    frame = frame[frame[entry["target"]].notna()].reset_index(drop=True)
    return frame, entry["target"], entry["task"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-limit", type=float, default=15.0)
    args = p.parse_args(argv)
    index = {e["file"]: e for e in json.loads((DATASETS / "INDEX.json").read_text())}
    rng = np.random.default_rng(args.seed)

    print("## Planted leaks\n\n| dataset | planted column | found | rule | severity | seconds |\n"
          "| --- | --- | --- | --- | --- | ---: |")
    found = 0
    for name, column, plant in PLANTS:
        frame, target, task = load(name, index)
        planted = plant(frame, target, rng)
        t0 = time.perf_counter()
        report = find_leakage(planted, target, task, seed=args.seed, time_limit=args.time_limit)
        hit = next((s for s in report.suspects if s.column == column), None)
        found += hit is not None
        print(f"| {name} | {column} | {'yes' if hit else 'NO'} | {hit.rule if hit else ''} | "
              f"{hit.severity if hit else ''} | {time.perf_counter() - t0:.1f} |")
    print(f"\nDetected {found} of {len(PLANTS)} planted leaks ({found / len(PLANTS):.0%}).\n")

    print("## Honest columns\n\n| dataset | columns | false drops (strong) | false alarms (suspect) |\n"
          "| --- | ---: | --- | --- |")
    drops = alarms = total = 0
    for name in index:
        frame, target, task = load(name, index)
        report = find_leakage(frame, target, task, seed=args.seed, time_limit=args.time_limit)
        strong = [s.column for s in report.suspects if s.severity == "strong"]
        suspect = [s.column for s in report.suspects if s.severity != "strong"]
        drops, alarms, total = drops + len(strong), alarms + len(suspect), total + frame.shape[1] - 1
        print(f"| {name} | {frame.shape[1] - 1} | {', '.join(strong) or '-'} | {', '.join(suspect) or '-'} |")
    print(f"\nHonest columns: {total}; false drops {drops} ({drops / total:.1%}); false alarms {alarms} "
          f"({alarms / total:.1%}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
