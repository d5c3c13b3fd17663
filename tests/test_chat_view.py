"""The chat's wording of run messages that name command-line options."""

from __future__ import annotations

import pytest

from agent.chat.view import in_chat_words


@pytest.mark.parametrize("text,said", [
    ("the goal names none of the columns. Pass --target with one of: a, b.",
     "the goal names none of the columns. Say 'target COLUMN' with one of: a, b."),
    ("If it is known at prediction time, keep it with --keep duration",
     "If it is known at prediction time, keep it with 'keep duration'"),
    ("afterwards, rerun with --drop cabin_no.2", "afterwards, rerun with 'drop cabin_no.2'"),
    ("Choose another target with --target.", "Choose another target with 'target COLUMN'."),
    ("rerun with --drop cabin.", "rerun with 'drop cabin'."),
    ("nothing to change here", "nothing to change here"),
])
def test_options_are_said_as_the_chat_says_them(text: str, said: str) -> None:
    assert in_chat_words(text) == said
