"""Every kind of event a run or a monitoring record logs, with the fields it always carries.

One table, so a new kind is added here or `EventLog.emit` refuses it, and a reader can rely on the
fields named. Payloads may carry more than the required fields (a trial logs its whole record); those
are optional by nature. ``step`` is on every event and not listed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of event: what it records and the fields every such event has."""

    doc: str
    required: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    # the run's life
    "run_started": Kind("the run began: its id, data, goal, seed, settings, policy and model",
                        ("run_id", "data", "goal", "seed", "settings", "policy", "model")),
    "budget": Kind("the budget decided and the clock's state", ("seconds", "hard_wall", "llm_cap", "running",
                                                                 "elapsed")),
    "plan_approved": Kind("the person approved the plan in the chat (the clock starts here)",
                          ("edits", "budget", "hard_wall")),
    "run_resumed": Kind("a stopped run carried on", ("previous_status", "from_step", "budget", "running")),
    "step_started": Kind("a step of the graph began (with its time allotment once the clock runs)"),
    "step_finished": Kind("a step of the graph ended", ("seconds",)),
    "time_spent": Kind("the time plan's summary at the end: planned and spent per step"),
    "run_finished": Kind("the run ended", ("status", "elapsed", "wall", "model_saved", "error")),
    "interrupt": Kind("the person stopped the run", ("message",)),
    "watchdog": Kind("the hard time wall stopped the run", ("message",)),
    "error": Kind("a problem stopped the run (a user error or a bug, with its traceback)", ("message", "origin")),
    "warning": Kind("something the reader should know; the run went on", ("message",)),
    "note": Kind("a remark in a monitoring record", ("message",)),
    # decisions
    "decision": Kind("what was chosen, why, on what evidence, instead of what, and by whom",
                     ("question", "choice", "reason", "evidence", "alternatives", "actor")),
    "fallback": Kind("the rules answered a question the language model could not answer validly",
                     ("question", "rejected", "problem", "actor")),
    # data
    "data_read": Kind("the table as read", ("rows", "columns", "sha256", "encoding", "delimiter", "decimal", "notes")),
    "profiled": Kind("the profile of every column", ("rows", "columns", "duplicate_rows", "flagged", "seconds")),
    "rows_dropped": Kind("rows left out (e.g. a missing target)", ("rows", "reason")),
    "split": Kind("the untouched holdout split", ("train_rows", "holdout_rows", "stratified", "seed")),
    "leakage_check": Kind("the leakage screen's findings"),
    "feature_screen": Kind("a wide table screened to its strongest columns", ("rows", "kept", "dropped", "cutoff",
                                                                                "top")),
    "cleaning": Kind("the cleaning pipeline's steps", ("steps", "features_in", "features_out", "note")),
    # models
    "leaderboard": Kind("cross-validated scores of the candidates", ("stage", "metric", "rows")),
    "candidate_failed": Kind("a candidate that could not be fitted", ("candidate", "error")),
    "candidate_scored": Kind("a remark on a candidate's cross-validation", ("note",)),
    "model_removed": Kind("the saved model was removed: it cannot stand (e.g. a quick look's model for another "
                          "target)", ("reason",)),
    "tuning_started": Kind("tuning began", ("shares", "seconds", "reserve", "max_trials")),
    "trial": Kind("one tuning trial", ("candidate", "number", "state", "value", "params", "seconds",
                                       "seconds_left")),
    "tuning_shared": Kind("the run's training data and clock shared with worker processes",
                          ("folder", "candidates")),
    "dask_read": Kind("a big table read with Dask: the cluster, its partitions and the in-memory sample drawn",
                      ("workers", "partitions", "estimated_rows", "sample_rows", "sample_holdout_rows")),
    "dask_profile": Kind("every row of a big table profiled with Dask", ("rows", "partitions", "sample_rows")),
    "dask_fit": Kind("the final LightGBM fitted on every training row with Dask", ("rows", "rounds", "seconds")),
    "workers": Kind("trials per process in the run's studies, and worker trials taken into the pool",
                    ("trials", "coordinator", "from_workers", "pooled")),
    "tuning_finished": Kind("tuning ended", ("stopped", "trials", "states", "storage")),
    "tuning_skipped": Kind("tuning did not run", ("reason",)),
    "iteration": Kind("the plan went round once more", ("reason", "dropped", "added")),
    "holdout_metrics": Kind("the published model's scores on the holdout",
                            ("model", "metrics", "primary", "baseline", "spread", "rows", "threshold",
                             "at_threshold", "confusion")),
    "goal_check": Kind("whether the holdout meets the goal's target for the decision threshold",
                       ("rule", "target", "holdout", "flagged", "rows", "met", "problems", "advice")),
    "candidate_holdout": Kind("a model scored on the holdout that did not replace the saved one",
                              ("model", "metrics", "primary")),
    "importances": Kind("permutation importances of the published model", ("rows", "note")),
    "fairness_audit": Kind("the published model's results across groups of people on the holdout",
                           ("model", "task", "columns", "warnings", "n_rows")),
    "model_saved": Kind("a model written to the run folder", ("file", "sha256", "bytes", "model", "fitted_on")),
    # the language model
    "prompt": Kind("a prompt file used, by name and hash", ("name", "sha256")),
    "llm_call": Kind("one request to the language model: tokens, seconds, cost",
                     ("purpose", "model", "attempt", "latency", "replay")),
    "llm_tool": Kind("a tool call of the language model, accepted or refused", ("stage", "tool", "ok")),
    "llm_prose": Kind("the language model answered in prose instead of a tool call", ("stage", "chars")),
    "llm_cut": Kind("a reply of the language model's stopped at its token cap", ("stage", "max_tokens")),
    "llm_context": Kind("the oldest turns were dropped to fit the model's context window", ("dropped", "limit")),
    "llm_stage_failed": Kind("a stage of the language model's gave no valid answer", ("stage", "problem")),
    "narrative": Kind("the language model's summary written for the report", ("file", "chars", "model")),
    # monitoring records
    "batch_read": Kind("a new batch as read for monitoring", ("data", "rows", "columns", "sha256", "has_target",
                                                               "schema_notes")),
    "column_check": Kind("one column's drift and quality in a batch", ("weight",)),
    "prediction_check": Kind("the drift of the model's predictions on a batch"),
    "performance_check": Kind("the model's scores on a labelled batch"),
    "group_check": Kind("the model's results across groups of people on a labelled batch",
                        ("task", "columns", "warnings", "n_rows")),
}


def check_event(kind: str, payload: dict) -> None:
    """Refuse an unknown kind or a missing field: a bug in mlpilot, caught where it is written.

    Raises:
        ValueError: naming the kind and what is wrong.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown event kind {kind!r}: add it to agent.record.kinds.KINDS")
    missing = [f for f in spec.required if f not in payload]
    if missing:
        raise ValueError(f"event {kind!r} lacks {', '.join(missing)}")
