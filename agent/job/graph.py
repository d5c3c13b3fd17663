"""The run as one LangGraph `StateGraph`.

    quick_look -> intake -> profile -> plan -> approve -> clean -> first_model -> select -> tune -> finalize -> evaluate
           -> refit -> scale_out -> END

    quick_look fits a model on a big file's first rows (command line only) and passes through elsewhere;
    approve pauses for the person's approval in the chat (interrupt), and passes through elsewhere;
    clean -> select directly when a first model exists already (a second iteration);
    scale_out fits the tuned LightGBM on every row of a big table with Dask (--dask) and passes through elsewhere;
    select -> finalize directly when a stop was requested or nothing finished;
    tune or finalize -> clean once when the policy asks for one more iteration.

Nodes live in agent.job.steps_data and agent.job.steps_model and return partial state. Routing functions are
pure and named for the question they answer. The report is written by the runner after the graph ends,
whatever way it ends, so a failed or interrupted run still gets one.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from agent.job.approval import approve
from agent.job.context import RunContext, RunState
from agent.job.steps_data import clean, intake, plan, profile
from agent.job.steps_first import first_model
from agent.job.steps_model import evaluate, finalize, refit, select, tune_step
from agent.job.steps_quick import quick_look
from agent.job.steps_scale import scale_out


def needs_first_model(state: RunState) -> str:
    """After cleaning: a first model, unless the run has one (a second iteration) or was stopped."""
    return "select" if state.get("first_model") or state.get("stop_reason") else "first_model"


def has_candidates_to_tune(state: RunState) -> str:
    """After selection: tune, unless nothing finished or a stop was requested."""
    if state.get("stop_reason") or not any(r.get("complete") for r in state.get("leaderboard", [])):
        return "finalize"
    return "tune"


def wants_another_round(state: RunState) -> str:
    """After tuning: back to cleaning when the policy asked for one more iteration, else finalize."""
    return "clean" if state.get("iterating") else "finalize"


def has_model_to_evaluate(state: RunState) -> str:
    """After finalize: another iteration if asked, evaluate a chosen model, or end when there is none."""
    if state.get("iterating"):
        return "clean"
    return "evaluate" if state.get("final") else END


def build_graph(checkpointer: Any | None = None) -> Any:
    """The compiled graph; run it with ``context=RunContext(...)``."""
    graph = StateGraph(RunState, context_schema=RunContext)
    for name, node in [("quick_look", quick_look), ("intake", intake), ("profile", profile), ("plan", plan),
                       ("approve", approve), ("clean", clean),
                       ("first_model", first_model), ("select", select), ("tune", tune_step), ("finalize", finalize),
                       ("evaluate", evaluate), ("refit", refit), ("scale_out", scale_out)]:
        graph.add_node(name, node)
    graph.add_edge(START, "quick_look")
    graph.add_edge("quick_look", "intake")
    graph.add_edge("intake", "profile")
    graph.add_edge("profile", "plan")
    graph.add_edge("plan", "approve")
    graph.add_edge("approve", "clean")
    graph.add_conditional_edges("clean", needs_first_model, ["first_model", "select"])
    graph.add_edge("first_model", "select")
    graph.add_conditional_edges("select", has_candidates_to_tune, ["tune", "finalize"])
    graph.add_conditional_edges("tune", wants_another_round, ["clean", "finalize"])
    graph.add_conditional_edges("finalize", has_model_to_evaluate, ["clean", "evaluate", END])
    graph.add_edge("evaluate", "refit")
    graph.add_edge("refit", "scale_out")
    graph.add_edge("scale_out", END)
    return graph.compile(checkpointer=checkpointer)
