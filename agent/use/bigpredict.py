"""``mlpilot predict --dask``: a batch too big for one process predicted on a Dask cluster, partition by
partition, through the same `RunModel` as ``mlpilot predict`` (so the same rows get the same predictions).

The model is loaded and its trust checked here, before anything reaches the cluster; each worker gets it
once. Predictions come back in the file's order and are written one partition at a time to a temp file
beside the output, renamed into place once complete, so memory holds a partition's predictions at most
and a failed batch leaves nothing half-written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from agent.use.outputfile import output_format, write_output
from agent.use.predict import PredictOutcome, RunModel, record_prediction
from tools.bigdata import open_client, open_frame
from tools.sniff import file_sha256

HEAD_CELLS = 200_000
# A batch's notes repeat per partition (counts differ); this many distinct ones are kept.
MAX_NOTES = 12


def _predict_part(part: pd.DataFrame, run: RunModel, with_input: bool) -> tuple[pd.DataFrame, list[str]]:
    _frame, result, notes = run.predict(part)
    # Dask reads CSV as text, which conform types as intake would: a note only when values were lost.
    notes = [n for n in notes if not n.endswith("found text; converted")]
    if with_input:
        result = pd.concat([part.reset_index(drop=True), result.reset_index(drop=True)], axis=1)
    return result.reset_index(drop=True), notes


def predict_big(run_dir: Path, data: Path, output: Path, *, home: Path, address: str, trust: bool = False,
                delimiter: str | None = None, encoding: str | None = None,
                with_input: bool = False) -> PredictOutcome:
    """Predict ``data`` with the run's model on the Dask cluster at ``address`` and write ``output``."""
    output = Path(output)
    fmt = output_format(output, inputs=(Path(data),))
    run = RunModel.load(run_dir, home=home, trust=trust)
    client = open_client(address)
    head, frame = open_frame(Path(data), delimiter=delimiter, encoding=encoding, cells=HEAD_CELLS)
    run.predict(head.frame.head(5))  # a missing column is refused here, before the cluster is busy
    [shared] = client.scatter([run], broadcast=True)
    parts = client.compute(frame.to_delayed())
    answers = client.map(_predict_part, parts, run=shared, with_input=with_input, pure=False)
    notes = list(run.warnings)
    rows, columns = _write(answers, output, fmt, notes)
    target = run.target
    record = {"data": str(data), "data_sha256": file_sha256(data), "rows": rows, "output": str(output),
              "notes": notes, "target_in_data": bool(target and target in head.frame.columns),
              "dask": {"address": client.scheduler.address, "partitions": frame.npartitions}}
    record_prediction(run_dir, record, notes)
    return PredictOutcome(output, rows, notes, columns)


def _write(answers: list[Any], output: Path, fmt: str, notes: list[str]) -> tuple[int, list[str]]:
    """Each partition's predictions appended in order to a temp file, renamed over ``output`` when all are in."""
    done = {"rows": 0, "columns": []}

    def stream(tmp: Path) -> None:
        writer = None
        for answer in answers:
            result, part_notes = answer.result()
            answer.release()
            notes.extend(n for n in part_notes if n not in notes and len(notes) < MAX_NOTES)
            if fmt == "parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(result, preserve_index=False)
                writer = writer or pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema))
            else:
                result.to_csv(tmp, mode="a" if done["rows"] else "w", header=not done["rows"], index=False,
                              sep="\t" if fmt == "tsv" else ",")
            done["rows"] += len(result)
            done["columns"] = done["columns"] or [str(c) for c in result.columns]
        if writer is not None:
            writer.close()

    write_output(output, stream)
    return int(done["rows"]), list(done["columns"])
