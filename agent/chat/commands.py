"""The chat's slash commands: one ``cmd_*`` method per command, whose docstring's first line is its /help
line. The offline intent parser and the LLM act only through them.

A command that takes arguments takes them typed (`agent.chat.args`): the intent parser and the LLM's
tools build them directly, and a slash command's text is read once, by its argument class's ``parse``.
The run itself (planning, approval, training in the background, stopping, the record of runs) belongs
to the `RunController`; the commands decide when to ask it and tell the person what happened. Answers
are printed through the chat's console; problems the person can fix are told plainly (never a traceback).
The module is one class, the command table, a little over 450 lines; the /help text is read from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from rich.markdown import Markdown

from agent.chat.args import Budget, Columns, Explain, Goal, Llm, Load, Metric, Monitor, Predict, Report, RunRef, Target
from agent.chat.board import run_leaderboard
from agent.chat.controller import RunController
from agent.chat.explain import compare_runs, explain, side_by_side
from agent.chat.session import ChatState, Session
from agent.chat.view import goal_text, in_chat_words, outcome_text, plan_table, profile_table, runs_table, summary_of
from agent.console import Terminal
from agent.decide.goal import parse_budget
from agent.job.runner import RunOutcome
from agent.settings import Settings
from tools.errors import ConfigError, MlpilotError
from tools.metrics import get_metric

if TYPE_CHECKING:  # reading data pulls in pandas; the chat starts without it
    from tools.intake import Table


class Commands:
    """What the chat can do, for one session."""

    def __init__(self, settings: Settings, session: Session, term: Terminal) -> None:
        self.settings = settings
        self.session = session
        self.term = term
        self.out = term.out
        self.table: Table | None = None
        self.profile: dict | None = None
        self.quit_requested = False
        self.transcript: list[str] | None = None   # set while the LLM acts, to hand it what was said
        # What the chat's own conversation with the model has used this session (set by the chat when a
        # model may be on): calls, tokens, seconds waited, cost.
        self.llm_usage: Callable[[], dict | None] = lambda: None
        self.controller = RunController(session, runs_dir=settings.runs_dir, listen=term.on_event,
                                        on_finished=self._finished)

    # ---- helpers -------------------------------------------------------------------------------------

    @property
    def state(self) -> ChatState:
        """What the session remembers (change it with `remember`)."""
        return self.session.state

    def remember(self, **changes: Any) -> None:
        self.session.remember(**changes)

    def say(self, text: str) -> None:
        # Wrapped by rich at word boundaries; left to the terminal, lines broke mid-word at its edge.
        self.out.print(text, markup=False, highlight=False)
        if self.transcript is not None:
            self.transcript.append(text)
        self.session.log("assistant", text)

    def show(self, table: Any, lines: list[str]) -> None:
        """Print a table; the LLM, which cannot see it, gets the same facts as text."""
        self.out.print(table)
        if self.transcript is not None:
            self.transcript.extend(lines)

    @property
    def budget(self) -> tuple[float | None, str]:
        """The next run's budget in seconds and where it comes from: "" (said or typed), "from the goal",
        or "chat default" (--budget); None when the run's default applies."""
        if self.state.get("budget"):
            return float(self.state["budget"]), ""
        seconds = parse_budget(self.state.get("goal") or "")[0]
        if seconds:
            return float(seconds), "from the goal"
        return (self.settings.budget, "chat default") if self.settings.budget else (None, "")

    @property
    def llm_model(self) -> str | None:
        """The model for the chat and its runs: /llm's choice, else the settings' (None: offline)."""
        return self.state.get("llm", self.settings.llm_model)

    @classmethod
    def names(cls) -> list[str]:
        """The slash commands, without the slash: one per ``cmd_*`` method."""
        return sorted(n[4:] for n in dir(cls) if n.startswith("cmd_"))

    # ---- data and goal -------------------------------------------------------------------------------

    def cmd_load(self, args: Load) -> None:
        """/load FILE - read a CSV or Parquet file and show what is in it"""
        from tools.intake import read_table
        from tools.profile import profile_frame

        path = args.path
        if not path:
            self.say("Which file? For example: /load data/sales.csv")
            return
        table = read_table(Path(path).expanduser())
        self.table, self.profile = table, profile_frame(table.frame).to_dict()
        self.remember(data=str(Path(path).expanduser()), columns=[str(c) for c in table.frame.columns])
        self.say(f"Loaded {path}: {table.shape[0]:,} rows x {table.shape[1]} columns "
                 f"({', '.join(list(table.notes)[:2]) or 'read as is'}).")
        self.out.print(profile_table(self.profile))
        self.say("Tell me what to predict, e.g. 'predict churn, recall matters most, 3 minutes'.")

    def cmd_profile(self) -> None:
        """/profile - show the columns of the loaded data: kind, gaps, distinct values, flags"""
        if not self._need_data():
            return
        if self.profile is None:
            self.cmd_load(Load(self.state["data"]))
            return
        self.out.print(profile_table(self.profile))

    def cmd_goal(self, args: Goal) -> None:
        """/goal TEXT - what to predict and what matters, e.g. 'predict churn; recall matters most; 5 minutes'"""
        if args.path:
            self.cmd_load(Load(args.path))
        goal = args.goal
        if not goal:
            self.say(f"The goal is: {self.state.get('goal') or '(not set)'}")
            return
        changes: dict[str, Any] = {"goal": goal}
        if parse_budget(goal)[0]:
            # The goal's budget replaces an earlier one; the run reads it from the goal, so the log says so.
            changes["budget"] = None
        self.remember(**changes)
        self.say(goal_text(goal, self.state.get("columns") or [], has_data=bool(self.state.get("data"))))

    def cmd_target(self, args: Target) -> None:
        """/target COLUMN - the column to predict"""
        column = self._column(args.column)
        if column is None:
            return
        self.remember(target=column)
        self.say(f"Target: {column}.")
        self._replan_if_pending("target")

    def cmd_metric(self, args: Metric) -> None:
        """/metric NAME - the metric to optimise (roc_auc, pr_auc, log_loss, f1, precision, recall, rmse, mae ...)"""
        name, plan = args.metric, self.controller.plan
        task = plan["task"] if plan else None
        try:
            metric = get_metric(name, task).name
        except MlpilotError as exc:
            self.say(str(exc))
            return
        if plan:
            self._edit({"kind": "metric", "metric": metric, "text": f"/metric {name}"})
            return
        self.remember(metric=metric)
        self.say(f"Metric: {get_metric(metric).label}.")

    def cmd_budget(self, args: Budget) -> None:
        """/budget SECONDS|'10 minutes' - the wall-clock time for the next run"""
        seconds = args.seconds
        if not seconds or seconds < 5:
            self.say("Give a budget of at least 5 seconds, e.g. '/budget 120' or 'budget 3 minutes'.")
            return
        if self.controller.plan:
            # The intent parser gives seconds only; the edit then quotes them as a slash command's text would.
            self._edit({"kind": "budget", "seconds": seconds, "text": f"budget {args.text or format(seconds, 'g')}"})
            return
        self.remember(budget=seconds)
        self.say(f"Budget: {seconds:g} s.")

    def cmd_drop(self, args: Columns) -> None:
        """/drop COLUMN... - do not use these columns"""
        self._keep_or_drop(args, "drop")

    def cmd_keep(self, args: Columns) -> None:
        """/keep COLUMN... - use these columns even if the plan would drop them"""
        self._keep_or_drop(args, "keep")

    def _keep_or_drop(self, args: Columns, kind: str) -> None:
        if args.unknown:
            self.say(f"No column named {', '.join(args.unknown)}.")
        columns = [c for c in (self._column(name) for name in args.columns) if c]
        if not columns:
            return
        if plan := self.controller.plan:
            dropped = set(plan["dropped"]) | {e["column"] for e in self.controller.edits if e["kind"] == "drop"}
            for column in columns:
                if (kind == "keep") != (column in dropped) or column == plan["target"]:
                    done = "used" if kind == "keep" else "dropped"
                    self.say(f"{column} is {'the target' if column == plan['target'] else 'already ' + done}.")
                    continue
                self._edit({"kind": kind, "column": column, "text": f"{kind} {column}"}, show=False)
            self._show_plan()
            return
        other = "drop" if kind == "keep" else "keep"
        self.remember(**{kind: sorted(set(self.state.get(kind, [])) | set(columns)),
                         other: [c for c in self.state.get(other, []) if c not in columns]})
        self.say(f"Will {kind} {', '.join(columns)} in the next plan.")

    def _column(self, name: str) -> str | None:
        columns = self.state.get("columns") or []
        if not columns:
            self.say("Load data first (/load FILE).")
            return None
        exact = {c.lower(): c for c in columns}
        found = exact.get(name.lower()) or exact.get(name.lower().replace(" ", "_"))
        if found is None:
            from tools.target import closest_columns

            close = closest_columns(name, columns)
            self.say(f"No column '{name}'." + (f" Did you mean {', '.join(close)}?" if close else
                                               f" Columns: {', '.join(columns[:20])}"))
        return found

    def _need_data(self) -> bool:
        if not self.state.get("data"):
            self.say("No data yet. Load a file with /load FILE (CSV or Parquet).")
            return False
        return True

    # ---- plan and run --------------------------------------------------------------------------------

    def cmd_plan(self) -> None:
        """/plan - plan the run (target, metric, columns, models, budget) and show it for approval"""
        ctl = self.controller
        if ctl.plan:
            self._show_plan()
            return
        if ctl.running:
            self.say("A run is going on; /stop it first or wait for it to finish.")
            return
        if not self._need_data():
            return
        settings = self._run_settings()
        self.say("Planning: reading the data, profiling, checking for leaks ...")
        failed = ctl.open(settings)
        if failed is not None:
            self.say(failed.error or "The run could not start.")
            return
        if ctl.run_until_plan():
            self._show_plan()

    def reopen_plan(self, run_dir: Path) -> None:
        """Pause the run of an earlier session at its approval again, with the edits made then."""
        if not self.controller.reopen(run_dir, budget=self.state.get("budget")):
            return
        self.say("Your last plan is still waiting for approval:")
        self._show_plan()
        self.say("Approve with 'yes', edit it, or 'cancel'.")

    def cmd_run(self) -> None:
        """/run - approve the plan and train (plans first when there is no plan yet)"""
        ctl = self.controller
        if ctl.running:
            self.say("A run is already going on.")
            return
        if ctl.plan is None:
            if self.settings.yes:
                self._start_unattended()
                return
            self.cmd_plan()
            if ctl.plan is None:
                return
            self.say("Approve with 'yes' (or /run), edit it ('keep COLUMN', 'budget 10 minutes', "
                     "'optimise precision'), or 'cancel'.")
            return
        self.say("Approved. Training in the background; ask me anything meanwhile, /stop or Ctrl-C stops it.")
        self._carry(ctl.edits)
        ctl.approve()

    def cmd_approve(self) -> None:
        """/approve - approve the plan shown and start training"""
        if self.controller.plan is None:
            self.say("There is no plan waiting for approval; say 'go' to make one.")
            return
        self.cmd_run()

    def cmd_cancel(self) -> None:
        """/cancel - drop the plan waiting for approval"""
        if self.controller.plan is None:
            self.say("There is no plan to cancel.")
            return
        self.controller.cancel()
        self.say("Plan cancelled; nothing was trained.")

    def cmd_stop(self) -> None:
        """/stop - stop the run gracefully: the best model so far is saved and reported"""
        if not self.controller.stop():
            self.say("No run is going on.")
            return
        self.say("Stopping: finishing with the best model so far ...")

    def cmd_resume(self, args: RunRef = RunRef()) -> None:
        """/resume [RUN] - continue an interrupted run from its checkpoint"""
        ctl = self.controller
        if ctl.plan is not None:
            self.say("A plan is waiting for approval: approve it with 'yes' or drop it with 'cancel' first.")
            return
        run_dir = ctl.run_dir(args.run)
        if run_dir is None or ctl.running:
            self.say("No interrupted run to resume." if run_dir is None else "A run is going on already.")
            return
        run_id = ctl.resume(run_dir, budget=self.state.get("budget"))
        self.say(f"Resuming {run_id} in the background.")
        ctl.start()

    def _run_settings(self) -> Settings:
        s = self.state
        seconds, source = self.budget
        return self.settings.with_(data=Path(s["data"]), goal=s.get("goal") or "", target=s.get("target"),
                                   metric=s.get("metric"), budget=None if source == "from the goal" else seconds,
                                   keep=tuple(s.get("keep") or ()), drop=tuple(s.get("drop") or ()),
                                   llm_model=self.llm_model, interactive=True)

    def _start_unattended(self) -> None:
        failed = self.controller.open(self._run_settings().with_(yes=True))
        if failed is not None:
            self.say(failed.error or "The run could not start.")
            return
        # Said before the run starts, so that it comes before the run's first progress line.
        self.say("Training in the background (--yes: no plan approval); /stop or Ctrl-C stops it.")
        self.controller.start()

    def _edit(self, edit: dict, show: bool = True) -> None:
        self.controller.edit(edit)
        if show:
            self._show_plan()

    def _replan_if_pending(self, what: str) -> None:
        if self.controller.plan is not None:
            edits = self.controller.edits
            self._carry(edits)
            kept = f"; your edits ({'; '.join(e.get('text', e['kind']) for e in edits)}) carry over" if edits else ""
            self.say(f"The {what} changed, so the plan is made again{kept}.")
            self.cmd_cancel()
            self.cmd_plan()

    def _carry(self, edits: list[dict]) -> None:
        """A plan's edits stay the person's wishes for the session's next plans: the plan made again after a
        change, and the next run's (a new 'go' used to start from the goal alone, forgetting them)."""
        keep, drop = set(self.state.get("keep") or ()), set(self.state.get("drop") or ())
        changes: dict[str, Any] = {}
        for e in edits:
            if e["kind"] in ("keep", "drop"):
                (keep if e["kind"] == "keep" else drop).add(e["column"])
                (drop if e["kind"] == "keep" else keep).discard(e["column"])
            elif e["kind"] == "metric":
                changes["metric"] = e["metric"]
            elif e["kind"] == "budget":
                changes["budget"] = e["seconds"]
        self.remember(keep=sorted(keep), drop=sorted(drop), **changes)

    def _show_plan(self) -> None:
        edits = self.controller.edits
        for piece in plan_table(self.controller.plan, edits):
            self.out.print(piece)
        if edits:
            self.say("Your edits: " + "; ".join(e.get("text", e["kind"]) for e in edits) + ".")

    def _finished(self, outcome: RunOutcome) -> None:
        """Tell the person how a run ended (the controller has recorded it already)."""
        if outcome.run_dir is None:
            if outcome.status != "cancelled":
                self.say(f"The run did not start: {in_chat_words(outcome.error or '')}")
            return
        if outcome.summary.get("metrics") and (board := run_leaderboard(outcome.run_dir)):
            self.out.print(board[0])
        self.say(outcome_text(outcome))

    # ---- results ------------------------------------------------------------------------------------

    def cmd_runs(self) -> None:
        """/runs - list the runs in the runs folder"""
        root = Path(self.settings.runs_dir)
        table = runs_table(root)
        if table is None:
            self.say(f"No runs in {root} yet.")
            return
        self.out.print(table)

    def cmd_leaderboard(self, args: RunRef = RunRef()) -> None:
        """/leaderboard [RUN] - the models tried, scored with default settings and after tuning, and the choice"""
        board = run_leaderboard(self.controller.run_dir(args.run))
        if board is None:
            self.say("No models scored yet: the leaderboard fills in once a run has compared its candidates.")
            return
        self.show(*board)

    def cmd_report(self, args: Report = Report()) -> None:
        """/report [full] [RUN] - the current run's report: its summary and plan, or all of it with 'full'"""
        from agent.record.report import render_report

        run_dir = self.controller.run_dir(args.run)
        if run_dir is None or not (run_dir / "manifest.json").exists():
            self.say("No run yet: say 'go' to plan and train one.")
            return
        path = render_report(run_dir)
        text = path.read_text(encoding="utf-8")
        self.out.print(Markdown(text if args.full else summary_of(text)))
        self.say(f"Report: {path}" + ("" if args.full else "  ('/report full' shows all of it here)"))

    def cmd_explain(self, args: Explain = Explain()) -> None:
        """/explain TOPIC [SUBJECT] - why a decision was made (column, model, metric, threshold, baseline ...)"""
        run_dir = self.controller.run_dir()
        if run_dir is None:
            self.say("No run yet to explain: say 'go' to plan one.")
            return
        self.say(explain(run_dir, args.topic, args.subject).text)

    def cmd_compare(self, args: RunRef = RunRef()) -> None:
        """/compare [RUN] - compare the current run with the previous one (or RUN)"""
        ctl = self.controller
        current = ctl.run_dir()
        earlier = [r for r in (self.state.get("runs") or []) if not current or r != current.name]
        other = ctl.run_dir(args.run) if args.run else (ctl.run_dir(earlier[-1]) if earlier else None)
        if current is None or other is None:
            self.say("I need two runs to compare; this session has fewer.")
            return
        self.say(compare_runs(other, current).text)
        self.say(side_by_side([other, current], self.controller.runs_dir))

    def cmd_predict(self, args: Predict) -> None:
        """/predict FILE [OUTPUT] - predict new rows with the current run's model"""
        from agent.use.predict import predict_run

        run_dir = self.controller.run_dir()
        if not args.path or run_dir is None:
            self.say("Say which file to predict, after a run: /predict march.csv")
            return
        data = Path(args.path)
        output = Path(args.output) if args.output is not None else data.with_name(f"{data.stem}_predictions.csv")
        out = predict_run(run_dir, data, output, home=self.settings.home)
        for note in out.notes:
            self.say(f"note: {note}")
        self.say(f"Wrote {out.rows:,} predictions to {out.output} ({', '.join(out.columns)}).")

    def cmd_serve(self) -> None:
        """/serve - the command that serves the current run's model over HTTP (POST /predict)"""
        import shlex

        from agent.record.runfolder import read_manifest

        run_dir = self.controller.run_dir()
        manifest = read_manifest(run_dir) if run_dir is not None and (run_dir / "manifest.json").exists() else {}
        if not manifest.get("model"):
            self.say("No model to serve yet: train one first (say 'go'), then ask again.")
            return
        where = shlex.quote(str(run_dir))
        example = ", ".join(f'"{name}": ...' for name in manifest["model"]["features"][:4])
        more = ", ..." if len(manifest["model"]["features"]) > 4 else ""
        self.say(f"In another terminal, run:\n  mlpilot serve {where}\nIt listens on http://127.0.0.1:8000: POST "
                 f"rows to /predict as JSON ([{{{example}{more}}}]) or CSV; GET /metadata lists the inputs and "
                 "their types; Ctrl-C stops it. Add --log-inputs live/ to keep what it receives, then "
                 f"`mlpilot monitor {where} live/` checks it for drift. README, Serving, has a Dockerfile too.")

    def cmd_monitor(self, args: Monitor) -> None:
        """/monitor FILE - check a new batch for drift against the current run"""
        from agent.use.monitor import monitor_run

        run_dir = self.controller.run_dir()
        if not args.path or run_dir is None:
            self.say("Say which file to check, after a run: /monitor march.csv")
            return
        outcome = monitor_run(run_dir, Path(args.path), home=self.settings.home, seed=self.settings.seed)
        self.term.monitoring(outcome.summary)

    def cmd_llm(self, args: Llm = Llm()) -> None:
        """/llm [MODEL|off] - show or switch the language model (off: the offline rules)"""
        model = args.model
        if not model:
            used = self.llm_usage() if self.llm_model else None
            spent = (f" This session: {used['calls']} call(s), {used['tokens']:,} tokens ({used['prompt_tokens']:,} "
                     f"in, {used['completion_tokens']:,} out), {used['seconds']:.1f} s waiting, "
                     f"${used['cost_usd']:.4f}" + (f" of a ${self.settings.llm_budget_usd:.2f} budget"
                                                    if self.settings.llm_budget_usd else "") + "."
                     if used and used.get("calls") else "")
            self.say(f"LLM: {self.llm_model or 'offline (rule policy)'}.{spent}")
            return
        if model.lower() == "off":
            self.remember(llm=None)
            self.say("LLM off: the offline rules read what you say and decide the runs.")
            return
        if not self.settings.llm_endpoint:
            raise ConfigError("No endpoint for an LLM: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server.")
        self.remember(llm=model)
        self.say(f"LLM: {model}.")

    def cmd_help(self) -> None:
        """/help - what I can do"""
        from agent.chat.intents import help_text

        lines = [help_text(), "", "Commands:"]
        for name in self.names():
            lines.append("  " + (getattr(self, f"cmd_{name}").__doc__ or name).strip().splitlines()[0])
        self.say("\n".join(lines))

    def cmd_quit(self) -> None:
        """/quit - leave (a run in progress is stopped gracefully first)"""
        self.quit_requested = True

