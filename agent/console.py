"""The only module that prints. Progress goes to stderr (so ``--json`` keeps stdout clean); results,
tables and summaries go to stdout.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agent.record.status import describe_status
from tools.fmt import number
from tools.metrics import metric_label
from tools.redact import redact_urls


class Terminal:
    """Progress display driven by run events, plus plain output helpers."""

    def __init__(self, *, quiet: bool = False, json_mode: bool = False, chat: bool = False) -> None:
        self.quiet = quiet
        self.json_mode = json_mode
        self.chat = chat
        self.out = Console(highlight=False, soft_wrap=False)
        # In the chat, progress shares stdout with the prompt (which keeps it above the input line).
        self.err = self.out if chat else Console(stderr=True, highlight=False)
        self._live: Live | None = None
        self._status = Text("")
        self._trials = 0
        self._best: float | None = None

    # ---- progress -------------------------------------------------------------------------------

    @property
    def showing_progress(self) -> bool:
        return not (self.quiet or self.json_mode)

    def on_event(self, event: dict) -> None:
        """Listener for `EventLog`: one line per meaningful event, a live status line during tuning."""
        if not self.showing_progress:
            return
        kind = event["kind"]
        t = event.get("t", 0.0)
        line = self._line(event)
        if line:
            self._print(f"[dim]{t:6.1f}s[/dim] {line}")
        if kind == "run_started":  # a chat session runs many; each counts its own trials
            self._trials, self._best = 0, None
        if kind in ("trial", "tuning_started"):
            self._update_live(event)
        if kind in ("tuning_finished", "tuning_skipped", "run_finished", "error"):
            self._stop_live()

    def _line(self, e: dict) -> str | None:
        kind = e["kind"]
        if kind == "run_started":
            return f"[bold]mlpilot[/bold] run [cyan]{e['run_id']}[/cyan]"
        if kind == "data_read":
            return f"read {e['rows']:,} rows x {e['columns']} columns"
        if kind == "step_started":
            left = f" [dim]({e['left']:.0f} s left)[/dim]" if e.get("left") is not None else ""
            return f"[bold]{e['step']}[/bold]{left}"
        if kind == "decision":
            if e["question"] == "column_plan":
                return f"  [green]decided[/green] columns: {e['reason']}"
            choice = e["choice"]
            if isinstance(choice, (dict, list)):
                choice = _cut(_compact(choice), 80)
            return f"  [green]decided[/green] {e['question']} = [bold]{choice}[/bold] [dim]({e['actor']}: {_cut(e['reason'], 110)})[/dim]"
        if kind == "fallback":
            return f"  [yellow]fallback to rules[/yellow] for {e.get('question')}: {e.get('problem')}"
        if kind == "candidate_scored":
            cut = "" if e["complete"] else " [yellow](cut by time)[/yellow]"
            return f"  {e['candidate']:<14} {e['mean']:.4f} +- {e['sd']:.4f}  ({e['fit_seconds']:.1f} s){cut}"
        if kind == "candidate_failed":
            return f"  [red]{e['candidate']} failed[/red]: {_cut(e['error'], 120)}"
        if kind == "leakage_check" and e.get("suspects"):
            return "  [yellow]leakage suspects[/yellow]: " + ", ".join(s["column"] for s in e["suspects"])
        if kind == "tuning_finished":
            return f"  {e['trials']} trials, stopped by {e['stopped'].replace('_', ' ')}"
        if kind == "tuning_skipped":
            return f"  tuning skipped: {e['reason']}"
        if kind == "holdout_metrics":
            p = e["primary"]
            label = metric_label(p)
            return (f"  holdout {label}: [bold]{e['metrics'].get(p):.4f}[/bold] "
                    f"(baseline {e['baseline'].get(p):.4f})")
        if kind == "model_saved":
            return f"  saved model ({e['fitted_on']})"
        if kind in ("warning", "interrupt", "watchdog"):
            return f"  [yellow]{e['message']}[/yellow]"
        if kind == "run_finished":
            colour = "green" if e["status"] == "completed" else "yellow"
            took = e["elapsed"] if e.get("elapsed") is not None else e.get("wall", 0.0)
            return f"[{colour}]{describe_status(e['status'], e.get('model_saved'))}[/{colour}] in {took:.1f} s"
        return None

    def _update_live(self, e: dict) -> None:
        if e["kind"] == "trial":
            self._trials += 1
            self._best = e.get("best_so_far", self._best)
            left = e.get("seconds_left")
            text = (f"tuning: trial {self._trials} ({e['candidate']}, {e['state']}), best so far "
                    f"{self._best if self._best is None else format(self._best, '.4f')}, "
                    f"{left:.0f} s left in the budget")
        else:
            text = f"tuning for about {e['seconds']:.0f} s ..."
        self._status = Text(text, style="cyan")
        if self._live is None and self.err.is_terminal and not self.chat:
            self._live = Live(self._status, console=self.err, refresh_per_second=4, transient=True)
            self._live.start()
        elif self._live is not None:
            self._live.update(self._status)
        elif e["kind"] == "trial" and self._trials % 10 == 0:
            self.err.print(f"         {text}", markup=False)

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _print(self, message: str) -> None:
        (self._live.console if self._live else self.err).print(message)

    # ---- results --------------------------------------------------------------------------------

    def error(self, message: str) -> None:
        self._stop_live()
        # Messages are plain text: a column named "[x]" or an extra "mlpilot[dask]" must not read as markup.
        self.err.print(f"[bold red]error:[/bold red] {escape(redact_urls(message))}", soft_wrap=True)

    def warning(self, message: str) -> None:
        """On stderr even when quiet or printing JSON: something the person must know."""
        self._stop_live()
        self.err.print(f"[bold yellow]warning:[/bold yellow] {escape(message)}", soft_wrap=True)

    def info(self, message: str) -> None:
        if not self.quiet and not self.json_mode:
            self.err.print(escape(message), soft_wrap=True)

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def summary(self, summary: dict) -> None:
        """The end-of-run summary table on stdout."""
        if self.json_mode:
            self.json(summary)
            return
        if self.quiet:
            self.out.print(summary["run_dir"])
            return
        table = Table(title=f"run {summary['run_id']} - {summary['status']}", show_header=True)
        table.add_column("metric")
        table.add_column("model", justify="right")
        table.add_column("baseline", justify="right")
        for name, value in summary.get("metrics", {}).items():
            label = metric_label(name)
            star = " *" if name == summary.get("primary_metric") else ""
            table.add_row(label + star, number(value), number(summary.get("baseline", {}).get(name)))
        if summary.get("metrics"):
            self.out.print(table)
        if summary.get("model"):
            self.out.print(f"model: {summary['model']}" + (f", threshold {summary['threshold']:.3f}"
                                                           if summary.get("threshold") is not None else ""))
        for warning in summary.get("fairness_warnings") or []:
            self.out.print(f"[yellow]{escape(warning)}[/yellow]", soft_wrap=True)
        self.out.print(f"report: {summary['report']}")
        if summary.get("model_file"):
            self.out.print(f"model file: {summary['model_file']}")

    def monitoring(self, summary: dict) -> None:
        """A monitoring verdict with its reasons and the drifted features."""
        colour = {"ok": "green", "warn": "yellow", "retrain": "red"}[summary["verdict"]]
        self.out.print(f"verdict: [bold {colour}]{summary['verdict']}[/bold {colour}] "
                       f"({summary['rows']:,} rows, weighted drift {summary['weighted_drift']:.3f})")
        self.out.print(summary["reason"], soft_wrap=True)
        for note in summary.get("schema_notes", []):
            self.out.print(f"[dim]schema: {note}[/dim]", soft_wrap=True)
        if summary["drifted_features"]:
            table = Table(title="drifted features")
            for col in ("column", "weight", "PSI", "test p", "change"):
                table.add_column(col)
            for f in summary["drifted_features"][:15]:
                table.add_row(f["column"], f"{f['weight']:.1%}", f"{f['psi']:.3f}", f"{f['p_value']:.1e}",
                              f["change"][:70])
            self.out.print(table)
        perf = summary.get("performance")
        if perf:
            self.out.print(f"{perf['metric']}: {perf['batch']:.4g} on this batch vs {perf['holdout']:.4g} on the "
                           f"holdout ({perf['lift_lost']:.0%} of the gain over the baseline lost)")
        for warning in (summary.get("groups") or {}).get("warnings", []):
            self.out.print(f"[yellow]groups: {escape(warning)}[/yellow]", soft_wrap=True)
        self.out.print(f"record: {summary['record']}")

    def print(self, *args: Any, **kwargs: Any) -> None:
        self.out.print(*args, **kwargs)


def _compact(value: object) -> str:
    """A structured choice on one short line: {"kind": "single", "candidate": "x"} -> kind=single candidate=x."""
    if isinstance(value, dict):
        return " ".join(f"{k}={_compact(v) if not isinstance(v, dict) else '(' + _compact(v) + ')'}"
                        for k, v in value.items())
    if isinstance(value, list):
        return ",".join(_compact(v) for v in value)
    return str(value)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
