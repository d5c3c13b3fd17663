"""Wiring the LLM policy into a run: its client, deadlines, accounting events and the narrative."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from agent.job.context import RunContext
from agent.llm.client import LLMClient, ReplayClient
from agent.llm.config import LLMConfig
from agent.llm.policy import LLMPolicy
from agent.record.reader import RunRecord
from agent.record.runfolder import write_text

CALLS = "llm_calls.jsonl"
NARRATIVE = "narrative.md"


def make_llm_policy(ctx: RunContext) -> LLMPolicy:
    """An LLM policy for this run (replaying recorded answers when the settings say so)."""
    s = ctx.settings
    config = LLMConfig.from_settings(s)

    def on_call(record: dict) -> None:
        ctx.events.emit("llm_call", **record, replay=s.replay is not None)

    record_path = ctx.run_dir / CALLS
    client: LLMClient = (ReplayClient(config, Path(s.replay), record_path=record_path, on_call=on_call)
                         if s.replay else LLMClient(config, record_path=record_path, on_call=on_call))
    ctx.manifest.update(llm={**config.public(), "replay_of": str(s.replay) if s.replay else None})

    def can_iterate() -> bool:
        clock = ctx.clock
        return (not ctx.workspace.get("iterated") and clock.left() > 0.4 * clock.budget
                and not ctx.should_stop())

    def column_values(column: str) -> pd.Series:
        # Read when the goal stage asks, after intake: the table is not loaded when the policy is made.
        return ctx.workspace["table"].frame[column]

    return LLMPolicy(client, ctx.events, column_values, timing=ctx.plan, can_iterate=can_iterate,
                     probe=s.replay is None)


def write_narrative(ctx: RunContext, policy: LLMPolicy) -> None:
    """Ask the model for the report's summary, if its share of the time and the LLM budget allow (and
    never near the wall); save it beside the facts."""
    clock = ctx.clock
    if not clock.running or not policy.client.budget_left() or policy.down:
        return
    text = policy.write_narrative(run_facts(ctx.run_dir), latest=clock.hard_end - 6.0)
    if text:
        write_text(ctx.run_dir / NARRATIVE, text + "\n")
        ctx.events.emit("narrative", model=policy.client.config.model, file=NARRATIVE, chars=len(text))


def run_facts(run_dir: Path) -> str:
    """The facts the narrative may use: decisions and results from the event log (no cell values)."""
    lines = []
    for e in RunRecord(run_dir).events:
        # Class labels are cell values: decisions that name them stay out of the prompt.
        if e["kind"] == "decision" and e["question"] != "column_plan" and \
                not e["question"].startswith(("positive_class", "rare_class")):
            lines.append(f"decision {e['question']} = {str(e['choice'])[:120]} ({e['actor']}): {e['reason'][:200]}")
        elif e["kind"] == "leaderboard":
            best = e["rows"][0] if e.get("rows") else None
            if best:
                lines.append(f"{e['stage']} leader: {best['candidate']} {e['metric']} {best['mean']:.5g}")
        elif e["kind"] == "holdout_metrics":
            lines.append("holdout metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in e["metrics"].items() if v is not None))
            lines.append("baseline: " + ", ".join(f"{k} {v:.4g}" for k, v in e["baseline"].items() if v is not None))
        elif e["kind"] == "importances" and e.get("rows"):
            lines.append("most relied on: " + ", ".join(r["feature"] for r in e["rows"][:5]))
        elif e["kind"] in ("warning", "fallback"):
            lines.append(f"{e['kind']}: {e.get('message') or e.get('problem')}")
    return "\n".join(lines[-80:])
