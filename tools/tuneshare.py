"""What a run shares with `mlpilot worker` processes on other machines, in its folder (``RUN/tuning/``), in
formats that load without running code (Parquet, NumPy arrays without pickles, JSON):

- ``data.parquet``, ``target.npz``, ``folds.npz``: the training rows and folds the run tunes on, exactly;
- ``tuning.json``: task, classes, metric, column plan, seed, and the studies' storage prefix;
- ``clock.json``: the tuning deadline as wall-clock time and the candidates still tuned, rewritten by the
  run as its plan moves (a worker reads it before each trial, so all share the run's one clock);
- ``results/<worker>/<candidate>#<trial>.npz`` and ``.json``: each complete trial a worker ran, with its
  out-of-fold predictions, which the run adds to its ensemble pool.

Every file is written to a temporary name and renamed into place, so a reader never sees half of one.
The folder must be on storage every machine reads (NFS, a shared volume); the studies themselves are in the
database (`tools.storage`).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tools.crossval import CVResult, TrainingData
from tools.preprocess import ColumnPlan
from tools.wholefile import write_whole

SHARE = "tuning"
INFO, CLOCK, RESULTS = "tuning.json", "clock.json", "results"


def _arrays(path: Path, **arrays: np.ndarray) -> None:
    with open(path, "wb") as out:  # a file object: np.savez would add ".npz" to a bare temporary name
        np.savez(out, **arrays)


def _json(path: Path, data: dict) -> None:
    write_whole(path, lambda tmp: tmp.write_text(json.dumps(data), encoding="utf-8"))


def write_share(folder: Path, data: TrainingData, info: dict) -> None:
    """The training data, folds and facts a worker needs, into ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_whole(folder / "data.parquet", lambda tmp: data.X.reset_index(drop=True).to_parquet(tmp, index=False))
    write_whole(folder / "target.npz", lambda tmp: _arrays(tmp, y=np.asarray(data.y)))
    arrays = {f"{kind}{i}": np.asarray(idx) for i, fold in enumerate(data.folds) for kind, idx in zip("tv", fold)}
    write_whole(folder / "folds.npz", lambda tmp: _arrays(tmp, **arrays))
    _json(folder / INFO, {**info, "task": data.task, "classes": list(data.classes), "plan": data.plan.to_dict(),
                          "seed": data.seed, "folds": len(data.folds)})


def read_share(folder: Path) -> tuple[TrainingData, dict]:
    """The shared training data (with folds) and facts, as the run wrote them."""
    info = json.loads((folder / INFO).read_text(encoding="utf-8"))
    X = pd.read_parquet(folder / "data.parquet")
    with np.load(folder / "target.npz", allow_pickle=False) as saved:
        y = saved["y"]
    with np.load(folder / "folds.npz", allow_pickle=False) as arrays:
        folds = [(arrays[f"t{i}"], arrays[f"v{i}"]) for i in range(info["folds"])]
    data = TrainingData(X, y, info["task"], info["classes"], ColumnPlan.from_dict(info["plan"]), folds, info["seed"])
    return data, info


def write_clock(folder: Path, *, deadline: float, active: dict[str, float], done: bool = False) -> None:
    """When tuning ends (``deadline``: seconds since the epoch) and what is still tuned, with its shares."""
    _json(folder / CLOCK, {"deadline": deadline, "active": active, "done": done, "written": time.time()})


def read_clock(folder: Path) -> dict:
    return json.loads((folder / CLOCK).read_text(encoding="utf-8"))


def save_result(folder: Path, worker: str, name: str, cv: CVResult) -> None:
    """A worker's complete trial ``name`` (``candidate#number``), out-of-fold predictions included."""
    mine = folder / RESULTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", worker)
    mine.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.#-]+", "_", name)
    write_whole(mine / f"{stem}.npz", lambda tmp: _arrays(tmp, oof=np.asarray(cv.oof)))
    _json(mine / f"{stem}.json", {"name": name, "worker": worker, "candidate": cv.candidate, "params": cv.params,
                                  "scores": [float(s) for s in cv.scores], "fit_seconds": cv.fit_seconds,
                                  "iterations": [int(i) for i in cv.iterations], "complete": cv.complete})


def load_results(folder: Path) -> dict[str, tuple[str, CVResult]]:
    """Every worker's saved trials: name -> (worker, result). A pair cut short (a killed worker) is skipped."""
    out: dict[str, tuple[str, CVResult]] = {}
    for meta in sorted((folder / RESULTS).glob("*/*.json")):
        arrays = meta.with_suffix(".npz")
        try:
            facts = json.loads(meta.read_text(encoding="utf-8"))
            with np.load(arrays, allow_pickle=False) as saved:
                oof = saved["oof"]
        except (OSError, ValueError, KeyError):
            continue
        out[facts["name"]] = (facts["worker"], CVResult(facts["candidate"], facts["params"], facts["scores"],
                                                       facts["fit_seconds"], oof, facts["iterations"],
                                                       facts["complete"]))
    return out


def unshare(folder: Path) -> int:
    """Remove the shared rows, folds and workers' predictions (the tuning is over); returns bytes freed.
    ``tuning.json`` and ``clock.json`` stay: they say what was shared and that tuning ended."""
    freed = 0
    paths = [folder / n for n in ("data.parquet", "target.npz", "folds.npz")]
    paths += sorted((folder / RESULTS).glob("*/*")) if (folder / RESULTS).exists() else []
    for path in paths:
        try:
            size = path.stat().st_size
            path.unlink()
            freed += size
        except OSError:  # already gone, or a worker's file on a share that refuses: nothing to keep it for
            continue
    for sub in sorted((folder / RESULTS).glob("*")) if (folder / RESULTS).exists() else []:
        try:
            sub.rmdir()
        except OSError:
            pass
    return freed
