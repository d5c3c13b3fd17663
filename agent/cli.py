"""The ``mlpilot`` command line.

Heavy libraries (pandas, scikit-learn, LightGBM, LangGraph) are imported inside the commands, so
``mlpilot --help`` answers at once. The clock of a run starts when the process starts, never earlier
than this Python interpreter's own start (see `agent.timing.clock.command_start`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from agent.cli_args import build_parser
from agent.timing.clock import command_start

if TYPE_CHECKING:  # imported inside the commands so that --help answers at once
    from agent.settings import Settings

STARTED = command_start()

__all__ = ["build_parser", "main", "rerun_settings"]


def _vouch(args: argparse.Namespace, run_dir: Path, term: object) -> bool:
    """Whether the user vouched for ``run_dir`` (``--trust``), warned about before anything is loaded."""
    if getattr(args, "trust", False):
        term.warning(f"--trust: pickles in '{run_dir}' that you did not sign (model.joblib, results.joblib) will be "
                     "loaded, and loading a pickle runs whatever code it contains; each one loaded is logged in "
                     "your mlpilot data folder (trusted_folders.jsonl)")
        return True
    return False


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
        if args.command == "serve":
            return _serve(args, settings, term)
        if args.command == "worker":
            return _worker(args, settings, term)
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
    if settings.dask:
        _exit_now(outcome.exit_code)
    return outcome.exit_code


def _exit_now(code: int) -> None:
    """End the process without the interpreter's teardown, once everything is written and said.

    After a Dask run, the teardown sometimes aborted the process ("terminate called without an active
    exception", exit -6) when the run had completed and printed its summary: a native thread outlived
    Python. The run folder is closed and the cluster shut down by then, so nothing is lost."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _serve(args: argparse.Namespace, settings: object, term: object) -> int:
    from agent.record.runfolder import resolve_run
    from agent.use.serve import ServeOptions, serve
    from tools.errors import ConfigError

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port; give 1-65535 (or 0 for a free one).")
    if not 1 <= args.workers <= 64:
        raise ConfigError(f"--workers {args.workers} is out of range; give 1-64 (about one per core).")
    if not 0 < args.max_body <= 4096:
        raise ConfigError(f"--max-body {args.max_body:g} is out of range; give megabytes between 0.001 and 4096.")
    run_dir = resolve_run(args.run, settings.runs_dir)
    options = ServeOptions(run_dir=run_dir, home=settings.home, trust=_vouch(args, run_dir, term), host=args.host,
                           port=args.port, workers=args.workers, max_body=int(args.max_body * 1024 * 1024),
                           log_inputs=Path(args.log_inputs) if args.log_inputs else None, quiet=term.quiet,
                           token=settings.serve_token)
    serve(options, announce=lambda text: term.print(text, soft_wrap=True, markup=False, highlight=False),
          warn=term.warning)
    return 0


def _worker(args: argparse.Namespace, settings: object, term: object) -> int:
    from agent.record.runfolder import resolve_run
    from agent.use.worker import run_worker
    from tools.errors import ConfigError

    if not settings.storage:
        raise ConfigError("mlpilot worker needs the run's database: give --storage URL (as given to `mlpilot run "
                          "--storage`) or set MLPILOT_STORAGE.")
    run_dir = resolve_run(args.run, settings.runs_dir)
    outcome = run_worker(run_dir, storage=settings.storage, n_jobs=settings.n_jobs, say=term.info,
                         wait=args.wait)
    trials = ", ".join(f"{n} {state}" for state, n in outcome.trials.items()) or "no trials"
    if term.json_mode:
        term.json({"run_id": run_dir.name, "trials": dict(outcome.trials), "reason": outcome.reason})
    else:
        term.print(f"worker done: {trials}; {outcome.reason}", soft_wrap=True)
    return 0


def _monitor(args: argparse.Namespace, settings: object, term: object) -> int:
    from agent.record.runfolder import resolve_run
    from agent.use.monitor import EXIT_ALARM, monitor_run

    run_dir = resolve_run(args.run, settings.runs_dir)
    outcome = monitor_run(run_dir, Path(args.data), home=settings.home, trust=_vouch(args, run_dir, term),
                          delimiter=args.delimiter, encoding=args.encoding, seed=settings.seed, since=args.since)
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
    options = {"home": settings.home, "trust": _vouch(args, run_dir, term), "delimiter": args.delimiter,
               "encoding": args.encoding, "with_input": args.with_input}
    if args.dask:
        from agent.use.bigpredict import predict_big
        from tools.bigdata import close_clients

        try:
            out = predict_big(run_dir, Path(args.data), Path(args.output), address=args.dask, **options)
        finally:
            close_clients()
    else:
        out = predict_run(run_dir, Path(args.data), Path(args.output), **options)
    for note in out.notes:
        term.info(f"note: {note}")
    if term.json_mode:
        term.json({"output": str(out.output), "rows": out.rows, "columns": out.columns, "notes": out.notes})
    elif not term.quiet:
        term.print(f"wrote {out.rows:,} predictions to {out.output} (columns: {', '.join(out.columns)})")
    if args.dask:
        _exit_now(0)
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
