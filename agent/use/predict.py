"""``mlpilot predict``: new rows through a run's saved pipeline, checked against the run's schema.

The model file is a pickle, so it is loaded only when it carries this user's signature or the user vouches
for the run folder (see `agent.record.trust`). Each prediction call is recorded under the run's
``predictions/`` folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from agent.record.runfolder import MODEL, read_json, read_manifest, write_json
from agent.record.trust import check_pickle
from agent.use.outputfile import output_format, write_table
from tools.conform import conform
from tools.errors import ConfigError
from tools.intake import Table, read_table
from tools.model import ModelSpec, predict_table


@dataclass
class PredictOutcome:
    output: Path
    rows: int
    notes: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


def load_run_model(run_dir: Path, *, home: Path, trust: bool = False) -> tuple[object, dict, list[str]]:
    """The run's fitted pipeline, its manifest, and the warnings to show (loaded only on the user's word).

    The model file is a pickle, which runs code when loaded: it is loaded when it carries this user's
    signature (mlpilot signed it when it saved it), or when the user vouches for the folder (``trust``).

    Raises:
        ConfigError: no model in the run, or a model file that is not signed by this user (`UntrustedFile`).
    """
    import joblib

    manifest = read_manifest(run_dir)
    model_info = manifest.get("model")
    path = run_dir / MODEL
    if not isinstance(model_info, dict) or not path.exists():
        raise ConfigError(f"The run '{run_dir.name}' has no saved model (status: {manifest.get('status')}). "
                          "Predict with a run that finished fitting one (see `mlpilot runs`).")
    warning = check_pickle(path, model_info.get("signature"), home=home, trust=trust, what="the run's model")
    return joblib.load(path), manifest, [warning] if warning else []


@dataclass
class RunModel:
    """A run's model loaded once, with what predicting needs: its manifest, spec, input columns, target,
    training schema and reference (for unseen categories). `mlpilot predict` and `mlpilot serve` both
    predict through it, so the same rows get the same predictions and the same notes."""

    run_dir: Path
    model: object
    manifest: dict
    warnings: list[str]
    reference: dict = field(default_factory=dict)

    @classmethod
    def load(cls, run_dir: Path, *, home: Path, trust: bool = False) -> RunModel:
        model, manifest, warnings = load_run_model(run_dir, home=home, trust=trust)
        path = Path(run_dir) / "reference.json"
        return cls(Path(run_dir), model, manifest, warnings, read_json(path) if path.exists() else {})

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec.from_dict(self.manifest["model"]["spec"])

    @property
    def features(self) -> list[str]:
        return list(self.manifest["model"]["features"])

    @property
    def target(self) -> str | None:
        return (self.manifest.get("plan") or {}).get("target") or self.manifest.get("settings", {}).get("target")

    @property
    def schema(self) -> list[dict]:
        return list(self.manifest["data"]["schema"])

    def predict(self, batch: pd.DataFrame | Table) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
        """(the batch conformed to the training schema, its predictions, notes) for a batch as read by
        `read_table` (or a frame built from records).

        Raises:
            DataError: a column the model needs is missing.
        """
        target = self.target
        frame, notes = conform(batch, self.schema, required=self.features,
                               expected_absent=[target] if target else [])
        if isinstance(batch, Table):  # the batch's own reading warnings (infinite values, short rows, names)
            notes = list(batch.warnings) + notes
        notes += _unseen_levels(frame, self.reference) + _empty_rows(frame, self.features)
        return frame, predict_table(self.model, frame, self.spec), notes


def predict_run(run_dir: Path, data: Path, output: Path, *, home: Path, trust: bool = False,
                delimiter: str | None = None, encoding: str | None = None, with_input: bool = False) -> PredictOutcome:
    """Predict ``data`` with the run's model and write ``output`` (CSV, TSV or Parquet by its suffix)."""
    output = Path(output)
    fmt = output_format(output, inputs=(Path(data),))
    run = RunModel.load(run_dir, home=home, trust=trust)
    target = run.target
    table = read_table(data, delimiter=delimiter, encoding=encoding)
    _frame, result, notes = run.predict(table)
    notes = run.warnings + notes
    if with_input:
        result = pd.concat([table.frame.reset_index(drop=True), result.reset_index(drop=True)], axis=1)
    write_table(result, output, fmt)
    record = {"data": str(data), "data_sha256": table.sha256, "rows": len(result), "output": str(output),
              "notes": notes, "target_in_data": bool(target and target in table.frame.columns)}
    record_prediction(run_dir, record, notes)
    return PredictOutcome(output, len(result), notes, list(result.columns))


def record_prediction(run_dir: Path, record: dict, notes: list[str]) -> None:
    """Record a prediction call under the run's ``predictions/``; a note when that cannot be written."""
    try:
        record_dir = run_dir / "predictions"
        record_dir.mkdir(exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        write_json(record_dir / f"{stamp}.json", record)
    except OSError as exc:  # the predictions are written; only the run's own record of them is missing
        notes.append(f"this prediction is not recorded in the run folder ({exc.strerror or exc}: "
                     f"{run_dir / 'predictions'})")


def _empty_rows(frame: pd.DataFrame, features: list[str]) -> list[str]:
    """A note when rows have no value in any feature: their predictions say nothing about them."""
    empty = int(frame[[c for c in features if c in frame.columns]].isna().all(axis=1).sum())
    if not empty:
        return []
    return [f"{empty:,} row(s) have no value in any of the model's {len(features)} input columns: their predictions "
            "are the same guess for all of them, not informed by the row"]


def _unseen_levels(frame: pd.DataFrame, reference: dict) -> list[str]:
    """A note per categorical column with values the model never saw (handled as unknown, worth knowing)."""
    notes = []
    for col, ref in reference.get("features", {}).items():
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
