"""Monitoring and retraining on a real dataset: verdicts, records, exit codes, schema problems, lineage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli_helpers import DATASETS, events, mlpilot
from tools.drift import check_column, psi, psi_threshold
from tools.reference import feature_reference

pytestmark = pytest.mark.slow
TARGET = "median_house_value"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("monitor")
    frame = pd.read_csv(DATASETS / "california_housing.csv").sample(frac=1.0, random_state=7).reset_index(drop=True)
    train, future = frame.iloc[:14000], frame.iloc[14000:]
    train.to_csv(base / "train.csv", index=False)
    runs = base / "runs"
    proc = mlpilot("run", str(base / "train.csv"), "--target", TARGET, "--budget", "20", "--max-trials", "10",
                   "--quiet", runs_dir=runs)
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(proc.stdout.strip())
    reference = json.loads((run_dir / "reference.json").read_text())
    return {"base": base, "runs": runs, "run": run_dir, "future": future, "reference": reference}


def batch(setup: dict, name: str, *, rows: int = 1500, target: bool = False, change=None) -> Path:
    frame = setup["future"].sample(rows, random_state=len(name)).copy()
    if change is not None:
        change(frame)
    if not target:
        frame = frame.drop(columns=[TARGET])
    path = setup["base"] / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def monitor(setup: dict, path: Path, *extra: str) -> tuple[int, dict, str]:
    proc = mlpilot("monitor", str(setup["run"]), str(path), "--json", *extra, runs_dir=setup["runs"])
    summary = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    return proc.returncode, summary, proc.stderr


def least_important(setup: dict) -> str:
    weights = {r["feature"]: r["mean"] for r in setup["reference"]["importances"]}
    numeric = [f for f, e in setup["reference"]["features"].items() if e["kind"] == "numeric"]
    return min(numeric, key=lambda f: weights.get(f, 0.0))


def test_the_reference_keeps_summaries_not_rows(setup: dict) -> None:
    ref = setup["reference"]
    income = ref["features"]["median_income"]
    assert len(income["quantiles"]) == 101 and len(income["shares"]) == 10 and income["count"] > 10000
    assert ref["features"]["ocean_proximity"]["levels"] and ref["holdout"]["spread"]["sd"] > 0
    assert ref["importances"] and ref["prediction"]["kind"] == "values"


def test_a_batch_from_the_same_distribution_is_ok(setup: dict) -> None:
    code, summary, _ = monitor(setup, batch(setup, "same"), "--fail-on", "warn")
    assert code == 0 and summary["verdict"] == "ok" and summary["performance"] is None
    assert any("performance is not checked" in n for n in summary["schema_notes"])
    code, summary, _ = monitor(setup, batch(setup, "same_labelled", target=True), "--fail-on", "warn")
    assert code == 0 and summary["verdict"] == "ok"
    assert not any("performance is not checked" in n for n in summary["schema_notes"])
    assert summary["performance"]["metric"] == "rmse" and not summary["performance"]["significant"]
    record = Path(summary["record"])
    verdict = [e for e in events(record) if e["kind"] == "decision"][0]
    assert verdict["question"] == "verdict" and verdict["choice"] == "ok" and verdict["alternatives"]
    assert "Verdict: **ok**" in (record / "report.md").read_text()


def test_a_shift_in_an_important_feature_is_named(setup: dict) -> None:
    def shift(f: pd.DataFrame) -> None:
        f["median_income"] = f["median_income"] * 1.4

    code, summary, _ = monitor(setup, batch(setup, "shifted", change=shift), "--fail-on", "warn")
    assert summary["verdict"] in ("warn", "retrain") and code == 4
    assert summary["drifted_features"][0]["column"] == "median_income"
    assert "median_income" in summary["reason"]
    report = (Path(summary["record"]) / "report.md").read_text()
    assert "| median_income |" in report and "yes" in report


def test_a_shift_in_an_unimportant_feature_alone_does_not_ask_for_retraining(setup: dict) -> None:
    column = least_important(setup)

    def shift(f: pd.DataFrame) -> None:
        f[column] = f[column] * 1.5 + f[column].std()

    path = batch(setup, "unimportant", change=shift)
    code, summary, _ = monitor(setup, path, "--fail-on", "retrain")
    assert summary["verdict"] != "retrain" and code == 0
    assert column in [d["column"] for d in summary["drifted_features"]], "the drift is still reported"
    code, _, _ = monitor(setup, path, "--fail-on", "drift")
    assert code == 4, "--fail-on drift fires on any drift"


def test_a_broken_relation_shows_the_performance_drop(setup: dict) -> None:
    def scramble(f: pd.DataFrame) -> None:
        f["median_income"] = f["median_income"].sample(frac=1.0, random_state=1).to_numpy()

    code, summary, _ = monitor(setup, batch(setup, "broken", target=True, change=scramble), "--fail-on", "retrain")
    perf = summary["performance"]
    assert perf["significant"] and perf["batch"] > perf["holdout"] * 1.2 and perf["lift_lost"] > 0.1
    assert summary["verdict"] == "retrain" and code == 4
    assert "rmse" in summary["reason"]


def test_schema_problems_give_clear_messages(setup: dict) -> None:
    missing = batch(setup, "no_income", change=lambda f: f.pop("median_income"))
    code, _, err = monitor(setup, missing)
    assert code == 2 and "median_income" in err and "Traceback" not in err

    def messy(f: pd.DataFrame) -> None:
        f["extra_column"] = 1
        f["housing_median_age"] = f["housing_median_age"].astype(str)
        f.loc[f.index[:5], "housing_median_age"] = "unknown"

    code, summary, _ = monitor(setup, batch(setup, "messy", change=messy))
    notes = " ".join(summary["schema_notes"])
    assert code == 0 and "extra_column" in notes and "housing_median_age" in notes


def test_retrain_makes_a_linked_run_and_compares_the_models(setup: dict) -> None:
    def shift(f: pd.DataFrame) -> None:
        f["median_income"] = f["median_income"] * 1.4

    new = batch(setup, "retrain_rows", rows=2000, target=True, change=shift)
    proc = mlpilot("retrain", str(setup["run"]), str(new), "--budget", "20", "--max-trials", "6", "--json",
                   runs_dir=setup["runs"])
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    child = Path(summary["run_dir"])
    manifest = json.loads((child / "manifest.json").read_text())
    assert manifest["retrain"]["parent"] == setup["run"].name and manifest["settings"]["parent"] == setup["run"].name
    comparison = json.loads((child / "comparison.json").read_text())
    assert comparison["rows"]["new_compared"] == 500 and comparison["rows"]["trained_on"] == 14000 + 1500
    assert comparison["keep"] == "new" and comparison["scores"]["new"] < comparison["scores"]["old"]
    keep = [e for e in events(child) if e["kind"] == "decision" and e["question"] == "keep_model"]
    assert keep and keep[0]["choice"] == "new"
    assert (setup["run"] / "retrain" / f"{child.name}.json").exists()
    assert "## Retrained from" in (child / "report.md").read_text()
    assert manifest["plan"]["target"] == TARGET and manifest["plan"]["metric"] == "rmse"


def test_drift_statistics_respect_sample_size() -> None:
    rng = np.random.default_rng(0)
    ref = feature_reference(pd.DataFrame({"x": rng.normal(size=20000), "c": rng.choice(list("abc"), 20000)}),
                            {"x": "numeric", "c": "categorical"})
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    assert psi_threshold(10, 20000, 50) > psi_threshold(10, 20000, 5000) >= 0.1
    same = check_column(ref["x"], pd.Series(rng.normal(size=2000), name="x"), n_columns=2)
    moved = check_column(ref["x"], pd.Series(rng.normal(0.5, 1, size=2000), name="x"), n_columns=2)
    assert not same.drifted and moved.drifted and moved.test == "ks" and "mean" in moved.change
    small = check_column(ref["x"], pd.Series(rng.normal(0.3, 1, size=30), name="x"), n_columns=2)
    assert not small.drifted, "30 rows cannot show a drift this small"
    new_levels = pd.Series(rng.choice(list("abcd"), 1000), name="c")
    cats = check_column(ref["c"], new_levels, n_columns=2)
    assert cats.unseen and cats.unseen_examples == ["d"] and 0.2 < cats.unseen_share < 0.3
    gaps = pd.Series(np.where(rng.random(1000) < 0.3, np.nan, rng.normal(size=1000)), name="x")
    assert check_column(ref["x"], gaps, n_columns=2).missing_jump
