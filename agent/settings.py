"""One frozen settings object, resolved once: command-line flags, then ``MLPILOT_*`` environment
variables (and the standard ``OPENAI_*`` ones), then defaults. Nothing below this module reads the
environment.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from agent.timing.timeplan import DEFAULT_LLM_SHARE
from tools.errors import ConfigError

DEFAULT_BUDGET = 120.0
DEFAULT_SEED = 42
MIN_BUDGET = 5.0
TASKS = ("binary", "multiclass", "regression")
DEFAULT_LLM_MODEL = "gpt-4o-mini"
DEFAULT_LLM_TIMEOUT = 60.0
DEFAULT_LLM_RETRIES = 2
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
class Settings:
    """Everything a run needs to know about how it was asked to behave.

    ``budget`` is None when neither ``--budget`` nor the environment set it: the policy then reads the
    goal ("in 5 minutes") or uses the default, and logs which.
    """

    data: Path | None = None
    goal: str = ""
    target: str | None = None
    task: str | None = None
    metric: str | None = None
    budget: float | None = None
    runs_dir: Path = Path("runs")
    home: Path = Path.home() / ".local" / "share" / "mlpilot"
    seed: int = DEFAULT_SEED
    n_jobs: int = 1
    max_trials: int | None = None
    folds: int | None = None
    delimiter: str | None = None
    encoding: str | None = None
    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    inherited: dict = field(default_factory=dict)
    quiet: bool = False
    json: bool = False
    yes: bool = False
    interactive: bool = False
    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_budget_usd: float | None = None
    llm_budget_tokens: int | None = None
    llm_timeout: float = 60.0
    llm_share: float = DEFAULT_LLM_SHARE
    llm_max_tokens: int = DEFAULT_MAX_TOKENS
    llm_prices: dict = field(default_factory=dict, repr=False)
    replay: Path | None = None
    parent: str | None = None
    api_key: str | None = field(default=None, repr=False)

    @property
    def llm_enabled(self) -> bool:
        """True when a model will be asked (a model name is set: by --llm, or by a key or base URL)."""
        return self.llm_model is not None

    @property
    def llm_endpoint(self) -> bool:
        """True when a model can be reached: an API key or a base URL is set (even if --llm off)."""
        return bool(self.api_key or self.llm_base_url)

    def public(self) -> dict[str, Any]:
        """Settings as logged in the manifest: JSON-able and without secrets."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name == "api_key":
                out["api_key_set"] = self.api_key is not None
                continue
            if name == "llm_prices":
                continue
            value = getattr(self, name)
            out[name] = str(value) if isinstance(value, Path) else value
        return out

    def with_(self, **changes: Any) -> "Settings":
        return replace(self, **changes)


def _env_float(env: Mapping[str, str], key: str) -> float | None:
    raw = env.get(key)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"The environment variable {key}={raw!r} is not a number.") from None


