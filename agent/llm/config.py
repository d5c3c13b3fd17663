"""LLM configuration: which model, where, for how much, at what price.

Prices are US dollars per million tokens (input, output), an estimate kept here and overridable with
``MLPILOT_LLM_PRICES`` (JSON: ``{"model": [input, output]}``) or ``--llm-prices FILE``. A model missing
from the table (a local one, say) is priced at zero and its cost marked as not priced.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tools.errors import ConfigError

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 2
# Enough for a few tool calls with their reasons; a weak model left unbounded generated 2,408 tokens
# (130 s on a 2-core machine) and kept generating on the server after the client gave up.
DEFAULT_MAX_TOKENS = 1024

PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o4-mini": (1.10, 4.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
}


@dataclass(frozen=True)
class LLMConfig:
    """Everything the client needs. ``api_key`` is never printed (repr off) or logged."""

    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_RETRIES
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int = 0
    budget_usd: float | None = None
    budget_tokens: int | None = None
    prices: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(PRICES))

    @property
    def priced(self) -> bool:
        return self._price() is not None

    def _price(self) -> tuple[float, float] | None:
        if self.model in self.prices:
            return self.prices[self.model]
        # Dated snapshots ("gpt-4o-mini-2024-07-18") cost what their family costs.
        family = max((m for m in self.prices if self.model.startswith(m + "-")), key=len, default=None)
        return self.prices[family] if family else None

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        price = self._price()
        if price is None:
            return 0.0
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000

    def public(self) -> dict:
        """For the manifest: no key."""
        return {"model": self.model, "base_url": self.base_url, "timeout": self.timeout,
                "max_retries": self.max_retries, "max_tokens": self.max_tokens, "budget_usd": self.budget_usd, "budget_tokens": self.budget_tokens,
                "price_per_million": list(self._price()) if self._price() else None}


def parse_llm_budget(text: str | None) -> tuple[float | None, int | None]:
    """``"0.50"`` / ``"$0.50"`` -> dollars; ``"20000 tokens"`` / ``"20k tokens"`` / ``"20ktok"`` -> tokens.

    Raises:
        ConfigError: anything else, with the accepted forms.
    """
    if text is None or not str(text).strip():
        return None, None
    raw = str(text).strip().lower().replace(",", "")
    dollars = re.fullmatch(r"\$?\s*(\d+(?:\.\d+)?)\s*(usd|\$|dollars?)?", raw)
    if dollars:
        return float(dollars.group(1)), None
    tokens = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(k|m)?\s*(tokens?|toks?|t)", raw)
    if tokens:
        scale = {"k": 1_000, "m": 1_000_000}.get(tokens.group(2) or "", 1)
        return None, int(float(tokens.group(1)) * scale)
    raise ConfigError(f"--llm-budget {text!r} is not understood. Give dollars (0.50 or $0.50) or tokens "
                      "(20000 tokens, 20k tokens).")


def load_prices(env_value: str | None, file: str | None) -> dict[str, tuple[float, float]]:
    """The default table with overrides from ``MLPILOT_LLM_PRICES`` and then ``--llm-prices FILE``."""
    prices = dict(PRICES)
    for source, raw in (("MLPILOT_LLM_PRICES", env_value),
                        (f"--llm-prices {file}", Path(file).read_text(encoding="utf-8") if file else None)):
        if not raw:
            continue
        try:
            table = json.loads(raw)
            prices.update({str(k): (float(v[0]), float(v[1])) for k, v in table.items()})
        except (ValueError, TypeError, IndexError, AttributeError):
            raise ConfigError(f"{source} must be JSON like {{\"my-model\": [0.5, 1.5]}} (dollars per million "
                              "input and output tokens).") from None
    return prices
