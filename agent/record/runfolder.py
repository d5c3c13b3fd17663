"""The run folder: its name, its manifest, and safe writes of its artifacts.

Files are written to a temporary name and renamed into place, so a reader (or a run killed mid-write)
never sees half a file. See README "The run folder" for what each file holds.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import platform
import re
import secrets
import shlex
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from tools.errors import ConfigError, storage_full
from tools.jsonable import jsonable
from tools.redact import redact_urls
from tools.wholefile import write_whole

MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
MODEL = "model.joblib"
PACKAGES = ("mlpilot", "pandas", "numpy", "scikit-learn", "lightgbm", "xgboost", "catboost", "optuna", "scipy",
            "pyarrow", "joblib", "langgraph", "openai", "rich")


def new_run_dir(runs_dir: Path, data_name: str) -> tuple[str, Path]:
    """Create ``runs_dir/<date>-<time>-<data>-<suffix>`` and return (run id, path)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(data_name).stem).strip("-")[:40] or "data"
    run_id = f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{stem}-{secrets.token_hex(2)}"
    path = Path(runs_dir) / run_id
    try:
        path.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise ConfigError(f"Cannot create the run folder '{path}': {exc.strerror or exc}. "
                          "Choose a writable folder with --runs-dir or MLPILOT_RUNS_DIR.") from None
    return run_id, path


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    write_text(path, json.dumps(jsonable(data), indent=2, ensure_ascii=False) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` whole or not at all (see `_write_whole`)."""
    _write_whole(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def dump_pickle(obj: Any, path: Path) -> None:
    """Pickle ``obj`` to ``path`` with joblib, whole or not at all (see `_write_whole`)."""
    import joblib

    _write_whole(path, lambda tmp: joblib.dump(obj, tmp))


def _write_whole(path: Path, write: Callable[[Path], object]) -> None:
    """``write`` a temporary file beside ``path``, then rename it into place; the temporary file never
    outlives an error, and the old file, if any, stays as it was.

    Raises:
        StorageFull: no room to write.
    """
    try:
        write_whole(path, write)
    except OSError as exc:
        raise storage_full(exc, path) or exc from None


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_manifest(run_dir: Path) -> dict:
    """A run folder's manifest.json, or a clear error when it is missing or damaged.

    Raises:
        ConfigError: no manifest.json, or one that is not a JSON object.
    """
    path = Path(run_dir) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"'{run_dir}' has no {MANIFEST}, so it is not an mlpilot run folder.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}): the run folder is damaged or not an mlpilot run "
                          "folder.") from None
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
        raise ConfigError(f"{path} is not an mlpilot manifest (a JSON object with a run_id): the run folder is "
                          "damaged or not an mlpilot run folder.")
    return data


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


class Manifest:
    """manifest.json, updated in place (atomically) as the run goes."""

    def __init__(self, run_dir: Path, data: dict[str, Any]) -> None:
        self.path = Path(run_dir) / MANIFEST
        self.data = data
        self.save()

    @classmethod
    def create(cls, run_dir: Path, run_id: str, settings: dict, argv: list[str]) -> "Manifest":
        return cls(run_dir, {
            "run_id": run_id, "mlpilot_schema": 1,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "status": "running", "goal": settings.get("goal", ""), "settings": settings,
            "seed": settings.get("seed"), "command": redact_urls(shlex.join(["mlpilot"] + argv)),
            "packages": package_versions(), "timings": {}, "data": {}, "artifacts": {},
        })

    def update(self, **changes: Any) -> None:
        self.data.update(jsonable(changes))
        self.save()

    def save(self) -> None:
        write_json(self.path, self.data)


def resolve_run(run: str | Path, runs_dir: Path) -> Path:
    """A run folder from a path or a run id (or a unique prefix of one) under ``runs_dir``.

    Raises:
        ConfigError: no such run, or an ambiguous prefix; the message lists recent runs.
    """
    path = Path(run)
    if (path / MANIFEST).exists():
        return path
    # A run id, a prefix of one, or a shell-style pattern ('*titanic*'), matched against folder names only.
    wanted = path.name
    pattern = wanted if any(ch in wanted for ch in "*?[") else f"{glob.escape(wanted)}*"
    folders = [p for p in Path(runs_dir).iterdir() if p.is_dir()] if Path(runs_dir).is_dir() else []
    candidates = sorted(p for p in folders if fnmatch.fnmatchcase(p.name, pattern) and (p / MANIFEST).exists())
    if len(candidates) == 1:
        return candidates[0]
    recent = sorted((p.name for p in folders if (p / MANIFEST).exists()), reverse=True)[:5]
    if len(candidates) > 1:
        raise ConfigError(f"'{run}' matches {len(candidates)} runs ({', '.join(p.name for p in candidates[:5])}); "
                          "give more of the run id.")
    hint = f" Recent runs in {runs_dir}: {', '.join(recent)}." if recent else f" There are no runs in {runs_dir}."
    raise ConfigError(f"No run folder at '{run}' (a folder with {MANIFEST}).{hint}")
