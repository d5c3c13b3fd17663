"""``mlpilot predict``: new rows through a run's saved pipeline, checked against the run's schema.

The model file must be the one the run saved: its sha256 is compared with the manifest's before it is
unpickled (unpickling runs code, so a changed file is refused, not loaded). Each prediction call is
recorded under the run's ``predictions/`` folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from agent.record.runfolder import MODEL, read_json, write_json
from tools.conform import conform
from tools.errors import ConfigError
from tools.intake import read_table
from tools.model import ModelSpec, predict_table
from tools.sniff import file_sha256


@dataclass
class PredictOutcome:
    output: Path
    rows: int
    notes: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


def load_run_model(run_dir: Path) -> tuple[object, dict]:
    """The run's fitted pipeline and its manifest, after checking the file's hash.

    Raises:
        ConfigError: no model in the run, or a model file whose hash differs from the manifest's.
    """
    import joblib

    manifest = read_json(run_dir / "manifest.json")
    model_info = manifest.get("model")
    path = run_dir / MODEL
    if not model_info or not path.exists():
        raise ConfigError(f"The run '{run_dir.name}' has no saved model (status: {manifest.get('status')}). "
                          "Predict with a run that finished fitting one (see `mlpilot runs`).")
    digest = file_sha256(path)
    if digest != model_info["sha256"]:
        raise ConfigError(f"Refusing to load {path}: its sha256 ({digest[:12]}...) differs from the one the run "
                          f"recorded ({model_info['sha256'][:12]}...). The file was changed after the run; loading "
                          "it could run foreign code. Re-run mlpilot to get a trusted model.")
    return joblib.load(path), manifest


def predict_run(run_dir: Path, data: Path, output: Path, *, delimiter: str | None = None,
                encoding: str | None = None, with_input: bool = False) -> PredictOutcome:
    """Predict ``data`` with the run's model and write ``output`` (CSV, or Parquet by extension)."""
    model, manifest = load_run_model(run_dir)
    spec = ModelSpec.from_dict(manifest["model"]["spec"])
    features: list[str] = manifest["model"]["features"]
    target = (manifest.get("plan") or {}).get("target") or manifest.get("settings", {}).get("target")
    table = read_table(data, delimiter=delimiter, encoding=encoding)
    schema = manifest["data"]["schema"]
    frame, notes = conform(table, schema, required=features, expected_absent=[target] if target else [])
    notes += _unseen_levels(frame, run_dir)
    result = predict_table(model, frame, spec)
    if with_input:
        result = pd.concat([table.frame.reset_index(drop=True), result.reset_index(drop=True)], axis=1)
    output = Path(output)
    if output.parent and not output.parent.exists():
        raise ConfigError(f"The folder of --output '{output}' does not exist. Create it or choose another path.")
    tmp = output.with_name(f".{output.name}.tmp")
    if output.suffix.lower() in (".parquet", ".pq"):
        result.to_parquet(tmp, index=False)
    else:
        result.to_csv(tmp, index=False)
    os.replace(tmp, output)
    record_dir = run_dir / "predictions"
    record_dir.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    write_json(record_dir / f"{stamp}.json", {"data": str(data), "data_sha256": table.sha256, "rows": len(result),
                                              "output": str(output), "notes": notes, "target_in_data": bool(
                                                  target and target in table.frame.columns)})
    return PredictOutcome(output, len(result), notes, list(result.columns))


def _unseen_levels(frame: pd.DataFrame, run_dir: Path) -> list[str]:
    """A note per categorical column with values the model never saw (handled as unknown, worth knowing)."""
    path = run_dir / "reference.json"
    if not path.exists():
        return []
    features = read_json(path).get("features", {})
    notes = []
    for col, ref in features.items():
        complete = ref.get("kind") == "categorical" and ref.get("n_levels", 0) == len(ref.get("levels", {}))
        if not complete or col not in frame.columns:
            continue
        values = frame[col].dropna().astype(str)
        unseen = values[~values.isin(set(ref["levels"]))]
        if len(unseen):
            examples = ", ".join(repr(v) for v in unseen.unique()[:3])
            notes.append(f"column '{col}': {len(unseen):,} value(s) never seen in training (e.g. {examples}); "
                         "treated as unknown")
    return notes
