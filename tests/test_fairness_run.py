"""The fairness audit in real runs (the CLI as a subprocess): the plan's decision of which columns describe
people (by name and values, the goal, --sensitive and --not-sensitive), the holdout audit of the published
model with figures that add up, the report's section, the model card, the summary's warnings, monitoring
per group, and the chat's answer to "is it fair to women?"."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agent.chat.explain import explain
from agent.chat.intents import parse
from tests.cli_helpers import DATASETS, ONE_CORE, events, mlpilot, run_json

pytestmark = pytest.mark.slow

RUNS = {
    "credit": ("credit_g.csv", "--goal", "predict class without using personal_status; no bias against older people"),
    "titanic": ("titanic.csv", "--goal", "predict who survived", "--sensitive", "embarked", "--not-sensitive", "age"),
    "abalone": ("abalone.csv", "--target", "rings", "--task", "regression"),
    "phoneme": ("phoneme.csv", "--target", "class"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, one_signing_key: Path) -> dict[str, tuple[Path, dict]]:
    """Four short runs started side by side (one core each), as a person with four terminals would."""
    import os
    import sys

    from tests.cli_helpers import ROOT

    base = tmp_path_factory.mktemp("fair")
    procs = {}
    for name, (data, *args) in RUNS.items():
        env = {**os.environ, **ONE_CORE, "MLPILOT_RUNS_DIR": str(base / name)}
        procs[name] = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", str(DATASETS / data), *args,
                                        "--budget", "12", "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr
        summary = json.loads(stdout)
        out[name] = (Path(summary["run_dir"]), summary)
    return out


def _audit(run_dir: Path) -> dict:
    return [e for e in events(run_dir) if e["kind"] == "fairness_audit"][-1]


def _decision(run_dir: Path, question: str) -> dict:
    return [e for e in events(run_dir) if e["kind"] == "decision" and e["question"] == question][-1]


def test_people_columns_are_audited_even_when_the_goal_keeps_one_out(runs: dict) -> None:
    run_dir, summary = runs["credit"]
    chosen = _decision(run_dir, "sensitive_columns")
    assert {"personal_status", "age"} <= set(chosen["choice"]) and chosen["actor"] == "user"
    assert "bias against older people" in chosen["evidence"]["found"]["age"]
    dropped = _decision(run_dir, "drop:personal_status")
    assert dropped["choice"] == "drop" and "the goal says not to use it" in dropped["reason"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "personal_status" not in manifest["model"]["features"] and "age" in manifest["model"]["features"]
    audit = _audit(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert audit["n_rows"] == metrics["n_rows"] and audit["task"] == "binary"
    by_column = {c["column"]: c for c in audit["columns"]}
    assert {"personal_status", "age"} <= set(by_column)
    for column in by_column.values():
        assert sum(g["n"] for g in column["groups"]) == audit["n_rows"]
        assert abs(sum(g["share"] for g in column["groups"]) - 1) < 1e-3
        used = [g for g in column["groups"] if g["group"] not in column["small_groups"]]
        rates = [g["selection_rate"] for g in used]
        gap = {d["name"]: d for d in column["disparities"]}.get("demographic_parity_difference")
        if gap is not None:  # the gap is the highest selection rate minus the lowest, between those two groups
            assert gap["value"] == pytest.approx(max(rates) - min(rates), abs=1e-5)
            named = {g["group"]: g["selection_rate"] for g in used}
            assert named[gap["between"][0]] == max(rates) and named[gap["between"][1]] == min(rates)
            assert gap["low"] <= gap["value"] <= gap["high"]
    assert summary["fairness_warnings"] == [f"fairness: {w}" for w in audit["warnings"]]


def test_the_report_the_model_card_and_the_chat_show_the_audit(runs: dict) -> None:
    run_dir, _ = runs["credit"]
    audit = _audit(run_dir)
    report = (run_dir / "report.md").read_text()
    section = report.split("## Fairness", 1)[1].split("\n## ", 1)[0]
    for column in audit["columns"]:
        assert f"### {column['column']}" in section
    assert all(w in report for w in audit["warnings"])
    assert 'id="fairness"' in (run_dir / "report.html").read_text()
    card = (run_dir / "model_card.md").read_text()
    for heading in ("## Intended use", "## Data", "## Performance", "## Groups of people", "## Limits", "## Warnings"):
        assert heading in card, heading
    assert "no bias against older people" in card and "personal_status" in card
    question = parse("is the model fair to older people?", columns=["age", "personal_status"])
    assert (question.action, question.args.topic) == ("explain", "fairness")
    answer = explain(run_dir, question.args.topic, question.args.subject)
    assert answer.found and audit["seq"] in answer.events
    assert "age (age)" in answer.text and "personal_status (sex)" not in answer.text, answer.text
    assert f"event {audit['seq']}" in answer.text


def test_sensitive_flags_add_and_remove_columns(runs: dict) -> None:
    run_dir, _ = runs["titanic"]
    chosen = _decision(run_dir, "sensitive_columns")
    assert chosen["choice"] == {"sex": "sex", "embarked": "named with --sensitive"} and chosen["actor"] == "user"
    audit = _audit(run_dir)
    assert [c["column"] for c in audit["columns"]] == ["sex", "embarked"]
    sex = audit["columns"][0]
    assert sorted(g["group"] for g in sex["groups"]) == ["female", "male"]
    answer = explain(run_dir, "fairness", "women")
    assert "sex (sex)" in answer.text and "female" in answer.text and "embarked (named" not in answer.text


def test_a_regression_audit_compares_errors_and_a_table_without_people_has_none(runs: dict) -> None:
    run_dir, _ = runs["abalone"]
    chosen = _decision(run_dir, "sensitive_columns")
    assert "sex" in chosen["choice"] and "not be people" in chosen["evidence"]["found"]["sex"]
    audit = _audit(run_dir)
    assert audit["task"] == "regression"
    names = {d["name"] for c in audit["columns"] for d in c["disparities"]}
    assert names == {"mae_difference", "mean_error_difference"}
    assert all(g["mae"] is not None and g["mean_error"] is not None for g in audit["columns"][0]["groups"])
    run_dir, summary = runs["phoneme"]
    assert _decision(run_dir, "sensitive_columns")["choice"] == {}
    assert not [e for e in events(run_dir) if e["kind"] == "fairness_audit"] and summary["fairness_warnings"] == []
    assert "no column looks like it describes people" in (run_dir / "report.md").read_text()


def test_monitoring_a_labelled_batch_reports_each_group(runs: dict, tmp_path: Path) -> None:
    run_dir, _ = runs["credit"]
    proc = mlpilot("monitor", str(run_dir), str(DATASETS / "credit_g.csv"), "--json", runs_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    groups = json.loads(proc.stdout)["groups"]
    assert groups["n_rows"] == 1000 and {c["column"] for c in groups["columns"]} >= {"personal_status", "age"}
    age = next(c for c in groups["columns"] if c["column"] == "age")
    assert sum(g["n"] for g in age["groups"]) == 1000
    record = Path(json.loads(proc.stdout)["record"])
    assert "## Groups" in (record / "report.md").read_text()
    unlabelled = tmp_path / "no_target.csv"
    import pandas as pd

    pd.read_csv(DATASETS / "credit_g.csv").drop(columns=["class"]).head(200).to_csv(unlabelled, index=False)
    proc = mlpilot("monitor", str(run_dir), str(unlabelled), "--json", runs_dir=tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout)["groups"] is None


def test_serve_it_in_the_chat_prints_the_command(runs: dict, tmp_path: Path) -> None:
    from agent.chat.app import dispatch
    from agent.chat.commands import Commands
    from agent.chat.session import Session, SessionStore
    from agent.console import Terminal
    from agent.settings import Settings

    run_dir, _ = runs["titanic"]
    store = SessionStore(tmp_path / "home")
    commands = Commands(Settings(runs_dir=run_dir.parent, home=tmp_path / "home"), Session(store, store.new_session()),
                        Terminal(chat=True))
    said: list[str] = []
    commands.say = said.append  # type: ignore[method-assign]
    for text in ("serve it", "how do I deploy the model", "/serve"):
        assert parse(text).action == "serve", text
    dispatch(commands, parse("serve it"))
    assert "No model to serve yet" in said[-1]
    commands.session.state["run_dir"] = str(run_dir)
    dispatch(commands, parse("serve it"))
    assert f"mlpilot serve {run_dir}" in said[-1] and "/predict" in said[-1] and "--log-inputs" in said[-1]
    store.close()


def test_mlpilot_run_without_people_columns_via_run_json_still_completes(tmp_path: Path) -> None:
    proc, summary = run_json(str(DATASETS / "segment.csv"), "--target", "class", "--budget", "6", runs_dir=tmp_path,
                             env=ONE_CORE)
    assert proc.returncode == 0 and summary["fairness_warnings"] == []