def resolve(flags: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """Settings from parsed flags (None = not given) over the environment over defaults.

    Raises:
        ConfigError: a value out of range, naming the option, the value and the valid range.
    """
    env = os.environ if env is None else env

    def pick(flag: str, env_key: str | None = None, default: Any = None, cast: Any = None) -> Any:
        value = flags.get(flag)
        if value is not None:
            return value
        if env_key and env.get(env_key) not in (None, ""):
            raw = env[env_key]
            if cast is None:
                return raw
            try:
                return cast(raw)
            except ValueError:
                raise ConfigError(f"The environment variable {env_key}={raw!r} is not a valid "
                                  f"{cast.__name__}.") from None
        return default

    budget = flags.get("budget")
    if budget is None:
        budget = _env_float(env, "MLPILOT_BUDGET")
    if budget is not None and budget < MIN_BUDGET:
        raise ConfigError(f"--budget must be at least {MIN_BUDGET:g} seconds; got {budget:g}. "
                          "A run needs a few seconds to read, check and fit anything.")
    # Half the cores by default: OpenMP models slow down many times over when their threads compete
    # with another process for every core (measured on 2-core machines), so leave headroom.
    n_jobs = int(pick("n_jobs", "MLPILOT_N_JOBS", max(1, (os.cpu_count() or 1) // 2), int))
    if n_jobs < 1:
        raise ConfigError(f"--n-jobs must be 1 or more; got {n_jobs}.")
    max_trials = pick("max_trials", "MLPILOT_MAX_TRIALS", None, int)
    if max_trials is not None and max_trials < 0:
        raise ConfigError(f"--max-trials must be 0 or more; got {max_trials}.")
    folds = pick("folds", None, None)
    if folds is not None and not 2 <= folds <= 20:
        raise ConfigError(f"--folds must be between 2 and 20; got {folds}.")
    task = flags.get("task")
    if task is not None and task not in TASKS:
        raise ConfigError(f"--task must be one of {', '.join(TASKS)}; got {task!r}.")
    llm_share = float(pick("llm_share", "MLPILOT_LLM_SHARE", DEFAULT_LLM_SHARE, float))
    if not 0.0 < llm_share <= 0.5:
        raise ConfigError(f"--llm-share must be above 0 and at most 0.5 (a share of the run's budget); got "
                          f"{llm_share:g}. It caps the time a run may wait on the language model.")
    max_tokens = int(pick("llm_max_tokens", "MLPILOT_LLM_MAX_TOKENS", DEFAULT_MAX_TOKENS, int))
    if max_tokens < 64:
        raise ConfigError(f"--llm-max-tokens must be at least 64; got {max_tokens}.")
    data = flags.get("data")
    llm_budget = parse_llm_budget(flags.get("llm_budget") or env.get("MLPILOT_LLM_BUDGET"))
    return Settings(
        data=Path(data) if data else None,
        goal=(flags.get("goal") or "").strip(),
        target=flags.get("target"),
        task=task,
        metric=flags.get("metric"),
        budget=float(budget) if budget is not None else None,
        runs_dir=Path(pick("runs_dir", "MLPILOT_RUNS_DIR", "runs")),
        home=_home(env),
        seed=int(pick("seed", "MLPILOT_SEED", DEFAULT_SEED, int)),
        n_jobs=n_jobs,
        max_trials=max_trials,
        folds=folds,
        delimiter=flags.get("delimiter"),
        encoding=flags.get("encoding"),
        keep=tuple(flags.get("keep") or ()),
        drop=tuple(flags.get("drop") or ()),
        inherited=dict(flags.get("inherited") or {}),
        quiet=bool(flags.get("quiet")),
        json=bool(flags.get("json")),
        yes=bool(flags.get("yes")),
        interactive=bool(flags.get("interactive")),
        llm_model=_llm_model(flags.get("llm"), env),
        llm_base_url=env.get("MLPILOT_LLM_BASE_URL") or env.get("OPENAI_BASE_URL") or None,
        llm_budget_usd=llm_budget[0],
        llm_budget_tokens=llm_budget[1],
        llm_timeout=float(pick("llm_timeout", "MLPILOT_LLM_TIMEOUT", 60.0, float)),
        llm_share=llm_share,
        llm_max_tokens=max_tokens,
        llm_prices=load_prices(env.get("MLPILOT_LLM_PRICES"), flags.get("llm_prices")),
        replay=Path(flags["replay"]) if flags.get("replay") else None,
        parent=flags.get("parent"),
        api_key=env.get("OPENAI_API_KEY") or None,
    )


def _home(env: Mapping[str, str]) -> Path:
    """The user's data folder (chat history, sessions): MLPILOT_HOME, else $XDG_DATA_HOME/mlpilot,
    else ~/.local/share/mlpilot."""
    if env.get("MLPILOT_HOME"):
        return Path(env["MLPILOT_HOME"])
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mlpilot"


def _llm_model(flag: str | None, env: Mapping[str, str]) -> str | None:
    """The model to ask, or None for the rules: ``--llm off`` wins, then ``--llm MODEL``, then a key or a
    base URL in the environment (with ``MLPILOT_LLM_MODEL`` or the default model)."""
    if flag is not None and flag.strip().lower() in ("off", "none", "rules", "no"):
        return None
    if flag:
        return flag
    if env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL") or env.get("MLPILOT_LLM_BASE_URL"):
        return env.get("MLPILOT_LLM_MODEL") or DEFAULT_LLM_MODEL
    return None


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
