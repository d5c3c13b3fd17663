"""`mlpilot serve` as a real process on 127.0.0.1 over real runs: the same predictions as `mlpilot predict`,
clear refusals of bad payloads while it keeps serving, metadata that matches the run, and the loop from
`--log-inputs` to `mlpilot monitor`."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli_helpers import DATASETS, ONE_CORE, mlpilot, run_json
from tests.service import Service, json_rows

pytestmark = pytest.mark.slow
TITANIC = DATASETS / "titanic.csv"
HOUSING = DATASETS / "california_housing.csv"


@pytest.fixture(scope="module")
def housing_run(tmp_path_factory: pytest.TempPathFactory, one_signing_key: Path) -> Path:
    proc, summary = run_json(str(HOUSING), "--target", "median_house_value", "--budget", "10",
                             runs_dir=tmp_path_factory.mktemp("housing") / "runs", env=ONE_CORE)
    assert proc.returncode == 0, proc.stderr
    return Path(summary["run_dir"])


def _predict_file(run_dir: Path, rows: pd.DataFrame, folder: Path) -> pd.DataFrame:
    data, out = folder / "rows.csv", folder / "predicted.csv"
    rows.to_csv(data, index=False)
    proc = mlpilot("predict", str(run_dir), str(data), "--output", str(out), runs_dir=folder)
    assert proc.returncode == 0, proc.stderr
    return pd.read_csv(out)


@pytest.mark.parametrize("which", ["titanic", "housing"])
def test_served_predictions_equal_mlpilot_predict_for_json_and_csv(which: str, finished_run: Path,
                                                                    housing_run: Path, tmp_path: Path) -> None:
    run_dir, data = (finished_run, TITANIC) if which == "titanic" else (housing_run, HOUSING)
    rows = pd.read_csv(data).sample(300, random_state=3)
    expected = _predict_file(run_dir, rows, tmp_path)
    with Service(run_dir, env=ONE_CORE) as service:
        status, answer = service.predict(json_rows(rows))
        assert status == 200, answer
        assert answer["rows"] == len(rows) and answer["run_id"] == run_dir.name
        served = pd.DataFrame(answer["predictions"])
        status, text = service.request("/predict", rows.to_csv(index=False), content_type="text/csv",
                                       headers={"Accept": "text/csv"})
        assert status == 200, text
        from_csv = pd.read_csv(pd.io.common.StringIO(text))
    assert list(served.columns) == list(expected.columns)
    for got in (served, from_csv):
        for column in expected.columns:
            if column.startswith("proba_") or which == "housing":
                np.testing.assert_allclose(got[column].to_numpy(float), expected[column].to_numpy(float),
                                           rtol=1e-9, atol=1e-12)
            else:
                assert got[column].astype(str).tolist() == expected[column].astype(str).tolist()


def test_bad_payloads_get_clear_4xx_and_the_service_keeps_serving(finished_run: Path) -> None:
    good = json_rows(pd.read_csv(TITANIC).head(2))
    no_age = [{k: v for k, v in row.items() if k != "age"} for row in good]
    bad_type = [dict(good[0], fare="cheap")]
    nested = [dict(good[0], sex={"value": "male"})]
    with Service(finished_run, "--max-body", "0.01", env=ONE_CORE) as service:
        cases = [
            (json.dumps(no_age), "application/json", 422, ["'age'", "a number"]),
            (json.dumps(bad_type), "application/json", 422, ["'fare'", "a number", "row 0", "'cheap'"]),
            (json.dumps(nested), "application/json", 422, ["'sex'", "text"]),
            ("", "application/json", 400, ["empty"]),
            ('[{"pclass": 3,', "application/json", 400, ["not valid JSON", "line 1"]),
            ("[]", "application/json", 422, ["no rows"]),
            ('"hello"', "application/json", 422, ["list of objects"]),
            (json.dumps(good * 100), "application/json", 413, ["limit", "bytes"]),
            ("pclass,sex\n3,male\n", "text/csv", 422, ["'age' (a number)", "'fare' (a number)"]),
            (pd.read_csv(TITANIC).drop(columns="survived").head(3).assign(fare=["7.25", "cheap", "8"]).to_csv(
                index=False), "text/csv", 422, ["'fare'", "a number", "row 1", "'cheap'"]),
            ("<xml/>", "application/xml", 415, ["application/json"]),
        ]
        for body, kind, status, words in cases:
            got, answer = service.request("/predict", body, content_type=kind)
            assert got == status, (body[:60], got, answer)
            for word in words:
                assert word in answer["detail"], (word, answer)
            ok, again = service.predict(good)
            assert ok == 200 and again["rows"] == 2, again
        health = service.request("/health")[1]
        assert health["status"] == "ok" and health["refused"] == len(cases) and health["failed"] == 0
    assert "Traceback" not in service.output


def test_unseen_categories_are_predicted_with_a_note(finished_run: Path) -> None:
    rows = json_rows(pd.read_csv(TITANIC).head(3))
    rows[0]["embarked"] = "Atlantis"
    with Service(finished_run, env=ONE_CORE) as service:
        status, answer = service.predict(rows)
    assert status == 200 and answer["rows"] == 3
    assert any("embarked" in note and "never seen" in note for note in answer["notes"]), answer["notes"]


def test_metadata_and_openapi_describe_the_run(finished_run: Path) -> None:
    manifest = json.loads((finished_run / "manifest.json").read_text())
    metrics = json.loads((finished_run / "metrics.json").read_text())
    with Service(finished_run, env=ONE_CORE) as service:
        meta = service.request("/metadata")[1]
        api = service.request("/openapi.json")[1]
        docs_status, _ = service.request("/docs")
        assert service.stop() == 0, "a stop (SIGTERM) is the normal end of a service: exit 0\n" + service.output
    assert meta["run_id"] == manifest["run_id"] and meta["goal"] == manifest["goal"]
    assert meta["model"]["sha256"] == manifest["model"]["sha256"]
    assert meta["task"] == "binary" and meta["target"] == "survived" and meta["metric"] == metrics["primary"]
    assert meta["holdout"]["metrics"] == metrics["metrics"]
    assert [c["name"] for c in meta["inputs"]] == manifest["model"]["features"]
    kinds = {c["name"]: c["kind"] for c in manifest["data"]["schema"]}
    assert all(c["kind"] == kinds[c["name"]] for c in meta["inputs"])
    assert meta["outputs"] == ["prediction", "proba_0", "proba_1"]
    body = api["paths"]["/predict"]["post"]["requestBody"]["content"]
    record = body["application/json"]["schema"]["oneOf"][2]
    assert set(record["properties"]) == set(manifest["model"]["features"])
    assert record["properties"]["age"]["type"] == ["number", "null"] and "text/csv" in body
    assert docs_status == 200


def test_logged_inputs_are_monitored_with_one_command(finished_run: Path, tmp_path: Path) -> None:
    live = tmp_path / "live"
    frame = pd.read_csv(TITANIC)
    with Service(finished_run, "--log-inputs", str(live), "--workers", "2", env=ONE_CORE) as service:
        for start in range(0, 400, 100):
            status, answer = service.predict(json_rows(frame.iloc[start:start + 100]))
            assert status == 200, answer
        health = service.request("/health")[1]
        assert service.stop() == 0, service.output
    files = sorted(live.glob("inputs-*.csv"))
    assert files, list(live.iterdir())
    logged = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    assert len(logged) == 400 and logged["mlpilot_request"].nunique() == 4
    assert {"mlpilot_prediction", "mlpilot_proba_1", "mlpilot_received_at"} <= set(logged.columns)
    assert health["input_log"]["errors"] == 0
    proc = mlpilot("monitor", str(finished_run), str(live), "--json", runs_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["rows"] == 400 and summary["verdict"] in ("ok", "warn", "retrain")
    assert any("logged by mlpilot serve" in note for note in summary["schema_notes"])
    assert not any("mlpilot_" in note for note in summary["schema_notes"] if "dropped" in note)


def test_a_token_guards_predict_and_is_never_printed(finished_run: Path, tmp_path: Path) -> None:
    token = "s3cret-" + "x" * 24
    rows = json_rows(pd.read_csv(TITANIC).head(2))
    with Service(finished_run, "--log-inputs", str(tmp_path / "live"),
                 env={**ONE_CORE, "MLPILOT_SERVE_TOKEN": token}) as service:
        assert service.predict(rows)[0] == 401
        assert service.request("/metadata")[0] == 401
        assert service.predict(rows, headers={"Authorization": "Bearer wrong"})[0] == 401
        assert service.predict(rows, headers={"Authorization": f"Bearer {token}"})[0] == 200
        assert service.request("/health")[0] == 200
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert token not in service.output and token not in written
    assert "Bearer <token>" in service.output


def test_an_untrusted_run_is_not_served_and_a_busy_port_is_named(finished_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / finished_run.name
    shutil.copytree(finished_run, copy)
    other_key = tmp_path / "other.key"
    other_key.write_text("f" * 64)
    proc = mlpilot("serve", str(copy), "--port", "0", runs_dir=tmp_path, env={"MLPILOT_SIGNING_KEY": str(other_key)},
                   timeout=60)
    assert proc.returncode == 2 and "--trust" in proc.stderr, proc.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = mlpilot("serve", str(finished_run), "--port", str(port), runs_dir=tmp_path, timeout=60)
    assert proc.returncode == 2 and f"Port {port}" in proc.stderr and "--port" in proc.stderr, proc.stderr


def test_predictions_from_the_probabilities_equal_the_models_own_predict(finished_run: Path, housing_run: Path,
                                                                          tmp_path: Path) -> None:
    from agent.use.predict import RunModel
    from tools.intake import read_table
    from tools.model import predict_table

    for run_dir, data in ((finished_run, TITANIC), (housing_run, HOUSING)):
        run = RunModel.load(run_dir, home=tmp_path / "home")
        frame, result, _ = run.predict(read_table(data))
        own = run.model.predict(frame)
        assert list(result["prediction"]) == list(own) and result["prediction"].dtype == np.asarray(own).dtype
        assert predict_table(run.model, frame, run.spec)["prediction"].equals(result["prediction"])
