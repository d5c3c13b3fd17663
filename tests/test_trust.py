"""A run folder is untrusted input: code planted in it never runs unless the user vouches for the folder.

One real run is made with one user's signing key; each test copies it and plants what
an attacker would: a pickle that runs a shell command in ``model.joblib`` (with the manifest's hash
updated to match, and even a signature made with the attacker's own key), in ``results.joblib``, and a
value in ``checkpoints.sqlite`` that LangGraph's permissive default would construct by calling
``os.system``. ``predict``, ``monitor``, ``retrain`` and ``resume`` must refuse each with exit 2, and
the command must not have run. A folder made by someone else (another data folder) loads only with
``--trust``, which is warned about and logged.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import joblib
import ormsgpack
import pytest
from langgraph.checkpoint.serde.jsonplus import EXT_CONSTRUCTOR_SINGLE_ARG, JsonPlusSerializer

from agent.record.trust import signature
from tests.cli_helpers import DATASETS, mlpilot
from tools.sniff import file_sha256

TITANIC = DATASETS / "titanic.csv"


class Planted:
    """Unpickling this runs ``command`` in a shell (what a crafted pickle does)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return (os.system, (self.command,))


@pytest.fixture(scope="module")
def made(finished_run: Path, one_signing_key: Path) -> tuple[Path, Path]:
    """A finished titanic run and the signing key of the user who made it."""
    assert one_signing_key.exists()
    return finished_run, one_signing_key


@pytest.fixture()
def folder(made: tuple[Path, Path], tmp_path: Path) -> Path:
    run_dir, _ = made
    copy = tmp_path / "runs" / run_dir.name
    shutil.copytree(run_dir, copy)
    return copy


def _owner(made: tuple[Path, Path]) -> dict:
    return {"MLPILOT_SIGNING_KEY": str(made[1])}


def _marker(tmp_path: Path) -> tuple[Path, str]:
    marker = tmp_path / "planted_code_ran"
    return marker, f"touch {marker}"


def _plant_pickle(run_dir: Path, name: str, command: str, attacker_home: Path) -> None:
    """Replace ``name`` with a command-running pickle; make the manifest's hash match and sign it with the
    attacker's own key, as someone crafting the folder would."""
    path = run_dir / name
    joblib.dump(Planted(command), path)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    entry = manifest["model"] if name == "model.joblib" else manifest["results"]
    entry["sha256"] = file_sha256(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLPILOT_SIGNING_KEY")
        entry["signature"] = signature(attacker_home, path)
    assert (attacker_home / "signing.key").exists()
    (run_dir / "manifest.json").write_text(json.dumps(manifest))


def _plant_checkpoint(run_dir: Path, command: str) -> None:
    """Put a value into every checkpoint that LangGraph's permissive default reads as ``os.system(command)``."""
    conn = sqlite3.connect(run_dir / "checkpoints.sqlite")
    keep = ormsgpack.OPT_NON_STR_KEYS
    with conn:
        for rowid, blob in conn.execute("select rowid, checkpoint from checkpoints").fetchall():
            value = ormsgpack.unpackb(blob, ext_hook=lambda code, data: ormsgpack.Ext(code, data), option=keep)
            value["channel_values"]["target"] = ormsgpack.Ext(EXT_CONSTRUCTOR_SINGLE_ARG,
                                                              ormsgpack.packb(("os", "system", command)))
            conn.execute("update checkpoints set checkpoint = ? where rowid = ?",
                         (ormsgpack.packb(value, option=keep), rowid))
    conn.close()


def _interrupted(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))


