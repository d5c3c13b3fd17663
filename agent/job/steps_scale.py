"""Big tables with Dask (``--dask``): the sample the run works on, the profile of every row, and the final
LightGBM fitted on every training row (the ``scale_out`` node, after refit).

Intake reads the file on the cluster and brings a uniform sample into memory (`tools.bigdata`), typed by
the same intake as any file; the run plans, selects, tunes and evaluates on it as usual. Its holdout rows
are the sample's share of the rows held out of the whole table, so the model fitted on every other row
(`tools.bigfit`) is scored on the same rows as the run's model, and replaces it unless the holdout says it
is clearly worse. The model saved is a plain scikit-learn pipeline either way.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from agent.decide.policy import Decision
from agent.job.context import RunContext, RunState
from agent.job.publish import gap_to_published, holdout_truth, publish, score
from agent.job.steps_quick import HEAD_CELLS
from agent.record.runfolder import write_json
from tools.bigdata import (
    HOLDOUT_SHARE,
    cluster_facts,
    draw_sample,
    estimate_rows,
    killed_workers,
    open_client,
    open_frame,
    profile_big,
    sample_rows_for,
    training_part,
    typed_frame,
)
from tools.bigfit import BigFit, fit_big_lightgbm, fit_preprocessor
from tools.candidates import get_candidate
from tools.errors import DataError
from tools.fmt import number
from tools.intake import Table, read_table
from tools.metrics import get_metric
from tools.model import Member, ModelSpec, with_threshold
from tools.preprocess import ColumnPlan
from tools.sniff import file_sha256
from tools.threshold import choose_threshold


def _cluster_failures() -> tuple[type[BaseException], ...]:
    """What a cluster raises when a worker dies (out of memory, killed) or the network fails."""
    from distributed import KilledWorker
    from distributed.comm import CommClosedError
    from lightgbm.basic import LightGBMError

    return (KilledWorker, CommClosedError, LightGBMError, OSError, TimeoutError, MemoryError)
# Cross-validation's fit times include validation and early stopping; measured on 800,000 rows (1M x 20,
# 2 workers) they over-estimated the Dask fit 1.6 times, which the pass over the data (reading, cleaning,
# binning) partly makes up for.
PASS_FACTOR = 1.2
# Starting LightGBM's network on the workers and gathering the model: measured 1-2 s on a local cluster.
DASK_OVERHEAD = 3.0
# A worker's memory for the fit on every row: what it holds before any data (measured 224 MB with pandas,
# scikit-learn and LightGBM loaded), then per byte of the average worker's share of the float32 matrix: its
# partitions, LightGBM's concatenated copy of them, the binned dataset, gradients and scores, what reading and
# cleaning a partition takes meanwhile, and Dask's uneven shares of the partitions. Measured on 8 million
# rows of 20 columns over 2 workers (320 MB each on average): peaks of 1.27 and 1.60 GB.
WORKER_BASE_BYTES = 250e6
MEMORY_PER_BLOCK = 4.5
IMBALANCE = 1.0
# Scoring the model fitted on every row on the holdout, and the report, after its fit.
SCORE_SECONDS = 8.0
# The fit on every row keeps at least this share of the tuned rounds, or it is not worth its time.
MIN_ROUNDS_SHARE = 0.3


@dataclass
class BigData:
    """The run's big table: the client and its cluster's facts, the file as a Dask frame, which sample
    rows are held out, and, once profiled, the typed frame and the exact row count."""

    client: Any
    facts: dict  # the cluster as it was when the run read the file (`cluster_facts`)
    frame: Any
    holdout: np.ndarray
    estimated_rows: int
    typed: Any = None
    rows: int = 0
    training_rows: int = 0


def read_big_table(ctx: RunContext) -> Table:
    """Read the file on the Dask cluster and return the in-memory sample as intake's `Table` (the big
    table itself into the workspace, ``big``)."""
    s = ctx.settings
    start = time.monotonic()
    client = open_client(s.dask, workers=s.dask_workers, memory=s.dask_memory)
    facts = cluster_facts(client)
    head, frame = open_frame(s.data, delimiter=s.delimiter, encoding=s.encoding, cells=HEAD_CELLS,
                             min_partitions=2 * facts["workers"])
    names = [str(c) for c in head.frame.columns]
    estimate = estimate_rows(s.data, head.file_format, len(head.frame))
    wanted = sample_rows_for(estimate, len(names), s.dask_sample)
    from distributed import KilledWorker

    try:
        rows, holdout = draw_sample(frame, wanted / max(estimate, 1), s.seed)
    except KilledWorker as exc:
        raise killed_workers("reading", s.data, exc) from None
    table = _as_table(ctx, rows, head)
    table = dataclasses.replace(table, path=str(s.data), file_format=head.file_format, sha256=file_sha256(s.data),
                                encoding=head.encoding, delimiter=head.delimiter,
                                notes=(*table.notes, f"a sample of {len(rows):,} rows of about {estimate:,}, read "
                                       "with Dask; the final LightGBM learns from every training row"))
    ctx.workspace["big"] = BigData(client, facts, frame, holdout, estimate)
    ctx.manifest.update(dask={**facts, "partitions": frame.npartitions, "estimated_rows": estimate,
                              "sample_rows": len(rows), "sample_holdout_rows": int(holdout.sum()),
                              "holdout_share": HOLDOUT_SHARE})
    ctx.events.emit("dask_read", step="intake", **facts, partitions=frame.npartitions, estimated_rows=estimate,
                    sample_rows=len(rows), sample_holdout_rows=int(holdout.sum()),
                    seconds=round(time.monotonic() - start, 2))
    return table


def _as_table(ctx: RunContext, rows: Any, head: Table) -> Table:
    """The sample typed by intake itself (through a file in the run folder, removed at once), so it reads
    exactly as the same rows in a small file would."""
    path = ctx.run_dir / (".sample.parquet" if head.file_format == "parquet" else ".sample.csv")
    try:
        if head.file_format == "parquet":
            rows.to_parquet(path, index=False)
            table = read_table(path)
        else:
            rows.to_csv(path, index=False)
            table = read_table(path, delimiter=",", encoding="utf-8")
    finally:
        path.unlink(missing_ok=True)
    if len(table.frame) != len(rows):
        raise DataError(f"the sample of {len(rows):,} rows read back as {len(table.frame):,}: some rows of "
                        f"'{ctx.settings.data.name}' do not parse alike in pieces (e.g. quoted line breaks); "
                        "convert the file to Parquet for --dask")
    return table


def profile_every_row(ctx: RunContext) -> None:
    """Profile the whole table on the cluster (rows, missing values, ranges, distinct levels): the sample's
    profile plans the run, this one says what the data holds in full."""
    big: BigData = ctx.workspace["big"]
    table = ctx.workspace["table"]
    big.typed = typed_frame(big.frame, table.schema(), table.frame)
    text = [c.name for c in table.columns if c.kind == "string"]
    from distributed import KilledWorker

    try:
        prof = profile_big(big.typed, distinct_columns=text)
    except KilledWorker as exc:
        raise killed_workers("profiling", ctx.settings.data, exc) from None
    big.rows = prof.rows
    big.training_rows = prof.training_rows(ctx.settings.seed)
    ctx.workspace["big_profile"] = prof.to_dict()
    write_json(ctx.run_dir / "profile_full.json", prof.to_dict())
    data = dict(ctx.manifest.data.get("data") or {})
    data.update(rows=prof.rows, sample_rows=len(table.frame))
    ctx.manifest.update(data=data)
    ctx.events.emit("dask_profile", step="profile", rows=prof.rows, partitions=prof.partitions,
                    sample_rows=len(table.frame), seconds=round(prof.seconds, 2),
                    missing={c: n for c, n in prof.missing.items() if n})


def training_rows(ctx: RunContext) -> int:
    """Training rows of the whole table (0 without Dask): what the fit on every row learns from."""
    big: BigData | None = ctx.workspace.get("big")
    return big.training_rows if big is not None else 0


def scale_out(state: RunState, runtime: Runtime[RunContext]) -> RunState:
    """Fit the tuned LightGBM on every training row with Dask; publish it unless the holdout says it is
    clearly worse than the run's model."""
    ctx = runtime.context
    big: BigData | None = ctx.workspace.get("big")
    if big is None or not state.get("final") or ctx.should_stop() or big.typed is None:
        return {"step": "scale_out"}
    with ctx.step("scale_out", rows=training_rows(ctx)):
        plan = ColumnPlan.from_dict(state["column_plan"])
        member = _tuned_lightgbm(ctx)
        if member is None:
            ctx.decider.record(Decision("full_data_fit", None, "LightGBM was not cross-validated in this run (not a "
                                        "candidate, or no fold finished), so no model was fitted on every row; the "
                                        "model fitted on the sample stays", {}), step="scale_out")
            ctx.events.emit("warning", step="scale_out", message="no LightGBM configuration to fit on every row: "
                            "the run's model learned from the sample only")
            return {"step": "scale_out", "scaled": False}
        if not _memory_suffices(ctx, plan):
            return {"step": "scale_out", "scaled": False}
        rounds = _rounds(ctx, state, member)
        if not rounds:
            return {"step": "scale_out", "scaled": False}
        w = ctx.workspace
        prep = fit_preprocessor(plan, state["task"], w["X_train"], w["y_train"], seed=ctx.settings.seed)
        try:
            fit = _fit_in_time(ctx, big, training_part(big.typed, ctx.settings.seed), plan=plan, prep=prep,
                               target=state["target"], task=state["task"], classes=list(state["classes"]),
                               specs=ctx.workspace["table"].columns, params=member.params, rounds=rounds,
                               seed=ctx.settings.seed)
        except _cluster_failures() as exc:
            # The run's model (fitted on the sample) is saved and scored: a cluster that fails costs only this.
            ctx.events.emit("warning", step="scale_out", message=f"the fit on every row failed on the Dask cluster "
                            f"({type(exc).__name__}: {str(exc)[:300]}); the model fitted on the sample stays the "
                            "run's model. A worker that ran out of memory needs a larger --dask-memory or more "
                            "workers")
            return {"step": "scale_out", "scaled": False}
        spec = ModelSpec([Member("lightgbm", dict(member.params), 1, list(member.iterations))], state["task"],
                         list(state["classes"]), threshold=_threshold(ctx, state))
        model = with_threshold(fit.pipeline, spec, w["X_train"][plan.features], np.asarray(w["labels_train"]))
        rows = training_rows(ctx)
        target_missing = int(((ctx.workspace.get("big_profile") or {}).get("missing") or {}).get(state["target"], 0))
        ctx.events.emit("dask_fit", step="scale_out", rows=rows, rounds=fit.rounds, seconds=round(fit.seconds, 1),
                        target_missing=target_missing)
        ev, metrics = score(ctx, state, model, spec, plan, importance_seconds=min(5.0, max(0.0, ctx.seconds_left()
                                                                                          * 0.05)))
        if _keep(ctx, state, spec, model, ev, rows):
            publish(ctx, state, model, spec, plan, ev=ev, metrics=metrics,
                    fitted_on=f"all {rows:,} training rows, with Dask", step="scale_out")
            return {"step": "scale_out", "scaled": True,
                    "evaluation": {"metrics": ev.metrics, "baseline": ev.baseline, "primary": ev.primary,
                                   "published": True}}
    return {"step": "scale_out", "scaled": False}


