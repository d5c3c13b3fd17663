"""mlpilot's argument parser: the commands, their options, help texts and examples.

Kept apart from `agent.cli` (which runs the commands) and light to import: ``mlpilot --help`` answers at
once, and the metric names are read from the registry only when help is shown.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from tools.tasks import TASKS

EPILOG = """examples:
  mlpilot run examples/titanic.csv --goal "predict who survived; recall matters most" --budget 60
  mlpilot predict runs/<run-id> new_passengers.csv --output predictions.csv
  mlpilot report runs/<run-id>
  mlpilot monitor runs/<run-id> march.csv --fail-on retrain
  mlpilot runs

exit codes: 0 done, 1 internal error, 2 bad input or option, 3 hard time wall reached,
            4 monitor verdict at or above --fail-on, 130 interrupted (Ctrl-C), 143 stopped by SIGTERM
"""


# Each subcommand's examples, shown at the end of `mlpilot COMMAND --help`.
EXAMPLES = {
    "run": """examples:
  mlpilot run examples/titanic.csv --goal "predict who survived; missing a survivor is worse than a false alarm"
  mlpilot run examples/titanic.csv --goal "predict who survived from age, sex and pclass only; good probabilities"
  mlpilot run examples/titanic.csv --target survived --metric roc_auc --drop ticket --max-trials 20 --seed 7 --json
  mlpilot run big.parquet --goal "predict churn" --budget 1800 --dask local --dask-memory 4GB   # mlpilot[dask]
""",
    "chat": """examples:
  mlpilot chat examples/titanic.csv    # load the table, then say e.g. "predict who survived; 2 minutes"
  mlpilot chat --resume                # the last session again: its conversation, data, goal and plan
  mlpilot chat --llm gpt-4o-mini --llm-budget 0.50   # with a model (OPENAI_API_KEY): $0.50 at most for
                                                     # the chat, and as much for each run it starts
""",
    "predict": """examples:
  mlpilot predict runs/<run-id> new_passengers.csv --output predictions.csv
  mlpilot predict <run-id> examples/titanic.csv -o scored.parquet --with-input   # <run-id>: a unique prefix will do
  mlpilot predict <run-id> big_batch.parquet -o scored.csv --dask tcp://scheduler:8786   # partition by partition
""",
    "serve": """examples:
  mlpilot serve runs/<run-id>                  # http://127.0.0.1:8000: POST /predict, GET /health, GET /metadata
  mlpilot serve <run-id> --host 0.0.0.0 --port 8080 --workers 2 --log-inputs live/
  mlpilot monitor <run-id> live/               # drift on what the service received
""",
    "worker": """examples:
  mlpilot worker runs/<run-id> --storage postgresql://mlpilot:PASSWORD@db.example.com/mlpilot
  mlpilot worker <run-id> --n-jobs 4          # the URL from MLPILOT_STORAGE; start before or during the run
""",
    "monitor": """examples:
  mlpilot monitor runs/<run-id> march.csv      # performance too when march.csv has the target column
  mlpilot monitor runs/<run-id> examples/titanic.csv --json
  mlpilot monitor runs/<run-id> march.csv --fail-on retrain   # exit code 4 when retraining is due (cron, CI)
  mlpilot monitor runs/<run-id> live/ --since 2026-12-01       # rows logged by `mlpilot serve --log-inputs live/`
""",
    "retrain": """examples:
  mlpilot retrain runs/<run-id> march.csv      # the parent's rows and march.csv, with the parent's goal and plan
  mlpilot retrain runs/<run-id> march.csv --window 5000 --budget 300   # the most recent 5,000 rows only
  mlpilot retrain runs/<run-id> march.csv --old-data archive/titanic.csv   # the training file has moved
""",
    "resume": """examples:
  mlpilot resume runs/<run-id>                 # after Ctrl-C, a killed process or a full disk
  mlpilot resume <run-id> --budget 120         # a unique prefix of the run id is enough
