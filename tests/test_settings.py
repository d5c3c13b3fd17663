"""Settings in one place: flags over ``MLPILOT_*`` variables over defaults, errors that name the option,
and a run's settings rebuilt from its manifest whole (its LLM budget included) by resume, rerun and
retrain. All in-process and fast: the manifests are the JSON `Settings.public` writes, read back."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from agent.cli import rerun_settings
from agent.job.resume import resume_settings
from agent.settings import DEFAULT_MAX_TOKENS, DEFAULT_SEED, PRICES, Settings, usable_cores
from agent.timing.timeplan import DEFAULT_LLM_SHARE
from agent.use.retrain import child_settings
from tools.errors import ConfigError

# ---- flags > MLPILOT_* environment > defaults ---------------------------------------------------------------

ENV = {"MLPILOT_BUDGET": "90", "MLPILOT_SEED": "7", "MLPILOT_LLM_SHARE": "0.3", "MLPILOT_LLM_BUDGET": "20k tokens",
       "MLPILOT_N_JOBS": "3", "MLPILOT_LLM_MAX_TOKENS": "512", "MLPILOT_LLM_TIMEOUT": "30"}
FLAGS = {"budget": 45.0, "seed": 11, "llm_share": 0.1, "llm_budget": "$0.25", "n_jobs": 2, "llm_max_tokens": 256,
         "llm_timeout": 15.0}


def test_flags_win_over_the_environment() -> None:
    s = Settings.from_flags(FLAGS, env=ENV)
    assert (s.budget, s.seed, s.llm_share, s.n_jobs, s.llm_max_tokens, s.llm_timeout) == (45.0, 11, 0.1, 2, 256, 15.0)
    assert (s.llm_budget_usd, s.llm_budget_tokens) == (0.25, None)


def test_the_environment_wins_over_the_defaults() -> None:
    s = Settings.from_flags({}, env=ENV)
    assert (s.budget, s.seed, s.llm_share, s.n_jobs, s.llm_max_tokens, s.llm_timeout) == (90.0, 7, 0.3, 3, 512, 30.0)
    assert (s.llm_budget_usd, s.llm_budget_tokens) == (None, 20_000)


def test_the_defaults_when_nothing_is_set() -> None:
    s = Settings.from_flags({}, env={})
    assert s.budget is None, "no budget: the policy reads the goal or uses DEFAULT_BUDGET, and logs which"
    assert (s.seed, s.llm_share, s.llm_max_tokens) == (DEFAULT_SEED, DEFAULT_LLM_SHARE, DEFAULT_MAX_TOKENS)
    assert (s.llm_budget_usd, s.llm_budget_tokens, s.llm_model, s.api_key) == (None, None, None, None)
    assert s.n_jobs == usable_cores(), "every core this process may use (issue 10: all the machine)"
    assert s.runs_dir == Path("runs") and s.llm_prices == PRICES


@pytest.mark.parametrize(("flags", "env", "named"), [
    ({"budget": 1.0}, {}, "--budget"),
    ({}, {"MLPILOT_BUDGET": "2"}, "--budget"),
    ({}, {"MLPILOT_BUDGET": "soon"}, "MLPILOT_BUDGET"),
    ({"n_jobs": 0}, {}, "--n-jobs"),
    ({}, {"MLPILOT_N_JOBS": "many"}, "MLPILOT_N_JOBS"),
    ({}, {"MLPILOT_SEED": "abc"}, "MLPILOT_SEED"),
    ({"llm_share": 0.9}, {}, "--llm-share"),
    ({}, {"MLPILOT_LLM_SHARE": "0"}, "--llm-share"),
    ({"llm_budget": "lots"}, {}, "--llm-budget"),
    ({"llm_max_tokens": 10}, {}, "--llm-max-tokens"),
    ({"folds": 1}, {}, "--folds"),
    ({"max_trials": -1}, {}, "--max-trials"),
    ({"task": "ranking"}, {}, "--task"),
    ({}, {"MLPILOT_LLM_PRICES": "not json"}, "MLPILOT_LLM_PRICES"),
])
def test_a_bad_value_is_a_config_error_naming_the_option(flags: dict, env: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_flags(flags, env=env)


# ---- from_manifest ------------------------------------------------------------------------------------------

def everything_changed(tmp_path: Path) -> Settings:
    """A Settings in which every field differs from its default (checked below, so a new field must be
    added here and so proves it survives the manifest)."""
    return Settings(
        data=tmp_path / "data.csv", goal="predict churn; recall matters", target="churn", task="binary",
        metric="pr_auc", budget=75.5, runs_dir=tmp_path / "runs", home=tmp_path / "home", seed=3, n_jobs=2,
        max_trials=9, folds=4, delimiter=";", encoding="latin-1", keep=("id", "zip"), drop=("notes",),
        sensitive=("region",), not_sensitive=("age",), inherited={"name": "an identifier"}, quiet=True, json=True,
        yes=True, interactive=True,
        llm_model="gpt-4.1-mini", llm_base_url="http://127.0.0.1:8000/v1", llm_budget_usd=0.5,
        llm_budget_tokens=20_000, llm_timeout=12.5, llm_share=0.35, llm_max_tokens=300, llm_context=4096,
        llm_prices={"gpt-4.1-mini": (0.4, 1.6), "local": (0.0, 0.0)}, replay=tmp_path / "llm_calls.jsonl",
        parent="20240101T000000-data", api_key="sk-test", serve_token="serve-secret",
        storage="sqlite:///" + str(tmp_path / "studies.db"), dask="local", dask_workers=3, dask_memory="2GB",
        dask_sample=50_000)


def written(settings: Settings) -> dict[str, Any]:
    """``settings`` as a manifest holds them: through JSON, as the run folder writes and reads them."""
    return json.loads(json.dumps(settings.public()))


def test_public_never_holds_the_key() -> None:
    public = Settings(api_key="sk-secret", serve_token="serve-secret").public()
    assert "api_key" not in public and public["api_key_set"] is True
    assert "sk-secret" not in json.dumps(public) and "serve-secret" not in json.dumps(public)


def test_from_manifest_restores_every_field(tmp_path: Path) -> None:
    original = everything_changed(tmp_path)
    defaults = Settings()
    assert all(getattr(original, f.name) != getattr(defaults, f.name) for f in fields(Settings)), \
        "every field must differ from its default, or the round trip proves nothing for it"
    local = ("api_key", "home", "llm_base_url", "serve_token", "storage")
    env = {"OPENAI_API_KEY": "sk-other", "MLPILOT_HOME": str(tmp_path / "my_home"),
           "OPENAI_BASE_URL": "http://127.0.0.1:9999/v1"}
    restored = Settings.from_manifest(written(original), overrides={}, env=env)
    for f in fields(Settings):
        if f.name not in local:
            assert getattr(restored, f.name) == getattr(original, f.name), f.name
            assert type(getattr(restored, f.name)) is type(getattr(original, f.name)), f.name
    assert restored.api_key == "sk-other", "the key comes from the environment, never the manifest"
    assert restored.home == tmp_path / "my_home" and restored.llm_base_url == "http://127.0.0.1:9999/v1"


def test_a_run_folder_never_chooses_where_the_key_goes_or_whose_signing_key_counts(tmp_path: Path) -> None:
    """A manifest may be someone else's: the API key, the endpoint that receives it and the data folder
    (with the signing key) come from this environment; the rest of the recorded settings are kept."""
    env = {"MLPILOT_SEED": "99", "MLPILOT_LLM_BUDGET": "$9", "MLPILOT_LLM_SHARE": "0.1", "MLPILOT_N_JOBS": "7",
           "OPENAI_BASE_URL": "http://elsewhere/v1", "MLPILOT_RUNS_DIR": "/elsewhere", "MLPILOT_HOME": "/mine"}
    restored = Settings.from_manifest(written(everything_changed(tmp_path)), env=env)
    assert (restored.seed, restored.llm_budget_usd, restored.llm_share, restored.n_jobs) == (3, 0.5, 0.35, 2)
    assert restored.runs_dir == tmp_path / "runs"
    assert restored.llm_base_url == "http://elsewhere/v1" and restored.home == Path("/mine")
    assert restored.api_key is None
    unset = Settings.from_manifest(written(everything_changed(tmp_path)), env={})
    assert unset.llm_base_url is None, "no endpoint in this environment: none is taken from the folder"


def test_a_password_in_the_base_url_is_not_recorded(tmp_path: Path) -> None:
    s = everything_changed(tmp_path).with_(llm_base_url="http://me:s3cret-pass@127.0.0.1:8000/v1")
    assert s.public()["llm_base_url"] == "http://me:[redacted]@127.0.0.1:8000/v1"
    assert "s3cret-pass" not in json.dumps(s.public())


def test_overrides_win_and_are_typed_and_checked(tmp_path: Path) -> None:
    recorded = written(everything_changed(tmp_path))
    s = Settings.from_manifest(recorded, overrides={"data": str(tmp_path / "new.csv"), "budget": 30,
                                                    "keep": ["a"]}, env={})
    assert (s.data, s.budget, s.keep) == (tmp_path / "new.csv", 30.0, ("a",))
    with pytest.raises(ConfigError, match="--budget"):
        Settings.from_manifest(recorded, overrides={"budget": 1}, env={})
    with pytest.raises(TypeError):
        Settings.from_manifest(recorded, overrides={"no_such_setting": 1}, env={})


def test_a_damaged_manifest_value_is_a_config_error_naming_it(tmp_path: Path) -> None:
    recorded = {**written(everything_changed(tmp_path)), "seed": "abc"}
    with pytest.raises(ConfigError, match="seed"):
        Settings.from_manifest(recorded, env={})


def test_an_old_manifest_without_the_newer_settings_loads_with_defaults() -> None:
    # What a manifest held before the LLM budget, share, timeout, reply cap and price table were recorded.
    old = {"data": "titanic.csv", "goal": "predict who survived", "target": None, "task": None, "metric": None,
           "budget": 60.0, "runs_dir": "runs", "seed": 42, "n_jobs": 1, "max_trials": None, "folds": None,
           "delimiter": None, "encoding": None, "keep": [], "drop": [], "quiet": False, "json": False, "yes": False,
           "llm_model": None, "api_key_set": False}
    s = Settings.from_manifest(old, env={})
    assert (s.data, s.budget, s.keep) == (Path("titanic.csv"), 60.0, ())
    assert (s.llm_budget_usd, s.llm_budget_tokens, s.llm_share, s.llm_max_tokens, s.llm_timeout) == (
        None, None, DEFAULT_LLM_SHARE, DEFAULT_MAX_TOKENS, 60.0)
    assert (s.inherited, s.interactive, s.replay, s.parent, s.llm_prices) == ({}, False, None, None, PRICES)


# ---- resume, retrain and rerun keep the run's settings ------------------------------------------------------

def manifest_of(settings: Settings, **extra: Any) -> dict[str, Any]:
    return {"run_id": "20240101T000000-data", "status": "interrupted", "settings": written(settings), **extra}


def test_resume_keeps_every_setting_and_the_llm_budget(tmp_path: Path) -> None:
    # Without a database: resuming one needs its URL from this environment (tests/test_storage.py).
    original = everything_changed(tmp_path).with_(llm_budget_tokens=None, interactive=False, yes=False, storage=None)
    s = resume_settings(tmp_path, manifest_of(original, budget=80.0), budget=None, runs_dir=tmp_path / "other",
                        interactive=True, ask=True)
    assert (s.llm_budget_usd, s.llm_budget_tokens) == (0.5, None)
    assert (s.budget, s.runs_dir, s.interactive, s.yes) == (80.0, tmp_path / "other", True, False)
    same = ("data", "goal", "seed", "n_jobs", "folds", "keep", "drop", "inherited", "llm_model", "llm_share",
            "llm_max_tokens", "llm_timeout", "llm_prices", "replay", "parent", "max_trials")
    assert {k: getattr(s, k) for k in same} == {k: getattr(original, k) for k in same}
    tokens = resume_settings(tmp_path, manifest_of(original.with_(llm_budget_usd=None, llm_budget_tokens=5_000)),
                             budget=20.0, runs_dir=tmp_path, interactive=False, ask=False)
    assert (tokens.llm_budget_usd, tokens.llm_budget_tokens, tokens.budget, tokens.yes) == (None, 5_000, 20.0, True)


def test_retrain_keeps_the_parents_settings_and_llm_budget(tmp_path: Path) -> None:
    parent_settings = everything_changed(tmp_path).with_(llm_budget_usd=None, llm_budget_tokens=8_000)
    plan = {"target": "Survived", "task": "binary", "metric": "roc_auc", "dropped": {"Name": "an identifier"}}
    parent = manifest_of(parent_settings, budget=60.0, plan=plan)
    command = Settings.from_flags({"runs_dir": str(tmp_path / "child_runs"), "max_trials": 6}, env={})
    s = child_settings(parent, command, tmp_path / "combined.parquet")
    assert (s.llm_budget_usd, s.llm_budget_tokens) == (None, 8_000)
    assert (s.llm_model, s.llm_share, s.llm_max_tokens, s.llm_timeout, s.n_jobs, s.folds, s.seed) == (
        "gpt-4.1-mini", 0.35, 300, 12.5, 2, 4, 3)
    assert (s.keep, s.drop, s.goal) == (("id", "zip"), ("notes",), parent_settings.goal)
    assert (s.data, s.target, s.metric, s.inherited) == (tmp_path / "combined.parquet", "Survived", "roc_auc",
                                                         {"Name": "an identifier"})
    assert (s.budget, s.max_trials, s.runs_dir) == (60.0, 6, tmp_path / "child_runs")
    assert (s.parent, s.replay, s.quiet, s.json) == (parent["run_id"], None, False, False)


def test_rerun_keeps_the_settings_and_replays_offline(tmp_path: Path) -> None:
    original = everything_changed(tmp_path).with_(replay=None)
    command = Settings.from_flags({"runs_dir": str(tmp_path / "runs2")}, env={})
    env = {"OPENAI_API_KEY": "sk-live", "OPENAI_BASE_URL": "http://elsewhere/v1"}
    s = rerun_settings(tmp_path, manifest_of(original), command, budget=None, replay=False, env=env)
    assert (s.llm_budget_usd, s.llm_budget_tokens, s.llm_share, s.budget) == (0.5, 20_000, 0.35, 75.5)
    assert (s.parent, s.runs_dir, s.api_key, s.replay) == ("20240101T000000-data", tmp_path / "runs2", "sk-live", None)
    with pytest.raises(ConfigError, match="no LLM calls"):
        rerun_settings(tmp_path, manifest_of(original), command, budget=None, replay=True, env=env)
    (tmp_path / "llm_calls.jsonl").write_text("", encoding="utf-8")
    replay = rerun_settings(tmp_path, manifest_of(original), command, budget=40.0, replay=True, env=env)
    assert (replay.replay, replay.api_key, replay.llm_base_url) == (tmp_path / "llm_calls.jsonl", None, None)
    assert (replay.llm_model, replay.llm_budget_usd, replay.budget) == ("gpt-4.1-mini", 0.5, 40.0)