def _fit_in_time(ctx: RunContext, big: BigData, train: Any, **options: Any) -> BigFit:
    """`fit_big_lightgbm`, given up on when the run's time is over: a worker that died mid-fit (its memory
    limit) leaves LightGBM's others waiting, and the scheduler retries it on a restarted worker; the run
    must end with its sample model then, not at the hard wall.

    Raises:
        TimeoutError: the fit did not end in time (a local cluster is restarted to stop it).
    """
    seconds = max(10.0, ctx.seconds_left() - SCORE_SECONDS)
    pool = ThreadPoolExecutor(1, thread_name_prefix="mlpilot-dask-fit")
    try:
        return pool.submit(fit_big_lightgbm, big.client, train, **options).result(timeout=seconds)
    except FutureTimeout:
        if ctx.settings.dask == "local":
            big.client.restart(wait_for_workers=False)
        raise TimeoutError(f"not done after {seconds:.0f} s, when the run's time was up") from None
    finally:
        pool.shutdown(wait=False)


def _tuned_lightgbm(ctx: RunContext) -> Member | None:
    result = (ctx.workspace.get("results") or {}).get("lightgbm")
    if result is None or not result.scores:
        return None
    return Member("lightgbm", dict(result.params), 1, list(result.iterations))


def _memory_suffices(ctx: RunContext, plan: ColumnPlan) -> bool:
    """Whether each worker can hold its share of the rows for LightGBM (a decision when it cannot): a
    worker that dies mid-fit costs the run minutes of waiting before its sample model is kept anyway."""
    big: BigData = ctx.workspace["big"]
    facts = big.facts
    limit = facts["memory_limit_per_worker"]
    if not limit:
        return True
    columns = len(plan.features) + len(plan.missing_indicators) + 1
    share = training_rows(ctx) * columns * 4 / max(facts["workers"], 1)
    need = WORKER_BASE_BYTES + MEMORY_PER_BLOCK * IMBALANCE * share
    if need <= limit:
        return True
    gb = need / 1e9
    ctx.decider.record(Decision("full_data_fit", None, f"no fit on every row: each of the {facts['workers']} "
                                f"worker(s) would need about {gb:.1f} GB for its share of the {training_rows(ctx):,} "
                                f"training rows, and is limited to {limit / 1e9:.1f} GB; the model fitted on the "
                                "sample stays",
                                {"need_bytes": int(need), "limit_bytes": limit, "workers": facts["workers"]},
                                [{"choice": "fit anyway", "why_not": "a worker past its limit is restarted mid-fit, "
                                  "and LightGBM's others wait minutes before failing"}]), step="scale_out")
    ctx.events.emit("warning", step="scale_out", message=f"the Dask workers have too little memory to fit LightGBM "
                    f"on every row (about {gb:.1f} GB each needed, {limit / 1e9:.1f} GB given): the run's model "
                    f"learned from the sample; give --dask-memory {math.ceil(gb * 10) / 10:.1f}GB or more workers")
    return False


