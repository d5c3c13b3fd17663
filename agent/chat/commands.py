"""The chat's actions: one ``cmd_*`` method per slash command (its docstring's first line is its /help
line), shared by the offline intent parser and the LLM, which act only through them.

Every method takes the rest of the line as one string and prints its answer through the chat's console;
problems the person can fix are told plainly (never a traceback).
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any

from rich.markdown import Markdown

from agent.chat.explain import compare_runs, explain
from agent.chat.session import SessionStore
from agent.chat.view import in_chat_words, plan_table, profile_table
from agent.chat.worker import RunWorker
from agent.console import Terminal
from agent.decide.goal import parse_budget, read_goal
from agent.job.runner import Run, RunOutcome
from agent.record.runfolder import read_json, resolve_run
from agent.record.status import describe_status, short_status
from agent.settings import Settings
from tools.errors import ConfigError, MlpilotError
from tools.metrics import get_metric


class Commands:
    """What the chat can do. ``state`` is the session (saved after every turn)."""

    def __init__(self, settings: Settings, store: SessionStore, session: str, state: dict, term: Terminal) -> None:
        self.settings = settings
        self.store = store
        self.session = session
        self.state = state
        self.term = term
        self.out = term.out
        self.table: Any = None
        self.profile: dict | None = None
        self.pending: Run | None = None   # a run paused for the approval of its plan
        self.worker: RunWorker | None = None
        self.quit_requested = False
        self.transcript: list[str] | None = None   # set while the LLM acts, to hand it what was said

    # ---- helpers -------------------------------------------------------------------------------------

    def remember(self, **changes: Any) -> None:
        self.state.update(changes)
        self.store.save(self.session, changes)

    def say(self, text: str) -> None:
        self.out.print(text, soft_wrap=True, markup=False, highlight=False)
        if self.transcript is not None:
            self.transcript.append(text)
        self.store.save(self.session, {"messages": [{"role": "assistant", "text": text[:2000]}]})

    def show(self, table: Any, lines: list[str]) -> None:
        """Print a table; the LLM, which cannot see it, gets the same facts as text."""
        self.out.print(table)
        if self.transcript is not None:
            self.transcript.extend(lines)

    def run_dir(self, which: str = "") -> Path | None:
        """The run asked about: an id or folder, else the current one."""
        if which:
            return resolve_run(which, self.settings.runs_dir)
        return Path(self.state["run_dir"]) if self.state.get("run_dir") else None

    @property
    def plan(self) -> dict | None:
        """The plan waiting for approval, as the paused run shows it."""
        return self.pending.pending if self.pending is not None else None

    @property
    def edits(self) -> list[dict]:
        """The person's edits to the waiting plan; kept in the session, so a later session can approve it."""
        return list(self.state.get("plan_edits") or [])

    @edits.setter
    def edits(self, value: list[dict]) -> None:
        self.remember(plan_edits=list(value))

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

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.active

    @classmethod
    def names(cls) -> list[str]:
        """The slash commands, without the slash: one per ``cmd_*`` method."""
        return sorted(n[4:] for n in dir(cls) if n.startswith("cmd_"))

    # ---- data and goal -------------------------------------------------------------------------------

    def cmd_load(self, arg: str) -> None:
        """/load FILE - read a CSV or Parquet file and show what is in it"""
        from tools.intake import read_table
        from tools.profile import profile_frame

        path = arg.strip().strip("'\"")
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

    def cmd_profile(self, arg: str = "") -> None:
        """/profile - show the columns of the loaded data: kind, gaps, distinct values, flags"""
        if not self._need_data():
            return
        if self.profile is None:
            self.cmd_load(self.state["data"])
            return
        self.out.print(profile_table(self.profile))

    def cmd_goal(self, arg: str) -> None:
        """/goal TEXT - what to predict and what matters, e.g. 'predict churn; recall matters most; 5 minutes'"""
        goal = arg.strip()
        if not goal:
            self.say(f"The goal is: {self.state.get('goal') or '(not set)'}")
            return
        changes: dict[str, Any] = {"goal": goal}
        columns = self.state.get("columns") or []
        match, intent = read_goal(goal, tuple(columns))
        seconds, phrase = parse_budget(goal)
        if seconds:
            # The goal's budget replaces an earlier one; the run reads it from the goal, so the log says so.
            changes["budget"] = None
        self.remember(**changes)
        parts = [f"Goal set: {goal!r}."]
        if match:
            parts.append(f"I read the target as '{match.column}' ({match.why}).")
        elif columns:
            parts.append("No column of the data is named in it; say 'target COLUMN' to pick one.")
        if intent:
            parts.append(f"Scoring: {intent.why}.")
        if seconds:
            parts.append(f"Budget {seconds:g} s ('{phrase}').")
        parts.append("Say 'go' to see the plan." if self.state.get("data") else "Load data with /load FILE.")
        self.say(" ".join(parts))

    def cmd_target(self, arg: str) -> None:
        """/target COLUMN - the column to predict"""
        column = self._column(arg)
        if column is None:
            return
        self.remember(target=column)
        self.say(f"Target: {column}.")
        self._replan_if_pending("target")

    def cmd_metric(self, arg: str) -> None:
        """/metric NAME - the metric to optimise (roc_auc, pr_auc, log_loss, f1, precision, recall, rmse, mae ...)"""
        name = arg.strip()
        task = self.plan["task"] if self.plan else None
        try:
            metric = get_metric(name, task).name
        except MlpilotError as exc:
            self.say(str(exc))
            return
        if self.plan:
            self._edit({"kind": "metric", "metric": metric, "text": f"/metric {name}"})
            return
        self.remember(metric=metric)
        self.say(f"Metric: {get_metric(metric).label}.")

    def cmd_budget(self, arg: str) -> None:
        """/budget SECONDS|'10 minutes' - the wall-clock time for the next run"""
        text = arg.strip()
        seconds = float(text) if text.replace(".", "", 1).isdigit() else parse_budget(text)[0]
        if not seconds or seconds < 5:
            self.say("Give a budget of at least 5 seconds, e.g. '/budget 120' or 'budget 3 minutes'.")
            return
        if self.plan:
            self._edit({"kind": "budget", "seconds": seconds, "text": f"budget {text}"})
            return
        self.remember(budget=seconds)
        self.say(f"Budget: {seconds:g} s.")

    def cmd_drop(self, arg: str) -> None:
        """/drop COLUMN... - do not use these columns"""
        self._keep_or_drop(arg, "drop")

    def cmd_keep(self, arg: str) -> None:
        """/keep COLUMN... - use these columns even if the plan would drop them"""
        self._keep_or_drop(arg, "keep")

    def _keep_or_drop(self, arg: str, kind: str) -> None:
        columns = [c for c in (self._column(name) for name in _split(arg)) if c]
        if not columns:
            return
        if self.plan:
            dropped = set(self.plan["dropped"]) | {e["column"] for e in self.edits if e["kind"] == "drop"}
            for column in columns:
                if (kind == "keep") != (column in dropped) or column == self.plan["target"]:
                    self.say(f"{column} is {'the target' if column == self.plan['target'] else 'already ' + ('used' if kind == 'keep' else 'dropped')}.")
                    continue
                self._edit({"kind": kind, "column": column, "text": f"{kind} {column}"}, show=False)
            self._show_plan()
            return
        other = "drop" if kind == "keep" else "keep"
        self.remember(**{kind: sorted(set(self.state.get(kind, [])) | set(columns)),
                         other: [c for c in self.state.get(other, []) if c not in columns]})
        self.say(f"Will {kind} {', '.join(columns)} in the next plan.")

    def _column(self, name: str) -> str | None:
        name = name.strip().strip("'\"")
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

    def cmd_plan(self, arg: str = "") -> None:
        """/plan - plan the run (target, metric, columns, models, budget) and show it for approval"""
        if self.plan:
            self._show_plan()
            return
        if self.running:
            self.say("A run is going on; /stop it first or wait for it to finish.")
            return
        if not self._need_data():
            return
        settings = self._run_settings()
        self.say("Planning: reading the data, profiling, checking for leaks ...")
        run = Run.create(settings, started=time.monotonic(), listen=self.term.on_event)
        if isinstance(run, RunOutcome):
            self.say(run.error or "The run could not start.")
            return
        self.remember(run_id=run.ctx.run_id, run_dir=str(run.run_dir))
        plan = run.start()
        if plan is None:
            self._finished(run.outcome)
            return
        self.pending, self.edits = run, []
        self._show_plan()

    def reopen_plan(self, run_dir: Path) -> None:
        """Pause the run of an earlier session at its approval again, with the edits made then."""
        from agent.job.resume import resume_run

        run = resume_run(run_dir, budget=self.state.get("budget"), started=time.monotonic(),
                         runs_dir=self.settings.runs_dir, listen=None, interactive=True, approve=True)
        if run.continue_from(run.resume_config) is None:
            self.edits = []
            self._finished(run.outcome)
            return
        run.ctx.events.subscribe(self.term.on_event)
        self.pending = run
        self.say("Your last plan is still waiting for approval:")
        self._show_plan()
        self.say("Approve with 'yes', edit it, or 'cancel'.")

    def cmd_run(self, arg: str = "") -> None:
        """/run - approve the plan and train (plans first when there is no plan yet)"""
        if self.running:
            self.say("A run is already going on.")
            return
        if self.plan is None:
            if self.settings.yes:
                self._start_unattended()
                return
            self.cmd_plan()
            if self.plan is None:
                return
            self.say("Approve with 'yes' (or /run), edit it ('keep COLUMN', 'budget 10 minutes', "
                     "'optimise precision'), or 'cancel'.")
            return
        run, edits = self.pending, list(self.edits)
        self.pending, self.edits = None, []
        self.say("Approved. Training in the background; ask me anything meanwhile, /stop or Ctrl-C stops it.")
        self.worker = RunWorker(run, lambda: run.resume({"action": "approve", "edits": edits}), self._finished)
        self.worker.start()

    def cmd_approve(self, arg: str = "") -> None:
        """/approve - approve the plan shown and start training"""
        if self.plan is None:
            self.say("There is no plan waiting for approval; say 'go' to make one.")
            return
        self.cmd_run()

    def cmd_cancel(self, arg: str = "") -> None:
        """/cancel - drop the plan waiting for approval"""
        if self.pending is None:
            self.say("There is no plan to cancel.")
            return
        self.pending.resume({"action": "cancel"})
        self.pending, self.edits = None, []
        self._back_to_last_run()
        self.say("Plan cancelled; nothing was trained.")

    def cmd_stop(self, arg: str = "") -> None:
        """/stop - stop the run gracefully: the best model so far is saved and reported"""
        if not self.running:
            self.say("No run is going on.")
            return
        self.worker.stop()
        self.say("Stopping: finishing with the best model so far ...")

    def cmd_resume(self, arg: str = "") -> None:
        """/resume [RUN] - continue an interrupted run from its checkpoint"""
        from agent.job.resume import resume_run

        run_dir = self.run_dir(arg)
        if run_dir is None or self.running:
            self.say("No interrupted run to resume." if run_dir is None else "A run is going on already.")
            return
        run = resume_run(run_dir, budget=self.state.get("budget"), started=time.monotonic(),
                         runs_dir=self.settings.runs_dir, listen=self.term.on_event, interactive=True)
        self.remember(run_id=run.ctx.run_id, run_dir=str(run_dir))
        self.say(f"Resuming {run.ctx.run_id} in the background.")
        self.worker = RunWorker(run, lambda: run.continue_from(run.resume_config), self._finished)
        self.worker.start()

    def _run_settings(self) -> Settings:
        s = self.state
        seconds, source = self.budget
        return self.settings.with_(data=Path(s["data"]), goal=s.get("goal") or "", target=s.get("target"),
                                   metric=s.get("metric"), budget=None if source == "from the goal" else seconds,
                                   keep=tuple(s.get("keep") or ()), drop=tuple(s.get("drop") or ()),
                                   llm_model=self.llm_model, interactive=True)

    def _start_unattended(self) -> None:
        settings = self._run_settings().with_(yes=True)
        run = Run.create(settings, started=time.monotonic(), listen=self.term.on_event)
        if isinstance(run, RunOutcome):
            self.say(run.error or "The run could not start.")
            return
        self.remember(run_id=run.ctx.run_id, run_dir=str(run.run_dir))
        self.say("Training in the background (--yes: no plan approval); /stop or Ctrl-C stops it.")
        self.worker = RunWorker(run, run.start, self._finished)
        self.worker.start()

    def _edit(self, edit: dict, show: bool = True) -> None:
        self.edits = [e for e in self.edits if not (e["kind"] == edit["kind"] and e.get("column") == edit.get("column"))
                      ] + [edit]
        if show:
            self._show_plan()

    def _replan_if_pending(self, what: str) -> None:
        if self.pending is not None:
            self.say(f"The {what} changed, so the plan is made again.")
            self.cmd_cancel()
            self.cmd_plan()

    def _show_plan(self) -> None:
        for piece in plan_table(self.plan, self.edits):
            self.out.print(piece)
        if self.edits:
            self.say("Your edits: " + "; ".join(e.get("text", e["kind"]) for e in self.edits) + ".")

    def _back_to_last_run(self) -> None:
        """After a plan that left no run folder (cancelled, or refused before training), questions and
        reports are about the last run that did finish again."""
        runs = self.settings.runs_dir
        last = next((r for r in reversed(self.state.get("runs") or []) if (runs / r).is_dir()), None)
        self.remember(run_id=last, run_dir=str(runs / last) if last else None)

    def _finished(self, outcome: RunOutcome) -> None:
        if outcome is None or outcome.run_dir is None:
            self._back_to_last_run()
            if outcome is not None and outcome.status != "cancelled":
                self.say(f"The run did not start: {in_chat_words(outcome.error or '')}")
            return
        self.remember(runs=list(dict.fromkeys((self.state.get("runs") or []) + [outcome.run_id])))
        summary = outcome.summary
        if summary.get("metrics") and (board := _board(outcome.run_dir)):
            self.out.print(board[0])
        saved = summary.get("model_file") is not None
        text = f"Run {outcome.run_id} {describe_status(outcome.status, saved)}"
        if summary.get("elapsed_seconds") is not None and summary.get("budget"):
            text += f" after {summary['elapsed_seconds']:.0f} s of its {summary['budget']:.0f} s budget"
        if summary.get("metrics"):
            p = summary["primary_metric"]
            text += (f": {summary['model']} scores {get_metric(p).label} {summary['metrics'][p]:.4f} on the holdout "
                     f"(baseline {summary['baseline'].get(p, float('nan')):.4f}). Model saved; report at "
                     f"{summary['report']}.")
        if outcome.error:
            text += f" ({outcome.error})"
        self.say(text + " Ask 'why ...' about any decision.")

    # ---- results ------------------------------------------------------------------------------------

    def cmd_runs(self, arg: str = "") -> None:
        """/runs - list the runs in the runs folder"""
        from rich.table import Table

        root = Path(self.settings.runs_dir)
        rows = sorted(root.glob("*/manifest.json"), reverse=True)[:15] if root.exists() else []
        if not rows:
            self.say(f"No runs in {root} yet.")
            return
        table = Table(title=f"runs in {root}")
        for col in ("run id", "status", "goal"):
            table.add_column(col)
        for path in rows:
            m = read_json(path)
            table.add_row(m["run_id"], short_status(m.get("status", ""), m.get("model_saved")),
                          (m.get("goal") or "")[:50])
        self.out.print(table)

    def cmd_leaderboard(self, arg: str = "") -> None:
        """/leaderboard [RUN] - the models tried, scored with default settings and after tuning, and the choice"""
        board = _board(self.run_dir(arg.strip()))
        if board is None:
            self.say("No models scored yet: the leaderboard fills in once a run has compared its candidates.")
            return
        self.show(*board)

    def cmd_report(self, arg: str = "") -> None:
        """/report [full] [RUN] - the current run's report: its summary and plan, or all of it with 'full'"""
        from agent.record.report import render_report

        parts = _split(arg)
        full = bool(parts) and parts[0].lower() in ("full", "all", "--full")
        run_dir = self.run_dir(" ".join(parts[1:] if full else parts))
        if run_dir is None or not (run_dir / "manifest.json").exists():
            self.say("No run yet: say 'go' to plan and train one.")
            return
        path = render_report(run_dir)
        text = path.read_text(encoding="utf-8")
        self.out.print(Markdown(text if full else _summary_of(text)))
        self.say(f"Report: {path}" + ("" if full else "  ('/report full' shows all of it here)"))

    def cmd_explain(self, arg: str = "") -> None:
        """/explain TOPIC [SUBJECT] - why a decision was made (column, model, metric, threshold, baseline ...)"""
        parts = _split(arg)
        topic = parts[0] if parts else "general"
        subject = " ".join(parts[1:]) or None
        self.explain(topic, subject)

    def explain(self, topic: str, subject: str | None) -> None:
        run_dir = self.run_dir()
        if run_dir is None:
            self.say("No run yet to explain: say 'go' to plan one.")
            return
        answer = explain(run_dir, topic, subject)
        self.say(answer.text)

    def cmd_compare(self, arg: str = "") -> None:
        """/compare [RUN] - compare the current run with the previous one (or RUN)"""
        current = self.run_dir()
        runs = [r for r in (self.state.get("runs") or []) if not current or r != current.name]
        other = self.run_dir(arg) if arg.strip() else (self.run_dir(runs[-1]) if runs else None)
        if current is None or other is None:
            self.say("I need two runs to compare; this session has fewer.")
            return
        self.say(compare_runs(other, current).text)

    def cmd_predict(self, arg: str) -> None:
        """/predict FILE [OUTPUT] - predict new rows with the current run's model"""
        from agent.use.predict import predict_run

        parts = _split(arg)
        run_dir = self.run_dir()
        if not parts or run_dir is None:
            self.say("Say which file to predict, after a run: /predict march.csv")
            return
        data = Path(parts[0])
        output = Path(parts[1]) if len(parts) > 1 else data.with_name(f"{data.stem}_predictions.csv")
        out = predict_run(run_dir, data, output)
        for note in out.notes:
            self.say(f"note: {note}")
        self.say(f"Wrote {out.rows:,} predictions to {out.output} ({', '.join(out.columns)}).")

    def cmd_monitor(self, arg: str) -> None:
        """/monitor FILE - check a new batch for drift against the current run"""
        from agent.use.monitor import monitor_run

        run_dir = self.run_dir()
        if not arg.strip() or run_dir is None:
            self.say("Say which file to check, after a run: /monitor march.csv")
            return
        outcome = monitor_run(run_dir, Path(arg.strip().strip("'\"")), seed=self.settings.seed)
        self.term.monitoring(outcome.summary)

    def cmd_llm(self, arg: str = "") -> None:
        """/llm [MODEL|off] - show or switch the language model (off: the offline rules)"""
        model = arg.strip()
        if not model:
            self.say(f"LLM: {self.llm_model or 'offline (rule policy)'}.")
            return
        if model.lower() == "off":
            self.remember(llm=None)
            self.say("LLM off: the offline rules read what you say and decide the runs.")
            return
        if not self.settings.llm_endpoint:
            raise ConfigError("No endpoint for an LLM: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server.")
        self.remember(llm=model)
        self.say(f"LLM: {model}.")

    def cmd_help(self, arg: str = "") -> None:
        """/help - what I can do"""
        from agent.chat.intents import help_text

        lines = [help_text(), "", "Commands:"]
        for name in self.names():
            lines.append("  " + (getattr(self, f"cmd_{name}").__doc__ or name).strip().splitlines()[0])
        self.say("\n".join(lines))

    def cmd_quit(self, arg: str = "") -> None:
        """/quit - leave (a run in progress is stopped gracefully first)"""
        self.quit_requested = True


def _board(run_dir: Path | None) -> tuple[Any, list[str]] | None:
    from agent.chat.board import leaderboard
    from agent.record.reader import RunRecord

    if run_dir is None or not (run_dir / "events.jsonl").exists():
        return None
    return leaderboard(RunRecord(run_dir))


def _summary_of(report: str) -> str:
    """The report up to its second section: the result and the plan in short, which fit on a screen."""
    sections = [i for i, line in enumerate(report.splitlines()) if line.startswith("## ")]
    return "\n".join(report.splitlines()[: sections[1]]) if len(sections) > 1 else report


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()