""",
    "rerun": """examples:
  mlpilot rerun runs/<run-id>                  # the same data, goal and settings: a new run to compare with
  mlpilot rerun runs/<run-id> --replay         # a run planned by an LLM again, offline, with the same answers
  mlpilot rerun runs/<run-id> --budget 300
""",
    "report": """examples:
  mlpilot report runs/<run-id>                 # render report.md and report.html again and show report.md
  mlpilot report <run-id> --open               # open report.html in the web browser
  mlpilot report runs/<run-id> --path-only     # print only the report's path (for scripts)
""",
    "runs": """examples:
  mlpilot runs                                 # the runs in ./runs (or $MLPILOT_RUNS_DIR), newest first
  mlpilot runs --runs-dir ~/churn/runs
  mlpilot runs --json                          # one record per run, for scripts
""",
}
METRIC_NAMES = "{metric names}"  # in a help text: replaced by the metric registry's names per task when shown


class _Parser(argparse.ArgumentParser):
    """mlpilot's parser and, through `add_subparsers`, each subcommand's: a description is wrapped to 79
    columns and the epilog (examples) keeps its lines; a help text holding `METRIC_NAMES` gets the metric
    registry's names when help is shown, not before, since tools.metrics imports scikit-learn."""

    def __init__(self, *args: Any, description: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        if description:
            lines = description.splitlines()
            description = "\n".join(textwrap.fill(line, 79, break_on_hyphens=False) for line in lines)
        super().__init__(*args, description=description, **kwargs)

    def format_help(self) -> str:
        for action in self._actions:
            if action.help and METRIC_NAMES in action.help:
                action.help = action.help.replace(METRIC_NAMES, _metric_names())
        return super().format_help()


def _metric_names() -> str:
    """The valid ``--metric`` names per task, from the metric registry, with each task's default."""
    from tools.metrics import DEFAULT_METRIC, metrics_for

    return "; ".join(f"{task}: {', '.join(metrics_for(task))} (default {DEFAULT_METRIC[task]})"
                     for task in TASKS)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlpilot", description="An AutoML assistant: a goal and a table in, a tuned, honestly "
                     "evaluated model, a decision log and a report out.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version="mlpilot 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="train a model for a goal on a CSV or Parquet file",
                         description="Read the data, plan from the goal, select and tune models within the "
                         "budget, evaluate on an untouched holdout, save the model and write a report.",
                         epilog=EXAMPLES["run"])
    run.add_argument("data", help="CSV (any common delimiter/encoding) or Parquet file")
    run.add_argument("--goal", "-g", default="", help='what to predict and what matters, e.g. "predict churn; '
                     'recall matters most; 5 minutes"')
    run.add_argument("--target", "-t", help="the column to predict (default: read from the goal)")
    run.add_argument("--task", choices=TASKS, help="override the inferred task")
    run.add_argument("--metric", "-m", metavar="NAME", help="metric to compare models by, instead of the one the "
                     f"goal asks for (else the task's default); by task: {METRIC_NAMES}")
    run.add_argument("--budget", "-b", type=float, help="wall-clock seconds for the whole run (default 120, or "
                     "from the goal)")
    run.add_argument("--seed", type=int, help="random seed (default 42; env MLPILOT_SEED)")
    run.add_argument("--max-trials", type=int, dest="max_trials", help="cap on tuning trials (for reproducible runs)")
    run.add_argument("--folds", type=int, help="cross-validation folds (default 5, or 3 for short budgets or big data)")
    run.add_argument("--keep", action="append", metavar="COLUMN", help="keep a column the plan would drop (repeatable)")
    run.add_argument("--drop", action="append", metavar="COLUMN", help="drop a column (repeatable)")
    run.add_argument("--sensitive", action="append", metavar="COLUMN", help="also compare the model's results "
                     "across this column's groups in the fairness audit (repeatable); it stays a feature unless "
                     "dropped")
    run.add_argument("--not-sensitive", dest="not_sensitive", action="append", metavar="COLUMN",
                     help="leave a column the audit would compare groups by out of it (repeatable)")
    _reading_options(run)
    run.add_argument("--storage", metavar="URL", help="keep the tuning studies in this database (e.g. "
                     "postgresql://user:password@host/db; needs mlpilot[postgres]) instead of the run folder's "
                     "journal file, so that `mlpilot worker` processes on other machines can join them (env "
                     "MLPILOT_STORAGE)")
    run.add_argument("--dask", metavar="ADDRESS", help="a table too big for memory: read it with Dask, tune on a "
                     "sample in memory and fit the final LightGBM on every training row on the cluster; 'local' "
                     "starts one on this machine, else a scheduler address such as tcp://scheduler:8786 (needs "
                     "mlpilot[dask]; env MLPILOT_DASK)")
    run.add_argument("--dask-workers", type=int, dest="dask_workers", metavar="N",
                     help="with --dask local: worker processes (default 2)")
    run.add_argument("--dask-memory", dest="dask_memory", metavar="SIZE",
                     help="with --dask local: memory limit per worker, e.g. 2GB (default: the machine's memory "
                     "shared among the workers)")
    run.add_argument("--dask-sample", type=int, dest="dask_sample", metavar="ROWS",
                     help="with --dask: rows of the in-memory sample that selection and tuning work on (default: "
                     "about 10 million values)")
    run.add_argument("--n-jobs", type=int, dest="n_jobs",
                     help="cores to use: with 2 or more, cross-validation fits folds side by side and final fits "
                     "are threaded (default: every core this process may use)")
    _llm_options(run)
    _common(run)
    run.add_argument("--yes", "-y", action="store_true", help="approve the plan without asking, as `mlpilot run` "
                     "always does (to review a plan before training, use `mlpilot chat`)")

    chat = sub.add_parser("chat", help="chat in the terminal: load data, set a goal, approve a plan, ask why",
                          description="A terminal chat: load a table, say what to predict, approve or edit the plan, "
                          "train, and ask about the decisions. `mlpilot` with no arguments opens it too.",
                          epilog=EXAMPLES["chat"])
    chat.add_argument("data", nargs="?", help="a CSV or Parquet file to load at the start")
    chat.add_argument("--resume", action="store_true", help="restore the last session (conversation, data, run)")
    chat.add_argument("--yes", "-y", action="store_true", help="train without asking to approve the plan")
    chat.add_argument("--budget", "-b", type=float, help="default budget for runs, in seconds")
    chat.add_argument("--seed", type=int)
    _llm_options(chat)
    _common(chat)

    predict = sub.add_parser("predict", help="predict new rows with a run's model",
                             description="Predict new rows with a finished run's model. The rows are read like "
                             "the training data and checked against its columns; the output has a `prediction` "
                             "column and, for classification, one `proba_<class>` column per class (two classes: "
                             "at the run's chosen threshold).", epilog=EXAMPLES["predict"])
    predict.add_argument("run", help="run folder or run id")
    predict.add_argument("data", help="CSV or Parquet file with the same columns as the training data")
    predict.add_argument("--output", "-o", required=True, help="file to write (CSV, or .parquet)")
    predict.add_argument("--with-input", action="store_true", help="also copy the input columns to the output")
    predict.add_argument("--dask", metavar="ADDRESS", help="predict a large batch on Dask, partition by partition "
                         "('local' or a scheduler address; needs mlpilot[dask])")
    _reading_options(predict)
    _trust_option(predict)
    _common(predict)

    serve = sub.add_parser("serve", help="serve a run's model over HTTP (POST /predict, /health, /metadata)",
                           description="Serve a finished run's model over HTTP with FastAPI on uvicorn: POST "
                           "/predict takes rows as JSON records or CSV and answers as `mlpilot predict` does, "
                           "after the same checks; GET /health, GET /metadata (goal, metric, holdout metrics, "
                           "input types, model hash) and GET /docs (OpenAPI). With MLPILOT_SERVE_TOKEN set, "
                           "requests need 'Authorization: Bearer <token>'. Runs until Ctrl-C or SIGTERM.",
                           epilog=EXAMPLES["serve"])
    serve.add_argument("run", help="run folder or run id")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this "
                       "machine only; 0.0.0.0: every interface)")
    serve.add_argument("--port", "-p", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.add_argument("--workers", type=int, default=1, help="server processes sharing the port (default 1)")
    serve.add_argument("--log-inputs", dest="log_inputs", metavar="DIR", help="append received rows and their "
                       "predictions to daily CSV files in DIR, for `mlpilot monitor RUN DIR`")
    serve.add_argument("--max-body", dest="max_body", type=float, default=16.0, metavar="MB",
                       help="largest request body accepted, in megabytes (default 16)")
    _trust_option(serve)
    _common(serve)

    worker = sub.add_parser("worker", help="join a run's tuning from this machine (runs started with --storage)",
                            description="Run tuning trials for a run started with --storage, on its studies in the "
                            "database, until the run's tuning deadline. The run's folder must be readable here (a "
                            "shared path): the run shares its training rows, folds and clock there. Start it before "
                            "or while the run tunes; started after, it says so and exits.", epilog=EXAMPLES["worker"])
    worker.add_argument("run", help="run folder or run id (on a path this machine reads)")
    worker.add_argument("--storage", metavar="URL", help="the database the run keeps its studies in (as given to "
                        "`mlpilot run --storage`; env MLPILOT_STORAGE)")
    worker.add_argument("--n-jobs", type=int, dest="n_jobs", help="cores for this worker's trials (default: all "
                        "this process may use)")
    worker.add_argument("--wait", type=float, default=3600.0, metavar="SECONDS", help="how long to wait for the run "
                        "to start tuning (default 3600)")
    _common(worker)

    monitor = sub.add_parser("monitor", help="check a new batch for drift, data quality and performance",
                             description="Compare a new batch with the run's training reference: schema, data "
                             "quality, feature drift weighed by importance, prediction drift and, when the batch "
                             "has the target, performance. Gives a verdict (ok / warn / retrain) with reasons and "
                             "writes a record under RUN/monitoring/.", epilog=EXAMPLES["monitor"])
    monitor.add_argument("run", help="run folder or run id")
    monitor.add_argument("data", help="the new batch (CSV or Parquet), with or without the target column, or a "
                         "folder of them (e.g. the rows logged by `mlpilot serve --log-inputs`)")
    monitor.add_argument("--since", metavar="YYYY-MM-DD", help="with a folder: only files of that day or later "
                         "(by the date in their name, else their modification time)")
    monitor.add_argument("--fail-on", dest="fail_on", choices=["warn", "drift", "retrain"],
                         help="exit with code 4 when the verdict reaches this level (drift: any drift at all)")
    _reading_options(monitor)
    _trust_option(monitor)
    _common(monitor)

    retrain = sub.add_parser("retrain", help="retrain a run on its data plus new rows and compare the models",
                             description="Start a new run with the run's goal and plan on its training data plus "
                             "NEW_DATA (or the most recent --window rows), then compare the new model with the old on "
                             "new rows neither saw, and record which one to keep and why.", epilog=EXAMPLES["retrain"])
    retrain.add_argument("run", help="run folder or run id")
    retrain.add_argument("data", help="new rows with the target column (CSV or Parquet)")
    retrain.add_argument("--budget", "-b", type=float, help="seconds for the new run (default: the parent's)")
    retrain.add_argument("--window", type=int, help="train on the most recent N rows only (old rows first, new last)")
    retrain.add_argument("--old-data", dest="old_data", help="where the parent's training data is now, if it moved")
    retrain.add_argument("--max-trials", type=int, dest="max_trials", help="cap on tuning trials")
    _trust_option(retrain)
    _common(retrain)

    resume = sub.add_parser("resume", help="continue an interrupted run from its checkpoints",
                            description="Continue a run that was stopped (Ctrl-C) or whose process died: the data is "
                            "read again and checked, the saved results are reloaded, and the run goes on from "
                            "tuning (or its last finished step) with a fresh budget.", epilog=EXAMPLES["resume"])
    resume.add_argument("run", help="run folder or run id")
    resume.add_argument("--budget", "-b", type=float, help="seconds for the rest of the run (default: its budget)")
    _trust_option(resume)
    _common(resume)

    rerun = sub.add_parser("rerun", help="run again with a run's data, goal and settings",
                           description="Start a new run with the same data, goal and settings as RUN. With "
                           "--replay, the LLM's recorded answers are replayed offline, so its decisions repeat.",
                           epilog=EXAMPLES["rerun"])
    rerun.add_argument("run", help="run folder or run id")
    rerun.add_argument("--replay", action="store_true", dest="replay_answers",
                       help="replay the LLM's recorded answers (no network)")
    rerun.add_argument("--budget", "-b", type=float, help="override the budget")
    _common(rerun)

    report = sub.add_parser("report", help="re-render and show a run's report (report.md and report.html)",
                            description="Render a run's report again from its folder alone, report.md and the "
                            "self-contained report.html, and show report.md in the terminal.",
                            epilog=EXAMPLES["report"])
    report.add_argument("run", help="run folder or run id")
    report.add_argument("--path-only", action="store_true", help="print only the report's path")
    report.add_argument("--open", action="store_true", dest="open_browser",
                        help="open report.html in the web browser")
    _common(report)

    compare = sub.add_parser(
        "compare", help="compare runs side by side (goals, data, plans, differing decisions, holdout metrics)",
        description="Put two or more runs side by side: their goals, data fingerprints, plans, the decisions "
        "that differ and their holdout metrics. Prints them and writes them as one HTML page.",
        epilog="examples:\n  mlpilot compare 20261201-101500-titanic-3f2a 20261201-104200-titanic-9c1d\n"
        "  mlpilot compare runs/A runs/B runs/C --output comparison.html\n")
    compare.add_argument("runs", nargs="+", metavar="RUN", help="run folders or run ids (two or more; the first "
                         "is the one the others are read against)")
    compare.add_argument("--output", "-o", help="where to write the HTML page (default: "
                         "RUNS_DIR/comparisons/<time>.html)")
    _common(compare)

    runs = sub.add_parser("runs", help="list runs",
                          description="List the runs in the runs folder, newest first: each run's id (whole, to "
                          "copy), holdout score and age, then its status and goal; fits 80 columns.",
                          epilog=EXAMPLES["runs"])
    _common(runs)
    return parser


def _reading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--delimiter", help="field delimiter, if detection gets it wrong (e.g. ';' or '\\t')")
    p.add_argument("--encoding", help="text encoding, if detection gets it wrong (e.g. latin-1)")


def _llm_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm", metavar="MODEL", help="plan with this chat model (any OpenAI-compatible endpoint); "
                   "'off' forces the offline rules. Default: on when OPENAI_API_KEY or a base URL is set")
    p.add_argument("--llm-budget", dest="llm_budget", help="stop using the LLM past this spend: dollars (0.50) "
                   "or tokens (20k tokens); the rules carry on")
    p.add_argument("--llm-prices", dest="llm_prices", metavar="FILE", help="JSON price table overriding the "
                   'built-in one: {"model": [input, output]} in dollars per million tokens')
    p.add_argument("--llm-timeout", dest="llm_timeout", type=float, help="seconds per LLM request at most "
                   "(default 60; a run's requests also end when its share for the model is spent)")
    p.add_argument("--llm-share", dest="llm_share", type=float, help="the largest share of a run's budget spent "
                   "waiting on the LLM (default 0.2); past it the rules decide")
    p.add_argument("--llm-max-tokens", dest="llm_max_tokens", type=int, help="cap on the tokens of each LLM "
                   "reply (default 1024)")
    p.add_argument("--llm-context", dest="llm_context", type=int, metavar="TOKENS", help="the model's context "
                   "window (e.g. 4096 for llama.cpp's default): prompts and chat history are fitted to it, "
                   "dropping the oldest turns whole, and a reply gets at most a quarter of it")


def _trust_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust", action="store_true", help="load the run folder's pickles even though they are not "
                   "signed by you (a folder from someone else): only for folders from people you trust, since "
                   "loading a pickle runs whatever code it contains")




def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-dir", dest="runs_dir", help="folder of runs (default ./runs; env MLPILOT_RUNS_DIR)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