def _rounds(ctx: RunContext, state: RunState, member: Member) -> int:
    """The tuned rounds, fewer when the time left would not fit them (a decision); 0 when too few would."""
    tuned = int(get_candidate("lightgbm").final_params(member.params, member.iterations)["n_estimators"])
    result = ctx.workspace["results"]["lightgbm"]
    data = ctx.workspace["data"]
    folds = max(len(data.folds), 2)
    per_row = result.fit_seconds / max(len(result.scores), 1) / max(len(data.y) * (folds - 1) / folds, 1.0)
    big: BigData = ctx.workspace["big"]
    threads = max(1, big.facts["threads"])
    if ctx.settings.dask == "local":  # more worker threads than cores share them
        threads = min(threads, os.cpu_count() or threads)
    rows = training_rows(ctx)
    estimate = per_row * rows * ctx.settings.n_jobs / threads * PASS_FACTOR + DASK_OVERHEAD
    left = ctx.plan.remaining("scale")
    rounds = tuned if estimate <= left else int(tuned * left / max(estimate, 1e-9))
    evidence = {"tuned_rounds": tuned, "rows": rows, "estimated_seconds": round(estimate, 1),
                "seconds": round(left, 1), "threads": threads}
    if rounds < max(1, MIN_ROUNDS_SHARE * tuned):
        ctx.decider.record(Decision("full_data_fit", None, f"no fit on every row: about {estimate:.0f} s for "
                                    f"{tuned} rounds on {rows:,} rows across {threads} thread(s), and {left:.0f} s "
                                    "left; the model fitted on the sample stays", evidence,
                                    [{"choice": rounds, "why_not": f"fewer than {MIN_ROUNDS_SHARE:.0%} of the tuned "
                                      "rounds"}]), step="scale_out")
        ctx.events.emit("warning", step="scale_out", message=f"too little time left ({left:.0f} s) to fit "
                        f"LightGBM on all {rows:,} training rows: the run's model learned from the sample; give a "
                        "longer --budget")
        return 0
    said = "the tuned" if rounds == tuned else f"{rounds} of the tuned {tuned}"
    ctx.decider.record(Decision("full_data_fit", rounds, f"LightGBM with the tuned parameters and {said} rounds on "
                                f"all {rows:,} training rows with Dask (about {estimate:.0f} s estimated from "
                                f"cross-validation's fits, {left:.0f} s left)", evidence,
                                [{"choice": None, "why_not": "the sample is a small part of the rows, and boosted "
                                  "trees keep learning from more"}]), step="scale_out")
    return rounds


