"""The three kinds of task mlpilot learns; a module of its own so that anything (the command line's
parser included) can name them without importing pandas."""

from __future__ import annotations

from typing import Literal, get_args

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[str, ...] = get_args(Task)
