"""The one function that loads prompts (files in the top-level ``prompts`` package)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from tools.errors import ConfigError


@dataclass(frozen=True)
class Prompt:
    """A prompt file's name, text and sha256 (logged in every run that uses it)."""

    name: str
    text: str
    sha256: str

    def format(self, **values: Any) -> str:
        return self.text.format(**values)


def load_prompt(name: str) -> Prompt:
    """The prompt ``prompts/<name>.md``.

    Raises:
        ConfigError: no such prompt file (the message lists those that exist).
    """
    folder = resources.files("prompts")
    path = folder / f"{name}.md"
    if not path.is_file():
        known = sorted(p.name[:-3] for p in folder.iterdir() if p.name.endswith(".md") and p.name != "README.md")
        raise ConfigError(f"No prompt '{name}' in prompts/; prompts are: {', '.join(known)}.")
    text = path.read_text(encoding="utf-8")
    return Prompt(name, text, hashlib.sha256(text.encode("utf-8")).hexdigest())
