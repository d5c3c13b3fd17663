"""The ``mlpilot`` command line.

Heavy libraries (pandas, scikit-learn, LightGBM, LangGraph) are imported inside the commands, so
``mlpilot --help`` answers at once. The clock of a run starts when the process starts, never earlier
than this Python interpreter's own start (see `agent.timing.clock.command_start`).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from agent.timing.clock import command_start
from tools.tasks import TASKS

if TYPE_CHECKING:  # imported inside the commands so that --help answers at once
    from agent.settings import Settings

STARTED = command_start()

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
""",
    "monitor": """examples:
  mlpilot monitor runs/<run-id> march.csv      # performance too when march.csv has the target column
  mlpilot monitor runs/<run-id> examples/titanic.csv --json
  mlpilot monitor runs/<run-id> march.csv --fail-on retrain   # exit code 4 when retraining is due (cron, CI)
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
    _reading_options(run)
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
    _reading_options(predict)
    _trust_option(predict)
    _common(predict)

    monitor = sub.add_parser("monitor", help="check a new batch for drift, data quality and performance",
                             description="Compare a new batch with the run's training reference: schema, data "
                             "quality, feature drift weighed by importance, prediction drift and, when the batch "
                             "has the target, performance. Gives a verdict (ok / warn / retrain) with reasons and "
                             "writes a record under RUN/monitoring/.", epilog=EXAMPLES["monitor"])
    monitor.add_argument("run", help="run folder or run id")
    monitor.add_argument("data", help="the new batch (CSV or Parquet), with or without the target column")
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


def _vouch(args: argparse.Namespace, run_dir: Path, term: object) -> bool:
    """Whether the user vouched for ``run_dir`` (``--trust``), warned about before anything is loaded."""
    if getattr(args, "trust", False):
        term.warning(f"--trust: pickles in '{run_dir}' that you did not sign (model.joblib, results.joblib) will be "
                     "loaded, and loading a pickle runs whatever code it contains; each one loaded is logged in "
                     "your mlpilot data folder (trusted_folders.jsonl)")
        return True
    return False


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-dir", dest="runs_dir", help="folder of runs (default ./runs; env MLPILOT_RUNS_DIR)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if not sys.stdin.isatty():
            parser.print_help()
            return 0
        args = parser.parse_args(["chat"])
    from agent.console import Terminal
    from agent.settings import Settings
    from tools.errors import MlpilotError

    term = Terminal(quiet=getattr(args, "quiet", False), json_mode=getattr(args, "json", False))
    try:
        settings = Settings.from_flags(vars(args))
        if args.command == "run":
            return _run(settings, term, argv)
        if args.command == "chat":
            from agent.chat.app import run_chat

            return run_chat(settings, data=args.data, resume=args.resume)
        if args.command == "predict":
            return _predict(args, settings, term)
        if args.command == "monitor":
            return _monitor(args, settings, term)
        if args.command == "retrain":
            return _retrain(args, settings, term, argv)
        if args.command == "resume":
            return _resume(args, settings, term)
        if args.command == "rerun":
            return _rerun(args, settings, term, argv)
        if args.command == "report":
            return _report(args, settings, term)
        if args.command == "compare":
            return _compare(args, settings, term)
        if args.command == "runs":
            return _runs(settings, term)
    except MlpilotError as exc:
        term.error(str(exc))
        return 2
    except KeyboardInterrupt:
        term.error("interrupted")
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback only when asked for
        if os.environ.get("MLPILOT_DEBUG"):
            raise
        term.error(f"internal error ({type(exc).__name__}: {exc}). Set MLPILOT_DEBUG=1 to see the traceback, "
                   "and please report it.")
        return 1
    return 2


def _run(settings: object, term: object, argv: list[str]) -> int:
    from agent.job.runner import run_job

    outcome = run_job(settings, started=STARTED, argv=argv, listen=term.on_event)
    if outcome.run_dir is None:
        term.error(outcome.error or "the run failed")
        if term.json_mode:
            term.json({"status": outcome.status, "error": outcome.error, "run_dir": None})
        return outcome.exit_code
    if outcome.error:
        term.error(outcome.error)
    term.summary(outcome.summary)
    return outcome.exit_code


def _monitor(args: argparse.Namespace, settings: object, term: object) -> int:
    from agent.record.runfolder import resolve_run
    from agent.use.monitor import EXIT_ALARM, monitor_run

    run_dir = resolve_run(args.run, settings.runs_dir)
    outcome = monitor_run(run_dir, Path(args.data), home=settings.home, trust=_vouch(args, run_dir, term),
                          delimiter=args.delimiter, encoding=args.encoding, seed=settings.seed)
    if term.json_mode:
        term.json(outcome.summary)
    else:
        term.monitoring(outcome.summary)
    return EXIT_ALARM if outcome.fails(args.fail_on) else 0


def _retrain(args: argparse.Namespace, settings: object, term: object, argv: list[str]) -> int:
    from agent.record.runfolder import resolve_run
    from agent.use.retrain import retrain

    parent = resolve_run(args.run, settings.runs_dir)
    outcome = retrain(parent, Path(args.data), settings=settings, window=args.window,
                      old_data=Path(args.old_data) if args.old_data else None, argv=argv, listen=term.on_event,
                      trust=_vouch(args, parent, term))
    run = outcome.run
    if run.run_dir is None:
        term.error(run.error or "the retraining run failed")
        return run.exit_code
    if term.json_mode:
        term.json({**run.summary, "parent": parent.name, "comparison": outcome.comparison})
        return run.exit_code
    term.summary(run.summary)
    if outcome.comparison:
        c = outcome.comparison
        term.print(f"keep the [bold]{c['keep']}[/bold] model: {c['reason']}", soft_wrap=True)
    return run.exit_code


def _resume(args: argparse.Namespace, settings: object, term: object) -> int:
    from agent.job.resume import resume_job
    from agent.record.runfolder import resolve_run

    run_dir = resolve_run(args.run, settings.runs_dir)
    outcome = resume_job(run_dir, budget=args.budget, started=STARTED, runs_dir=settings.runs_dir,
                         listen=term.on_event, trust=_vouch(args, run_dir, term))
    if outcome.error:
        term.error(outcome.error)
    if outcome.run_dir is not None:
        term.summary(outcome.summary)
    return outcome.exit_code


def _rerun(args: argparse.Namespace, settings: object, term: object, argv: list[str]) -> int:
    from agent.record.runfolder import read_manifest, resolve_run

    run_dir = resolve_run(args.run, settings.runs_dir)
    old = read_manifest(run_dir)
    new_settings = rerun_settings(run_dir, old, settings, budget=args.budget, replay=args.replay_answers)
    term.info(f"rerun of {old['run_id']}" + (" replaying its LLM answers offline" if args.replay_answers else ""))
    return _run(new_settings, term, argv)


def rerun_settings(run_dir: Path, manifest: dict, settings: Settings, *, budget: float | None, replay: bool,
                   env: Mapping[str, str] | None = None) -> Settings:
    """A new run's settings: the run's, every one as recorded, linked to it as its parent, with a budget
    (``budget``, else the one it decided) and this command's runs folder and output (``settings``).

    With ``replay`` the run's recorded LLM answers are replayed: no key and no endpoint, so nothing reaches
    the network.

    Raises:
        ConfigError: ``replay`` for a run that made no LLM calls.
    """
    from agent.settings import Settings
    from tools.errors import ConfigError

    recorded = manifest["settings"]
    env = os.environ if env is None else env
    overrides: dict[str, Any] = {
        "budget": budget or manifest.get("budget") or recorded.get("budget"), "runs_dir": settings.runs_dir,
        "quiet": settings.quiet, "json": settings.json, "yes": settings.yes, "interactive": settings.interactive,
        "parent": manifest["run_id"], "replay": None}
    if replay:
        calls = run_dir / "llm_calls.jsonl"
        if not recorded.get("llm_model") or not calls.exists():
            raise ConfigError(f"The run '{run_dir.name}' made no LLM calls to replay; rerun it without --replay.")
        overrides.update(replay=calls, llm_base_url=None)
        env = {k: v for k, v in env.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MLPILOT_LLM_BASE_URL")}
    return Settings.from_manifest(recorded, overrides=overrides, env=env)


def _predict(args: argparse.Namespace, settings: object, term: object) -> int:
    from agent.record.runfolder import resolve_run
    from agent.use.predict import predict_run

    run_dir = resolve_run(args.run, settings.runs_dir)
    out = predict_run(run_dir, Path(args.data), Path(args.output), home=settings.home,
                      trust=_vouch(args, run_dir, term), delimiter=args.delimiter, encoding=args.encoding,
                      with_input=args.with_input)
    for note in out.notes:
        term.info(f"note: {note}")
    if term.json_mode:
        term.json({"output": str(out.output), "rows": out.rows, "columns": out.columns, "notes": out.notes})
    elif not term.quiet:
        term.print(f"wrote {out.rows:,} predictions to {out.output} (columns: {', '.join(out.columns)})")
    return 0


def _report(args: argparse.Namespace, settings: object, term: object) -> int:
    from agent.record.report import render_report
    from agent.record.runfolder import resolve_run

    run_dir = resolve_run(args.run, settings.runs_dir)
    path = render_report(run_dir)
    page = path.with_name("report.html")
    if term.json_mode:
        term.json({"report": str(path), "html": str(page)})
    elif args.path_only or term.quiet:
        term.print(str(path))
    else:
        from rich.markdown import Markdown
        if not args.open_browser:
            term.print(Markdown(path.read_text(encoding="utf-8")))
        term.print(f"\nreport: {path}\nin a browser: {page}", soft_wrap=True)  # paths stay whole to copy
    if args.open_browser:
        import webbrowser

        if not webbrowser.open(page.resolve().as_uri()):
            term.print(f"No web browser found to open it; open {page} yourself.", soft_wrap=True)
    return 0


def _compare(args: argparse.Namespace, settings: object, term: object) -> int:
    from agent.record.compare import compare, headline
    from agent.record.html_report import comparison_page, render_comparison_html
    from agent.record.runfolder import resolve_run
    from tools.errors import ConfigError

    dirs = list(dict.fromkeys(resolve_run(r, settings.runs_dir) for r in args.runs))
    if len(dirs) < 2:
        raise ConfigError("mlpilot compare needs two different runs (run folders or run ids); "
                          f"got {len(dirs)}. `mlpilot runs` lists them.")
    out = Path(args.output) if args.output else comparison_page(settings.runs_dir)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--output {out} must end in .html: the comparison is written as an HTML page.")
    if out.is_dir() or not out.parent.exists() and args.output:
        raise ConfigError(f"--output {out}: " + ("is a folder" if out.is_dir() else
                                                 f"the folder {out.parent} does not exist") + "; give a file path.")
    c = compare(dirs)
    render_comparison_html(c, out)
    if term.json_mode:
        term.json({"runs": c.runs, "differences": c.differences, "metrics": c.metrics,
                   "like_for_like": c.like_for_like, "best": c.runs[c.best]["run_id"] if c.best is not None else None,
                   "notes": c.notes, "html": str(out)})
        return 0
    from rich.table import Table

    term.print(headline(c))
    for note in c.notes[1 if c.best is None else 0:]:
        term.print(note)
    ids = [r["run_id"] for r in c.runs]
    table = Table(title="holdout metrics", title_justify="left")
    table.add_column("metric")
    for i, run_id in enumerate(ids):
        table.add_column(chr(ord("A") + i), justify="right")
    for name, values in c.metrics.items():
        table.add_row(name, *("-" if v is None else f"{v:.4f}" for v in values))
    term.print("\n".join(f"{chr(ord('A') + i)} = {run_id}: {c.runs[i]['goal'] or '(no goal)'}"
                          for i, run_id in enumerate(ids)))
    term.print(table)
    if c.differences:
        diff = Table(title="decisions that differ", title_justify="left")
        diff.add_column("question")
        for i in range(len(ids)):
            diff.add_column(chr(ord("A") + i))
        for d in c.differences:
            diff.add_row(d["question"], *(choice[:60] for choice in d["choices"]))
        term.print(diff)
    else:
        term.print("Every decision is the same in these runs.")
    term.print(f"side by side in a browser: {out}", soft_wrap=True)
    return 0


def _runs(settings: object, term: object) -> int:
    from agent.record.runfolder import MANIFEST, read_json, read_manifest
    from agent.record.runlock import effective_status
    from tools.errors import ConfigError

    root = Path(settings.runs_dir)
    rows = []
    for path in sorted(root.glob("*/" + MANIFEST), reverse=True) if root.exists() else []:
        try:
            m = read_manifest(path.parent)
            metrics = read_json(path.parent / "metrics.json") if (path.parent / "metrics.json").exists() else {}
        except (ConfigError, ValueError) as exc:
            term.info(f"skipped {path.parent.name}: {str(exc).splitlines()[0]}")
            continue
        primary = metrics.get("primary")
        status = effective_status(path.parent, m.get("status"))
        rows.append({"run_id": m["run_id"], "status": status, "model_saved": m.get("model_saved"),
                     "goal": m.get("goal", ""),
                     "data": Path(m.get("settings", {}).get("data") or "").name, "metric": primary,
                     "value": metrics.get("metrics", {}).get(primary), "run_dir": str(path.parent),
                     "started": _timestamp(m.get("created")) or path.stat().st_mtime})
    if term.json_mode:
        term.json(rows)
        return 0
    if not rows:
        term.print(f"no runs in {root}")
        return 0
    from agent.record.status import short_status

    # 80 columns: each run on two lines, its id whole (to copy), score and age, then its status and goal.
    width = max(len(r["run_id"]) for r in rows)
    now = time.time()
    lines = [f"runs in {root}", "", f"{'run id':<{width}}  {'holdout':>14}  {'when':>7}", "  status: goal"]
    for r in rows:
        metric = SHORT_METRICS.get(r["metric"], r["metric"])
        value = "" if r["value"] is None else f"{metric} {r['value']:.3f}"
        when = _ago(now - r["started"]) if r.get("started") else ""
        lines.append(f"{r['run_id']:<{width}}  {value:>14}  {when:>7}")
        about = f"{short_status(r['status'] or '', r['model_saved'])}: {r['goal'] or '(no goal)'}"
        lines.append("  " + (about if len(about) <= 76 else about[:73] + "..."))
    term.print("\n".join(lines), soft_wrap=True, markup=False, highlight=False)
    return 0


SHORT_METRICS = {"balanced_accuracy": "bal_acc", "accuracy": "acc"}


def _timestamp(text: str | None) -> float | None:
    from datetime import datetime

    try:
        return datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


def _ago(seconds: float) -> str:
    """A run's age, short: 40s, 12m, 3h, 5d ago."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size:.0f}{unit} ago"
    return f"{max(seconds, 0):.0f}s ago"


if __name__ == "__main__":
    raise SystemExit(main())