def _refused(proc: object, marker: Path, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr
    assert not marker.exists(), "the planted code ran"


@pytest.mark.parametrize("command", ["predict", "monitor", "retrain"])
def test_a_planted_model_pickle_is_refused(command: str, made: tuple, folder: Path, tmp_path: Path) -> None:
    marker, shell = _marker(tmp_path)
    _plant_pickle(folder, "model.joblib", shell, tmp_path / "attacker_home")
    args = {"predict": ["predict", str(folder), str(TITANIC), "-o", str(tmp_path / "out.csv")],
            "monitor": ["monitor", str(folder), str(TITANIC)],
            "retrain": ["retrain", str(folder), str(TITANIC), "--budget", "8"]}[command]
    proc = mlpilot(*args, runs_dir=folder.parent, env=_owner(made))
    _refused(proc, marker, "model.joblib", "not", "--trust")
    assert not (tmp_path / "out.csv").exists()
    assert [p.name for p in folder.parent.iterdir() if p.is_dir() and not p.name.startswith(".")] == [folder.name], \
        "retraining started before the parent's model was checked"


def test_planted_results_are_refused_on_resume(made: tuple, folder: Path, tmp_path: Path) -> None:
    marker, shell = _marker(tmp_path)
    _plant_pickle(folder, "results.joblib", shell, tmp_path / "attacker_home")
    _interrupted(folder)
    proc = mlpilot("resume", str(folder), "--budget", "8", runs_dir=folder.parent, env=_owner(made))
    _refused(proc, marker, "results.joblib", "--trust")


def test_a_planted_checkpoint_is_refused_on_resume(made: tuple, folder: Path, tmp_path: Path) -> None:
    marker, shell = _marker(tmp_path)
    _plant_checkpoint(folder, shell)
    # The plant is live: LangGraph's default (permissive) serializer would run it.
    conn = sqlite3.connect(folder / "checkpoints.sqlite")
    blob = conn.execute("select checkpoint from checkpoints limit 1").fetchone()[0]
    conn.close()
    JsonPlusSerializer(allowed_msgpack_modules=True).loads_typed(("msgpack", blob))
    assert marker.exists(), "the planted checkpoint value does not execute: the test plants nothing"
    marker.unlink()

    _interrupted(folder)
    proc = mlpilot("resume", str(folder), "--budget", "8", runs_dir=folder.parent, env=_owner(made))
    _refused(proc, marker, "checkpoint", "os.system")


def test_someone_else_s_folder_needs_trust_which_is_warned_about_and_logged(folder: Path, tmp_path: Path) -> None:
    other = {"MLPILOT_HOME": str(tmp_path / "another_user"), "MLPILOT_SIGNING_KEY": ""}
    out = tmp_path / "out.csv"
    proc = mlpilot("predict", str(folder), str(TITANIC), "-o", str(out), runs_dir=folder.parent, env=other)
    assert proc.returncode == 2 and "--trust" in proc.stderr and not out.exists(), proc.stderr

    proc = mlpilot("predict", str(folder), str(TITANIC), "-o", str(out), "--trust", "--json", runs_dir=folder.parent,
                   env=other)
    assert proc.returncode == 0, proc.stderr
    assert "warning: --trust" in proc.stderr and "runs whatever code" in proc.stderr
    assert len(out.read_text().splitlines()) == 892
    assert any("vouched" in note for note in json.loads(proc.stdout)["notes"])
    trust_log = tmp_path / "another_user" / "trusted_folders.jsonl"
    logged = [json.loads(line) for line in trust_log.read_text().splitlines()]
    assert logged[-1]["file"] == str((folder / "model.joblib").resolve())
    assert logged[-1]["sha256"] == file_sha256(folder / "model.joblib")
    record = json.loads(sorted((folder / "predictions").glob("*.json"))[-1].read_text())
    assert any("vouched" in note for note in record["notes"])


def test_a_manifest_cannot_choose_the_signing_key_or_the_endpoint(made: tuple, folder: Path, tmp_path: Path) -> None:
    """A crafted manifest naming the attacker's data folder (and key) as ``home`` is not believed."""
    attacker = tmp_path / "attacker_home"
    assert made[1].exists() and not (attacker / "signing.key").exists()
    marker, shell = _marker(tmp_path)
    _plant_pickle(folder, "results.joblib", shell, attacker)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["settings"].update(home=str(attacker), llm_base_url="http://attacker.invalid/v1")
    manifest["status"] = "interrupted"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    # The owner's key in their data folder, where a manifest's ``home`` would redirect the lookup if believed.
    owner_home = tmp_path / "owner_home"
    owner_home.mkdir()
    shutil.copy(made[1], owner_home / "signing.key")
    proc = mlpilot("resume", str(folder), "--budget", "8", runs_dir=folder.parent,
                   env={"MLPILOT_SIGNING_KEY": "", "MLPILOT_HOME": str(owner_home)})
    _refused(proc, marker, "results.joblib")
