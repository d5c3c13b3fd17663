"""LLM configuration: which model, where, for how much, at what price.

Prices are US dollars per million tokens (input, output), an estimate kept in `agent.settings` (PRICES) and overridable with
``MLPILOT_LLM_PRICES`` (JSON: ``{"model": [input, output]}``) or ``--llm-prices FILE``. A model missing
from the table (a local one, say) is priced at zero and its cost marked as not priced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.settings import (
    DEFAULT_LLM_MODEL,
    DEFAULT_LLM_RETRIES,
    DEFAULT_LLM_TIMEOUT,
    DEFAULT_MAX_TOKENS,
    PRICES,
    Settings,
)
from tools.redact import redact_urls

LOCAL_CONTEXT = 4096


def is_local(base_url: str) -> bool:
    """Whether ``base_url`` is a server on this machine (loopback), where small local models run."""
    from urllib.parse import urlsplit

    host = (urlsplit(base_url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


@dataclass(frozen=True)
class LLMConfig:
    """Everything the client needs. ``api_key`` is never printed (repr off) or logged."""

    model: str = DEFAULT_LLM_MODEL
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_LLM_TIMEOUT
    max_retries: int = DEFAULT_LLM_RETRIES
    max_tokens: int = DEFAULT_MAX_TOKENS
    context: int | None = None     # the model's context window in tokens, when known
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

    @classmethod
    def from_settings(cls, s: Settings, model: str | None = None) -> LLMConfig:
        """The model, endpoint, timeout, budget and prices the settings give (``model`` overrides theirs)."""
        context = s.llm_context
        if context is None and s.llm_base_url and (model or s.llm_model):
            from agent.llm.probe import server_context  # a local server says how much it holds

            context = server_context(s.llm_base_url, model or s.llm_model or "", s.api_key)
            if context is None and is_local(s.llm_base_url):
                # A server on this machine that does not say (llama-cpp-python's) most likely holds llama.cpp's
                # usual 4,096 or less; a smaller one's first HTTP 400 names its size and the run fits to it.
                context = LOCAL_CONTEXT
        # A reply may take at most a quarter of a small context: the prompt needs the rest.
        max_tokens = min(s.llm_max_tokens, context // 4) if context else s.llm_max_tokens
        return cls(model=model or s.llm_model or "", base_url=s.llm_base_url, api_key=s.api_key,
                   timeout=s.llm_timeout, seed=s.seed, max_tokens=max_tokens, context=context,
                   budget_usd=s.llm_budget_usd,
                   budget_tokens=s.llm_budget_tokens, prices=s.llm_prices or dict(PRICES))

    def public(self) -> dict:
        """For the manifest: no key."""
        return {"model": self.model, "base_url": redact_urls(self.base_url) if self.base_url else None,
                "timeout": self.timeout,
                "max_retries": self.max_retries, "max_tokens": self.max_tokens, "context": self.context,
                "budget_usd": self.budget_usd, "budget_tokens": self.budget_tokens,
                "price_per_million": list(self._price()) if self._price() else None}
