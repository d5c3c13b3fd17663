"""One frozen settings object with exactly two constructors:

- `Settings.from_flags`: a new command's settings, command-line flags over ``MLPILOT_*`` environment
  variables (and the standard ``OPENAI_*`` ones) over defaults;
- `Settings.from_manifest`: a recorded run's settings (``Settings.public()`` in its manifest) for resuming,
  rerunning or retraining it, with the caller's explicit overrides; the environment gives only the API key
  and what an older manifest did not record.

Both check values the same way (`_checked`). Nothing below this module reads the environment.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from agent.timing.timeplan import DEFAULT_LLM_SHARE
from tools.errors import ConfigError
from tools.redact import redact_urls
from tools.tasks import TASKS

DEFAULT_BUDGET = 120.0
DEFAULT_SEED = 42
MAX_BUDGET = 7 * 24 * 3600.0
MIN_BUDGET = 5.0

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
    sensitive: tuple[str, ...] = ()       # columns the fairness audit must compare groups by (--sensitive)
    not_sensitive: tuple[str, ...] = ()   # columns it must not (--not-sensitive)
    inherited: dict = field(default_factory=dict)
    quiet: bool = False
    json: bool = False
    yes: bool = False
    interactive: bool = False
    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_budget_usd: float | None = None
    llm_budget_tokens: int | None = None
    llm_timeout: float = DEFAULT_LLM_TIMEOUT
    llm_share: float = DEFAULT_LLM_SHARE
    llm_max_tokens: int = DEFAULT_MAX_TOKENS
    llm_context: int | None = None
    llm_prices: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)
    replay: Path | None = None
    parent: str | None = None
    # Where the Optuna studies live: None for the run folder's journal, else a database URL (--storage),
    # which may hold a password: redacted in the manifest, and taken from this command, never from a manifest.
    storage: str | None = field(default=None, repr=False)
    # Big tables on Dask (--dask): "local" for a LocalCluster, or a scheduler address; with a local cluster,
    # its worker processes and each one's memory limit; the rows of the in-memory sample (None: decided).
    dask: str | None = None
    dask_workers: int | None = None
    dask_memory: str | None = None
    dask_sample: int | None = None
    api_key: str | None = field(default=None, repr=False)
    # `mlpilot serve`'s bearer token (MLPILOT_SERVE_TOKEN): a secret, so never in the manifest.
    serve_token: str | None = field(default=None, repr=False)

    @property
    def llm_enabled(self) -> bool:
        """True when a model will be asked (a model name is set: by --llm, or by a key or base URL)."""
        return self.llm_model is not None

    @property
    def llm_endpoint(self) -> bool:
        """True when a model can be reached: an API key or a base URL is set (even if --llm off)."""
        return bool(self.api_key or self.llm_base_url)

    def public(self) -> dict[str, Any]:
        """Settings as logged in the manifest: JSON-able (paths as strings, tuples as lists), without the API
        key or a password in the base URL, and complete, so that `from_manifest` rebuilds every field from it
        (the key and the base URL come from the environment there)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "api_key":
                out["api_key_set"] = self.api_key is not None
            elif f.name == "serve_token":
                continue
            elif f.name in ("llm_base_url", "storage") and getattr(self, f.name):
                out[f.name] = redact_urls(getattr(self, f.name))
            else:
                out[f.name] = _to_json(getattr(self, f.name))
        return out

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
        """Settings from parsed flags (None = not given) over the environment over defaults.

        Raises:
            ConfigError: a value out of range or not parsable, naming the option or variable, the value and
                the valid range.
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
        data = flags.get("data")
        llm_budget = parse_llm_budget(flags.get("llm_budget") or env.get("MLPILOT_LLM_BUDGET"))
        return _checked(cls(
            data=Path(data) if data else None,
            goal=(flags.get("goal") or "").strip(),
            target=flags.get("target"),
            task=flags.get("task"),
            metric=flags.get("metric"),
            budget=float(budget) if budget is not None else None,
            runs_dir=Path(pick("runs_dir", "MLPILOT_RUNS_DIR", "runs")),
            home=_home(env),
            seed=int(pick("seed", "MLPILOT_SEED", DEFAULT_SEED, int)),
            # Half the cores by default: OpenMP models slow down many times over when their threads compete
            # with another process for every core (measured on 2-core machines), so leave headroom.
            n_jobs=int(pick("n_jobs", "MLPILOT_N_JOBS", usable_cores(), int)),
            max_trials=pick("max_trials", "MLPILOT_MAX_TRIALS", None, int),
            folds=pick("folds", None, None),
            delimiter=flags.get("delimiter"),
            encoding=flags.get("encoding"),
            keep=tuple(flags.get("keep") or ()),
            drop=tuple(flags.get("drop") or ()),
            sensitive=tuple(flags.get("sensitive") or ()),
            not_sensitive=tuple(flags.get("not_sensitive") or ()),
            inherited=dict(flags.get("inherited") or {}),
            quiet=bool(flags.get("quiet")),
            json=bool(flags.get("json")),
            yes=bool(flags.get("yes")),
            interactive=bool(flags.get("interactive")),
            llm_model=_llm_model(flags.get("llm"), env),
            llm_base_url=env.get("MLPILOT_LLM_BASE_URL") or env.get("OPENAI_BASE_URL") or None,
            llm_budget_usd=llm_budget[0],
            llm_budget_tokens=llm_budget[1],
            llm_timeout=float(pick("llm_timeout", "MLPILOT_LLM_TIMEOUT", DEFAULT_LLM_TIMEOUT, float)),
            llm_share=float(pick("llm_share", "MLPILOT_LLM_SHARE", DEFAULT_LLM_SHARE, float)),
            llm_max_tokens=int(pick("llm_max_tokens", "MLPILOT_LLM_MAX_TOKENS", DEFAULT_MAX_TOKENS, int)),
            llm_context=pick("llm_context", "MLPILOT_LLM_CONTEXT", None, int),
            llm_prices=load_prices(env.get("MLPILOT_LLM_PRICES"), flags.get("llm_prices")),
            replay=Path(flags["replay"]) if flags.get("replay") else None,
            parent=flags.get("parent"),
            api_key=env.get("OPENAI_API_KEY") or None,
            serve_token=env.get("MLPILOT_SERVE_TOKEN") or None,
            storage=pick("storage", "MLPILOT_STORAGE", None),
            dask=pick("dask", "MLPILOT_DASK", None),
            dask_workers=pick("dask_workers", None, None, int),
            dask_memory=flags.get("dask_memory"),
            dask_sample=pick("dask_sample", None, None, int),
        ))

    @classmethod
    def from_manifest(cls, manifest_settings: Mapping[str, Any], *, overrides: Mapping[str, Any] | None = None,
                      env: Mapping[str, str] | None = None) -> Settings:
        """A recorded run's settings (its manifest's ``settings``, as `public` wrote them), every one restored,
        then ``overrides`` (field name -> value: a new data path, budget, runs folder, parent ...).

        The API key, the LLM's base URL and the user's data folder come from the environment (a run folder may
        be someone else's: it must not pick where the key goes or which signing key vouches for it). A field
        an older manifest lacks is what a new run would get now (`from_flags` with no flags: the environment,
        then the default).
        Keys that are not fields (``api_key_set``, or a newer version's) are ignored.

        Raises:
            ConfigError: a recorded or overriding value of the wrong type or out of range.
            TypeError: an override that names no field (a caller's bug).
        """
        env = os.environ if env is None else env
        # A run folder may be someone else's: it never chooses where this user's signing key lives (home) nor
        # which endpoint receives this user's API key (the base URL); both come from this environment.
        local = {"home": _home(env), "api_key": env.get("OPENAI_API_KEY") or None,
                 "llm_base_url": env.get("MLPILOT_LLM_BASE_URL") or env.get("OPENAI_BASE_URL") or None,
                 "serve_token": env.get("MLPILOT_SERVE_TOKEN") or None,
                 "storage": env.get("MLPILOT_STORAGE") or None}
        names = [f.name for f in fields(cls) if f.name not in local]
        recorded = {n: _from_json(n, manifest_settings[n]) for n in names if n in manifest_settings}
        # Only when something is missing: a bad MLPILOT_* variable should not stop a complete manifest.
        base = cls.from_flags({}, env) if len(recorded) < len(names) else cls()
        changed = {n: _from_json(n, v) for n, v in (overrides or {}).items()}
        return _checked(replace(base, **{**recorded, **local, **changed}))


def usable_cores() -> int:
    """Cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # not on Linux
        return max(1, os.cpu_count() or 1)


def _checked(s: Settings) -> Settings:
    """``s`` if every value is in range; the one place both constructors check values.

    Raises:
        ConfigError: the first value out of range, naming its option, the rule, the value and why.
    """
    if s.budget is not None and not math.isfinite(s.budget):
        raise ConfigError(f"--budget must be a number of seconds; got {s.budget:g}. Give e.g. --budget 120.")
    if s.budget is not None and s.budget < MIN_BUDGET:
        raise ConfigError(f"--budget must be at least {MIN_BUDGET:g} seconds; got {s.budget:g}. "
                          "A run needs a few seconds to read, check and fit anything.")
    if s.budget is not None and s.budget > MAX_BUDGET:
        raise ConfigError(f"--budget must be at most {MAX_BUDGET:,.0f} seconds (7 days); got {s.budget:g}. "
                          "For longer work, run several runs (`mlpilot resume` continues one).")
    if s.target is not None and not s.target.strip():
        raise ConfigError("--target is empty. Name the column to predict, or leave --target out to read it from "
                          "the goal.")
    if s.llm_timeout is not None and not (math.isfinite(s.llm_timeout) and s.llm_timeout > 0):
        raise ConfigError(f"--llm-timeout must be a positive number of seconds; got {s.llm_timeout:g}.")
    if s.n_jobs < 1:
        raise ConfigError(f"--n-jobs must be 1 or more; got {s.n_jobs}.")
    if s.max_trials is not None and s.max_trials < 0:
        raise ConfigError(f"--max-trials must be 0 or more; got {s.max_trials}.")
    if s.folds is not None and not 2 <= s.folds <= 20:
        raise ConfigError(f"--folds must be between 2 and 20; got {s.folds}.")
    if s.task is not None and s.task not in TASKS:
        raise ConfigError(f"--task must be one of {', '.join(TASKS)}; got {s.task!r}.")
    if not 0.0 < s.llm_share <= 0.5:
        raise ConfigError(f"--llm-share must be above 0 and at most 0.5 (a share of the run's budget); got "
                          f"{s.llm_share:g}. It caps the time a run may wait on the language model.")
    if s.llm_max_tokens < 64:
        raise ConfigError(f"--llm-max-tokens must be at least 64; got {s.llm_max_tokens}.")
    if s.storage:
        from tools.storage import check_url  # imports Optuna: only when a database is named

        check_url(s.storage)
    if s.dask:
        from tools.bigdata import check_address

        check_address(s.dask)
    if s.dask_workers is not None and s.dask_workers < 1:
        raise ConfigError(f"--dask-workers must be 1 or more; got {s.dask_workers}.")
    if s.dask_sample is not None and s.dask_sample < 1_000:
        raise ConfigError(f"--dask-sample must be at least 1,000 rows; got {s.dask_sample}.")
    if (s.dask_workers or s.dask_memory) and s.dask != "local":
        raise ConfigError("--dask-workers and --dask-memory set up a cluster on this machine: use them with "
                          "--dask local (a remote cluster's workers are set up where they run).")
    if s.llm_context is not None and s.llm_context < 1024:
        raise ConfigError(f"--llm-context must be at least 1024 tokens (the model's context window, e.g. 4096 "
                          f"for llama.cpp's default); got {s.llm_context}.")
    return s


def _to_json(value: Any) -> Any:
    """A field's value as JSON holds it: paths as strings, tuples as lists, through dicts and lists."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    return value


def _price_table(table: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    return {str(k): (float(v[0]), float(v[1])) for k, v in table.items()}


# How a value read back from JSON becomes the field's type again (JSON has no paths or tuples, and writes
# 60.0 as 60 in some hands). Fields not listed are plain strings or booleans. A test builds a Settings with
# every field changed and checks that it survives the manifest, so a new field cannot be forgotten here.
_FROM_JSON: dict[str, Callable[[Any], Any]] = {
    "data": Path, "runs_dir": Path, "home": Path, "replay": Path,
    "keep": tuple, "drop": tuple, "sensitive": tuple, "not_sensitive": tuple, "inherited": dict,
    "llm_prices": _price_table,
    "budget": float, "llm_budget_usd": float, "llm_timeout": float, "llm_share": float,
    "seed": int, "n_jobs": int, "max_trials": int, "folds": int, "llm_budget_tokens": int, "llm_max_tokens": int,
    "llm_context": int,
}


def _from_json(name: str, value: Any) -> Any:
    """The field ``name``'s value from its JSON form (None stays None).

    Raises:
        ConfigError: a value that cannot be the field's type, naming the field and the value.
    """
    convert = _FROM_JSON.get(name)
    if value is None or convert is None:
        return value
    try:
        return convert(value)
    except (TypeError, ValueError, IndexError, AttributeError):
        raise ConfigError(f"The recorded setting {name}={value!r} is not a valid {convert.__name__.strip('_')}; "
                          "the run's manifest.json was edited or damaged. Start a new run instead.") from None


def _env_float(env: Mapping[str, str], key: str) -> float | None:
    raw = env.get(key)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"The environment variable {key}={raw!r} is not a number.") from None


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