def _threshold(ctx: RunContext, state: RunState) -> float | None:
    """Binary tasks: the threshold the goal's rule picks on LightGBM's out-of-fold predictions."""
    if state["task"] != "binary":
        return None
    result = ctx.workspace["results"]["lightgbm"]
    if result.oof is None:
        return ctx.workspace["spec"].threshold
    return choose_threshold(ctx.workspace["data"].y, result.oof[:, 1], state["threshold_rule"]).threshold


def _keep(ctx: RunContext, state: RunState, spec: ModelSpec, model: object, ev: Any, rows: int) -> bool:
    """Whether the model fitted on every row replaces the run's model: yes, unless the holdout says it is
    clearly worse (paired bootstrap, 90% interval below zero)."""
    metric = get_metric(ev.primary)
    compared = gap_to_published(ctx, model, spec, metric)
    if compared is None:
        return True
    gap, old = compared
    before = metric(holdout_truth(ctx.workspace, spec), old)
    said = (f"holdout {metric.label} {number(ev.metrics.get(ev.primary))} against {number(before)} for the model "
            f"fitted on the sample; paired bootstrap difference {gap['difference']:+.4g}, 90% interval "
            f"{gap['p05']:+.4g} to {gap['p95']:+.4g}, positive favours the fit on every row")
    evidence = {"full": ev.metrics.get(ev.primary), "sample": before, "gap": gap, "rows": rows}
    if gap["p95"] < 0:
        ctx.decider.record(Decision("full_data_model", False, f"the model fitted on the sample stays: LightGBM on "
                                    f"all {rows:,} rows is clearly worse on the holdout ({said})", evidence,
                                    [{"choice": True, "why_not": "clearly worse on the holdout"}]), step="scale_out")
        ctx.events.emit("warning", step="scale_out", message="LightGBM fitted on every row scored clearly worse on "
                        "the holdout than the model fitted on the sample, which stays the run's model")
        return False
    ctx.decider.record(Decision("full_data_model", True, f"LightGBM fitted on all {rows:,} training rows replaces "
                                f"the model fitted on the sample ({said})", evidence,
                                [{"choice": False, "why_not": "it learned from a small part of the rows"}]),
                       step="scale_out")
    return True
