"""Big tables on Dask (``--dask local``: a real `LocalCluster` of two worker processes).

End to end, as a user runs it: a run on diamonds through Dask tunes on a sample and fits the final
LightGBM on every training row; on rows neither run saw it scores as well as the in-memory run (within
noise), its model loads and predicts in an interpreter without Dask or mlpilot, and ``predict --dask``
gives the same predictions as ``predict``. The pieces: marks and samples, typing by partition, the
profile of every row against pandas, the Dask LightGBM's labels against the in-memory one. And the
errors: Dask missing (the extra is named), a scheduler that does not answer, flags that need --dask local.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_squared_error, roc_auc_score

from tests.cli_helpers import DATASETS, ROOT, events, mlpilot
from tools.bigdata import (
    HOLDOUT_SHARE,
    close_clients,
    draw_sample,
    open_client,
    profile_big,
    read_frame,
    row_marks,
    training_part,
    typed_frame,
)
from tools.bigfit import fit_big_lightgbm, fit_preprocessor
from tools.intake import read_table
from tools.preprocess import ColumnPlan
from tools.target import labels_as_written

ONE_CORE = {"MLPILOT_N_JOBS": "1"}


@pytest.fixture(scope="module")
def client() -> object:
    yield open_client("local", workers=2, memory="2GB")
    close_clients()


@pytest.fixture(scope="module")
def diamonds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """diamonds split once into a training file and rows no run sees (20%, seeded)."""
    folder = tmp_path_factory.mktemp("diamonds")
    frame = pd.read_csv(DATASETS / "diamonds.csv")
    test = frame.sample(frac=0.2, random_state=7)
    frame.drop(test.index).to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return folder / "train.csv", folder / "test.csv"


def _rmse(run_dir: Path, test: Path, runs: Path, *extra: str) -> tuple[float, pd.DataFrame]:
    out = run_dir / f"test_predictions{len(extra)}.csv"
    proc = mlpilot("predict", str(run_dir), str(test), "--output", str(out), *extra, runs_dir=runs, timeout=120)
    assert proc.returncode == 0, proc.stderr
    predicted = pd.read_csv(out)
    truth = pd.read_csv(test)["price"]
    return float(np.sqrt(mean_squared_error(truth, predicted["prediction"]))), predicted


@pytest.mark.slow
def test_a_dask_run_fits_every_row_and_matches_the_in_memory_run(diamonds: tuple[Path, Path], tmp_path: Path) -> None:
    train, test = diamonds
    runs = tmp_path / "runs"
    goal = ["--goal", "predict the price", "--budget", "35", "--json"]
    big = mlpilot("run", str(train), *goal, "--dask", "local", "--dask-sample", "8000", runs_dir=runs,
                  env=ONE_CORE, timeout=240)
    assert big.returncode == 0, big.stderr
    assert "[LightGBM]" not in big.stdout + big.stderr  # the workers' network log is silenced
    summary = json.loads(big.stdout)
    big_dir = Path(summary["run_dir"])
    small = mlpilot("run", str(train), *goal, runs_dir=runs, env=ONE_CORE, timeout=240)
    assert small.returncode == 0, small.stderr
    small_dir = Path(json.loads(small.stdout)["run_dir"])

    log = events(big_dir)
    read = next(e for e in log if e["kind"] == "dask_read")
    assert read["workers"] == 2 and read["partitions"] >= 4
    assert 7000 < read["sample_rows"] < 9000
    rows = len(pd.read_csv(train))
    assert next(e for e in log if e["kind"] == "dask_profile")["rows"] == rows
    fit = next(e for e in log if e["kind"] == "dask_fit")
    # Every row not held out: about 80% of the file, far more than the sample.
    assert abs(fit["rows"] - (1 - HOLDOUT_SHARE) * rows) < 0.02 * rows
    assert fit["rows"] > 4 * read["sample_rows"]
    split = next(e for e in log if e["kind"] == "split")
    assert split["holdout_rows"] == read["sample_holdout_rows"]
    decided = {e["question"]: e for e in log if e["kind"] == "decision"}
    assert decided["refit"]["choice"] is False and decided["full_data_fit"]["choice"] > 0
    manifest = json.loads((big_dir / "manifest.json").read_text())
    assert manifest["data"]["rows"] == rows and manifest["dask"]["workers"] == 2
    if decided["full_data_model"]["choice"]:
        assert manifest["model"]["fitted_on"].startswith(f"all {fit['rows']:,} training rows")
        assert summary["model"] == "lightgbm"
    report = (big_dir / "report.md").read_text()
    assert "Read with Dask: 2 worker(s)" in report and f"learned from {fit['rows']:,} training rows" in report

    big_rmse, big_pred = _rmse(big_dir, test, runs)
    small_rmse, _ = _rmse(small_dir, test, runs)
    # Within noise of the in-memory run (which tuned on all rows in memory): a tenth of its error.
    assert big_rmse < 1.10 * small_rmse, (big_rmse, small_rmse)

    # predict --dask: the same predictions, partition by partition.
    dask_rmse, dask_pred = _rmse(big_dir, test, runs, "--dask", "local")
    np.testing.assert_allclose(dask_pred["prediction"], big_pred["prediction"], rtol=1e-9)
    assert dask_rmse == pytest.approx(big_rmse)

    # The saved model is a plain pipeline: it loads and predicts where neither Dask nor mlpilot imports.
    rows_path = tmp_path / "rows.pkl"
    pd.read_csv(test).drop(columns=["price"]).head(200).to_pickle(rows_path)
    conformed = tmp_path / "conformed.pkl"
    from agent.use.predict import RunModel

    model = RunModel.load(big_dir, home=Path.home() / ".local" / "share" / "mlpilot")
    frame, _, _ = model.predict(pd.read_pickle(rows_path))
    frame.to_pickle(conformed)
    code = ("import sys, joblib, pandas as pd\n"
            "for name in ('dask', 'distributed', 'tools', 'agent'): sys.modules[name] = None\n"
            f"m = joblib.load({str(big_dir / 'model.joblib')!r})\n"
            f"print(list(m.predict(pd.read_pickle({str(conformed)!r}))[:200]))")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    np.testing.assert_allclose(eval(out.stdout), big_pred["prediction"].head(200), rtol=1e-9)


def test_marks_are_the_same_every_pass_and_hold_out_a_fifth() -> None:
    a, b = row_marks(100_000, 3, seed=42)
    again, _ = row_marks(100_000, 3, seed=42)
    other, _ = row_marks(100_000, 4, seed=42)
    np.testing.assert_array_equal(a, again)
    assert not np.array_equal(a, other)
    assert abs((a < HOLDOUT_SHARE).mean() - HOLDOUT_SHARE) < 0.01
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02


def test_sample_training_part_and_profile_agree_with_pandas(client: object, tmp_path: Path) -> None:
    path = DATASETS / "california_housing.csv"
    table = read_table(path)
    ddf = read_frame(path, file_format="csv", delimiter=",", encoding="utf-8",
                     names=list(table.frame.columns), min_partitions=4)
    assert ddf.npartitions >= 4
    sample, held = draw_sample(ddf, 0.25, seed=1)
    assert abs(len(sample) - 0.25 * len(table.frame)) < 0.03 * len(table.frame)
    assert abs(held.mean() - HOLDOUT_SHARE) < 0.03
    typed = typed_frame(ddf, table.schema(), table.frame)
    whole = typed.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(whole, table.frame, check_dtype=False)
    train = training_part(typed, seed=1).compute()
    # The training part and the sample's holdout rows never meet; together with the holdout they are every row.
    held_rows = sample.loc[held]
    assert not set(map(tuple, held_rows.astype(str).to_numpy())) & set(map(tuple, train.astype(str).to_numpy()))
    assert abs(len(train) - (1 - HOLDOUT_SHARE) * len(whole)) < 0.02 * len(whole)
    prof = profile_big(typed, distinct_columns=["ocean_proximity"])
    assert prof.rows == len(whole)
    assert prof.training_rows(seed=1) == len(train), "counted from the marks alone, the same rows"
    assert prof.missing == {c: int(n) for c, n in whole.isna().sum().items()}
    assert prof.numeric["median_income"]["mean"] == pytest.approx(whole["median_income"].mean(), rel=1e-9)
    assert prof.numeric["total_bedrooms"]["max"] == pytest.approx(whole["total_bedrooms"].max())
    assert prof.distinct["ocean_proximity"] == whole["ocean_proximity"].nunique()


def test_dask_lightgbm_answers_with_the_labels_and_learns_as_in_memory(client: object) -> None:
    path = DATASETS / "bank_marketing.csv"
    table = read_table(path)
    frame = table.frame
    target = "y"
    ddf = read_frame(path, file_format="csv", delimiter=table.delimiter, encoding=table.encoding,
                     names=list(frame.columns), min_partitions=4)
    typed = typed_frame(ddf, table.schema(), frame)
    kinds = {c.name: c.kind for c in table.columns}
    numeric = [c for c, k in kinds.items() if c not in (target, "duration") and k in ("numeric", "boolean")]
    categorical = [c for c, k in kinds.items() if c != target and k == "string"]
    plan = ColumnPlan(numeric=numeric, categorical=categorical)
    assert categorical and numeric
    labels = labels_as_written(frame[target], table.columns)
    classes = ["no", "yes"]
    y = (labels == "yes").to_numpy().astype(int)
    prep = fit_preprocessor(plan, "binary", frame, y, seed=0)
    params = {"learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 20}
    fit = fit_big_lightgbm(client, typed, plan=plan, prep=prep, target=target, task="binary", classes=classes,
                           specs=table.columns, params=params, rounds=150, seed=0)
    assert fit.rounds == 150
    model = fit.pipeline
    assert list(model.classes_) == classes
    assert set(model.predict(frame[plan.features])) <= set(classes)
    proba = model.predict_proba(frame[plan.features])[:, 1]
    assert (model.predict(frame[plan.features]) == np.where(proba >= 0.5, "yes", "no")).all()
    import lightgbm as lgb

    alone = lgb.LGBMClassifier(n_estimators=150, verbose=-1, random_state=0, **params)
    Xt = prep.transform(frame[plan.features])
    alone.fit(Xt, y, categorical_feature=[i for i, n in enumerate(Xt.columns) if n.startswith("cat__")])
    # Two workers each binning their half learn about what one process learns from all rows.
    assert roc_auc_score(y, proba) == pytest.approx(roc_auc_score(y, alone.predict_proba(Xt)[:, 1]), abs=0.03)


def test_without_dask_the_extra_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    for name in ("dask", "distributed"):
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(f"raise ImportError('no {name} here', name={name!r})\n")
    proc = mlpilot("run", str(DATASETS / "titanic.csv"), "--goal", "predict survived", "--dask", "local",
                   runs_dir=tmp_path / "runs", env={"PYTHONPATH": f"{blocker}:{ROOT}"})
    assert proc.returncode == 2, proc.stderr
    assert "mlpilot[dask]" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_scheduler_that_does_not_answer_is_bad_input(tmp_path: Path) -> None:
    proc = mlpilot("run", str(DATASETS / "titanic.csv"), "--goal", "predict survived", "--dask", "tcp://127.0.0.1:9",
                   runs_dir=tmp_path / "runs", timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "could not be reached" in proc.stderr and "dask scheduler" in proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("args, said", [
    (["--dask", "spark://x"], "--dask must be 'local'"),
    (["--dask-memory", "2GB"], "with --dask local"),
    (["--dask", "local", "--dask-workers", "0"], "--dask-workers must be 1 or more"),
    (["--dask", "local", "--dask-sample", "10"], "--dask-sample must be at least"),
])
def test_bad_dask_flags_are_refused(args: list[str], said: str, tmp_path: Path) -> None:
    proc = mlpilot("run", str(DATASETS / "titanic.csv"), "--goal", "predict survived", *args,
                   runs_dir=tmp_path / "runs", timeout=60)
    assert proc.returncode == 2 and said in proc.stderr, proc.stderr


def test_the_time_plan_gives_the_fit_on_every_row_a_share_only_with_dask() -> None:
    from agent.decide.policy import TimeBrief
    from agent.decide.rules import RulePolicy

    brief = TimeBrief(budget=900, seconds_left=800, llm_cap=0, n_rows=400_000, n_features=19,
                      candidates=["lightgbm", "xgboost", "catboost", "random_forest"])
    plain = RulePolicy().choose_time_plan(brief)
    assert "scale" not in plain.choice["weights"] and "scale" not in plain.evidence["planned_seconds"]
    big = RulePolicy().choose_time_plan(TimeBrief(**{**brief.__dict__, "full_rows": 8_000_000}))
    planned = big.evidence["planned_seconds"]
    assert planned["scale"] == max(planned.values()), "the fit on every row gets the largest share"
    assert "8,000,000 training rows" in big.reason
