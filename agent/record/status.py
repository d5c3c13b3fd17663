"""What a run's status means, in one place for the report, ``mlpilot runs``, the progress line and the
chat, so all of them tell the same story.

- ``completed``: the run did all it planned within its time.
- ``timed_out``: the run's hard time wall (budget x 1.1 + 10 s) was reached; the best model so far was
  kept if there was one, and the status says which.
- ``interrupted``: the user stopped it (Ctrl-C, /stop); the best model so far was kept if there was one.
- ``failed``: bad input (exit 2) or a bug (exit 1); nothing is passed off as a result.
- ``running`` / ``awaiting_approval``: still going (a process holds the run folder's lock), or waiting in
  the chat for the plan's approval.
- ``died``: recorded as running, but no process holds the folder's lock: the process was killed or crashed;
  ``mlpilot resume`` continues it (see `agent.record.runlock`).
"""

from __future__ import annotations

STATUSES = ("completed", "timed_out", "interrupted", "failed", "cancelled", "running", "awaiting_approval", "died")

_WHY = {"timed_out": "the hard time wall was reached", "interrupted": "stopped by the user"}


def describe_status(status: str, model_saved: bool | None = None) -> str:
    """A short phrase: the status and, when the run did not complete, whether a model was kept."""
    if status in _WHY:
        kept = {True: "; the best model so far was kept", False: "; no model was saved", None: ""}[model_saved]
        return f"{status.replace('_', ' ')} ({_WHY[status]}){kept}"
    if status in ("running", "awaiting_approval", "died"):
        return {"running": "still running",
                "awaiting_approval": "waiting for its plan to be approved",
                "died": "its process died before the run finished (resume it with `mlpilot resume`)"}[status]
    return status.replace("_", " ")


def short_status(status: str, model_saved: bool | None = None) -> str:
    """For tables: ``timed out, model kept``."""
    text = status.replace("_", " ")
    if status in _WHY and model_saved is not None:
        text += ", model kept" if model_saved else ", no model"
    return text
