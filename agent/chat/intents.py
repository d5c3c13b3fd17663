"""Offline reading of one chat turn: plain language in, one `Intent` (an action and its arguments) out.

Pure functions of the text, the loaded data's column names and whether a plan waits for approval; no I/O.
It stays one module of about 460 lines because the phrase patterns and the ordered rules that use them are
read together: the order below is the design.
Rules are tried in this order, and the order is the design: a strong, specific signal is read before a
vague one that the same words would also satisfy.

1. empty turns; "/name rest" (re-read as "name rest", else read by the command's own reader); help and
   quit (whole turn).
2. With a plan pending: a whole turn of assent ("yes", "looks good", "go ahead") is `approve`, of refusal
   ("no", "cancel", "stop") is `cancel`.
3. A turn naming a data file (*.csv/.tsv/.txt/.parquet/.pq, or a quoted path) is about that file:
   `monitor` (drift, check, still ok), `predict` ("predict on F", "score F", "predictions for F into O"),
   `goal` with the file as its data ("predict churn in telco.csv"), else `load`; the words inside a path
   never count. A bare "load"/"open" of any other path-like word loads it.
4. Questions: about the LLM, the models tried (`leaderboard`), fairness ("is it fair to women?": `explain`
   fairness), "serve it" (`serve`), then `explain` (first among the rest, so "why is the llm off?" is not an
   order), then `compare`, `llm`.
5. Whole-turn commands: `stop`, `run` ("keep going" before `keep`), `approve`; assent or refusal with no
   plan waiting is still `approve` or `cancel`, whose commands say there is nothing to approve.
6. Plan edits led by their verb: `keep`/`drop` (negations first: "don't drop" keeps, "don't use" drops),
   `target`.
7. `monitor`/`predict` without a file, then `goal` (a prediction verb), so "predict churn, recall matters,
   3 minutes" stays one goal rather than a metric or a budget.
8. `runs`, `report`, `plan`, `metric`, `budget`, `profile`; "use X" for a known column keeps it; anything
   else is `unknown`.

An intent's arguments are its command's own typed arguments (`agent.chat.args`), or None for an action
that takes none, so the chat calls the command with them as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.chat.args import (
    Args,
    Budget,
    Columns,
    Explain,
    Goal,
    Llm,
    Load,
    Metric,
    Monitor,
    Predict,
    Report,
    Target,
    parse_slash,
)
from agent.decide.goal import STOPWORDS, column_words, parse_budget

ACTIONS = ("load", "profile", "goal", "target", "metric", "budget", "keep", "drop", "plan", "run", "approve",
           "cancel", "stop", "runs", "report", "leaderboard", "explain", "compare", "predict", "monitor", "serve",
           "llm", "help", "quit", "unknown")


@dataclass(frozen=True)
class Intent:
    """One action the user asked for: ``action`` is one of `ACTIONS`; ``args`` are its command's typed
    arguments, None for an action that takes none."""

    action: str
    args: Args | None
    text: str


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _names_rx(phrases: dict[str, str]) -> re.Pattern[str]:
    # Longest first, so "pr auc" wins over "auc"; words may be joined by space, "_", "-" or nothing.
    alts = [r"[\s_-]*".join(map(re.escape, p.split())) for p in sorted(phrases, key=len, reverse=True)]
    return _rx(r"(?<![a-z0-9])(?:" + "|".join(alts) + r")(?![a-z0-9])")


_METRICS = {"roc auc": "roc_auc", "auroc": "roc_auc", "auc": "roc_auc", "pr auc": "pr_auc", "auprc": "pr_auc",
            "average precision": "pr_auc", "log loss": "log_loss", "cross entropy": "log_loss", "brier": "brier",
            "balanced accuracy": "balanced_accuracy", "accuracy": "accuracy", "f1": "f1", "f score": "f1",
            "f measure": "f1", "precision": "precision", "recall": "recall", "sensitivity": "recall",
            "rmse": "rmse", "root mean squared error": "rmse", "mae": "mae", "mean absolute error": "mae",
            "r2": "r2", "r squared": "r2", "mape": "mape", "mean absolute percentage error": "mape",
            "percentage error": "mape"}
_MODELS = {"lightgbm": "lightgbm", "light gbm": "lightgbm", "lgbm": "lightgbm", "hist gb": "hist_gb",
           "hist gradient boosting": "hist_gb", "gradient boosting": "hist_gb", "hgb": "hist_gb",
           "random forest": "random_forest", "forest": "random_forest", "extra trees": "extra_trees",
           "xgboost": "xgboost", "xg boost": "xgboost", "xgb": "xgboost", "catboost": "catboost",
           "cat boost": "catboost", "linear": "linear", "logistic": "linear", "ridge": "linear", "ensemble": "ensemble",
           "blend": "ensemble"}
_METRIC_RX, _MODEL_RX = _names_rx(_METRICS), _names_rx(_MODELS)


def _lookup(table: dict[str, str], found: str) -> str:
    compact = {re.sub(r"[\s_-]", "", k): v for k, v in table.items()}
    return compact[re.sub(r"[\s_-]", "", found.lower())]


_DATA_EXT = r"\.(?:csv|tsv|txt|parquet|pq)(?:\.(?:gz|bz2|xz|zip))?"
# Unquoted paths may escape their spaces with a backslash, as terminals do when a file is dropped on them.
_PATH_RX = _rx(rf"""(['"`])([^'"`]*?(?:{_DATA_EXT}|[/\\][^'"`]*))\1|((?:\\ |[^\s'"`,;()<>])+{_DATA_EXT})(?![\w])""")
_LOAD = r"(?:load|open|read|import)"
_LOAD_ALL_RX = _rx(rf"{_LOAD}\s+(?P<p>\S.*{_DATA_EXT})")
_LOAD_WORD_RX = _rx(rf"{_LOAD}(?: (?:the |a |my )?(?:file|data|dataset))?(?: (?P<p>\S+))?")
_LEAD_RX = _rx(r"^(?:please|pls|ok(?:ay)?|hey|hi|so|now|then|and|also|alright|well|um+|let'?s|lets|"
               r"(?:can|could|would|will) you|i(?:'d| would)? (?:want|like|need) (?:you )?to)[\s,]+")
_TRAIL_RX = _rx(r"[\s,]+(?:please|thanks|thank you)$")

_HELP_RX = _rx(r"help(?: me)?|h|what can you do|what can i (?:say|do|ask)|commands|options|usage|menu|"
               r"how (?:does this work|do i use (?:this|it|you))")
_QUIT_RX = _rx(r"quit|exit|bye|good ?bye|q|:q|see you|see ya|ciao|i'?m done|that'?s all")
_YES = (r"(?:yes|yeah|yep|yup|y|sure|ok|okay|k|fine|alright|all right|approved?|looks good(?: to me)?|lgtm|"
        r"sounds good|go ahead|go for it|go|do it|run it|ship it|proceed|confirm(?:ed)?|accept|perfect|great|"
        r"good|please)")
_YES_RX = _rx(rf"{_YES}(?:\s+{_YES})*")
_NO = r"(?:no|nope|nah|n|cancel|stop|abort|reject|don'?t|do not|not yet|wait|hold on|never ?mind)"
_NO_RX = _rx(rf"{_NO}(?:\s+(?:{_NO}|it|that|this|the plan|thanks|thank you|please|for now))*")
_STOP_RX = _rx(r"(?:stop|halt|abort|cancel|kill|interrupt|terminate)(?:\s+(?:it|that|this|now|everything|training|"
               r"all(?: runs)?|the (?:run|training|search|job|plan)))*")
_RUN_RX = _rx(r"(?:go(?: ahead| for it)?|start|begin|run|train|launch|kick(?: it)? off|fire away|do it|continue|"
              r"resume|carry on|keep going|proceed|execute)(?:\s+(?:it|now|training|the (?:run|training|plan|models?|"
              r"search|experiment)|a run|models?))*")

_BASELINE_RX = _rx(r"guess|baseline|dummy|\brandom\b(?![\s_-]*forest)|\bchance\b|how (?:good|well|accurate|bad)|"
                   r"any good|better than nothing|is (?:it|the model|this|that) (?:any )?(?:good|useful|accurate)")
_EXPLAIN_RX = _rx(r"^(?:why|how come|how long|explain|what did you (?:decide|do|choose|pick|conclude|find)|what about|"
                  r"what do you (?:think|know) about|"
                  r"how (?:good|well|accurate|bad)|is (?:it|the model|this|that) (?:any )?(?:good|better|accurate|"
                  r"useful|reliable)|tell me (?:why|how)|reason for|(?:which|what) model|what(?:'s| is| was) the "
                  r"(?:metric|threshold|target|budget|baseline|best model|winner|winning model|reason))\b|"
                  r"\b(?:beat|better than|compared? (?:to|with))\s+(?:the |a )?(?:baseline|guess|random|chance|dummy)")
_COLUMN_Q_RX = (
    _rx(r"why (?:was|were|is|are) (?:the )?(?:column |feature )?(?P<c>[\w.-]+)(?: column| feature)? (?:being )?"
        r"(?:dropped|kept|removed|excluded|ignored|used|included|left out|flagged)"),
    _rx(r"why did you (?:drop|keep|remove|exclude|ignore|use|include|flag) (?:the )?(?:column )?(?P<c>[\w.-]+)"),
    _rx(r"(?:decide|decision|do|conclude|think) (?:about|on|with) (?:the )?(?:column )?(?P<c>[\w. -]+?)$"),
    _rx(r"^what about (?:the )?(?:column )?(?P<c>[\w. -]+?)$"))
_TOPIC_WORDS = (("metric", _rx(r"\bmetric|scor(?:e|ed|ing) by|measured")),
                ("model", _rx(r"\bmodels?\b|algorithm|learner|winner|estimator")),
                ("budget", _rx(r"budget|\btime\b|how long|so long|minutes?|seconds?|\bhours?\b")))
_BOARD_RX = _rx(r"\bleader ?board\b|\bstandings\b|\branking of (?:the )?models\b|\bscores? of (?:all |each )?(?:the )?"
                r"(?:models|candidates)\b|\b(?:which|what) (?:other )?models? (?:did you|were|have you) (?:try|tried|"
                r"test|tested|compare|compared)\b|\bmodels? (?:that )?(?:you )?(?:tried|tested)\b|\bhow did (?:the |each |"
                r"all the |other )?(?:models|candidates) (?:do|score|compare|perform)\b|\bcompare the (?:models|candidates)\b|"
                r"\b(?:show|list)(?: me)? (?:all )?the (?:models|candidates)\b")
# "is the model fair to women", "any bias against older people", "does it discriminate by race"
_FAIR_RX = _rx(r"\b(?:fair(?:ly|ness)?|unfair(?:ly|ness)?|bias(?:ed)?|discriminat\w*|(?:treat|treats|treated)\b.*"
               r"\b(?:equally|the same|differently|alike))\b(?:\s+(?:to|for|towards?|against|across|between|by|among|"
               r"with|of|on))?(?:\s+(?P<g>.+))?$")
_SERVE_RX = _rx(r"(?:(?:how (?:do|can|would) i|can (?:i|you)|let'?s|please) )?(?:serve|deploy|host|expose|publish)"
                r"(?: (?:it|this|that|the model|the run|my model|this model|the last run))?(?: (?:over|via|as|behind|"
                r"on|with) (?:http|https|an? (?:rest )?api|an? web service|the web|fastapi|an? endpoint|docker))?")
_COMPARE_RX = _rx(r"\bcompar|\bvs\.?(?!\w)|\bversus\b|\bdiff(?:erence)? (?:from|with|to|between)\b|"
                  r"better than (?:the )?(?:last|previous|earlier|old)")

_FAMILY = r"(?:[\w.-]+/)?(?:gpt|qwen|llama|mistral|mixtral|claude|gemma|gemini|phi|deepseek|o[134](?![a-z]))[\w.:/-]*"
_LLM_OFF_RX = _rx(r"\b(?:llm|ai|language model)\s+(?:off|none|disabled?)$|\b(?:turn|switch|shut) (?:the )?(?:llm|ai)"
                  r" off|\b(?:turn|switch|shut) off (?:the )?(?:llm|ai)\b|\b(?:no|without|disable|stop using|"
                  r"don'?t use) (?:the |an )?(?:llm|ai|language model)\b|^offline(?: mode)?$|"
                  r"^(?:use )?(?:the )?rules only$")
_LLM_ON_RX = _rx(r"^(?:(?:use|enable|turn on|switch on) (?:the |an )?)?(?:llm|language model)(?: on)?$|"
                 r"^(?:turn|switch) (?:the )?llm on$")
_LLM_SET_RX = (_rx(rf"^(?:use|try|switch to|change to|set (?:the )?model to|model)?\s*(?P<m>{_FAMILY})"
                   r"(?: (?:instead|now|as the llm|for the llm))?$"),
               # "switch the llm to qwen2.5", "llm llama3.1:8b": a word that looks like a model's name, not "great"
               _rx(rf"^(?:(?:set|switch|change|make) (?:the )?)?(?:llm|language model)(?: model)?\s*"
                   rf"(?:to|=|:|as)?\s*(?P<m>[\w.:/-]*[\d.:/-][\w.:/-]*|{_FAMILY})$"))
_LLM_ASK_RX = _rx(r"^(?:what|which) (?:llm|language model)\b|^(?:is|are) (?:the )?(?:llm|language model) "
                  r"(?:on|off|enabled|disabled|used|active)\b|^(?:which|what) model (?:are you|is the llm|do you use)")

_KEEP_RX = (_rx(r"^(?:don'?t|do not|dont|never) (?:drop|remove|exclude|ignore|skip|discard|delete) (?P<c>.+)$"),
            _rx(r"^(?:keep|retain|include|restore|bring back|put back|add back|re-?add|keep using) (?P<c>.+)$"),
            _rx(r"^(?:use|consider|include) (?P<c>.+?) (?:after all|again|too|as well|anyway)$"),
            _rx(r"^(?:put|bring|add) (?P<c>.+?) back(?: in)?$"))
_DROP_RX = (_rx(r"^(?:don'?t|do not|dont|never|stop) (?:use|using|include|including|consider) (?P<c>.+)$"),
            _rx(r"^(?:drop|remove|exclude|ignore|skip|discard|delete|leave out|get rid of|take out|throw out|"
                r"forget(?: about)?|without) (?P<c>.+)$"),
            _rx(r"^(?P<c>.+?) (?:should|must|can) be (?:dropped|removed|excluded|ignored)$"))
_TARGET_RX = (_rx(r"^(?:set|change|make|switch|update) (?:the )?target\b(?: column)?\s*(?:to|=|:|as|into)?\s*"
                  r"(?P<c>.+)$"),
              _rx(r"^(?:the )?target\b(?: column)?\s*(?:is|=|:|should be|will be|becomes)?\s*(?P<c>.+)$"),
              _rx(r"^(?:use|make|take|choose|pick) (?P<c>.+?) (?:as|for) (?:the )?target(?: column)?$"),
              _rx(r"^(?P<c>\S+) (?:is|should be|will be) (?:the|my|our) target(?: column)?$"))
_GOAL_RX = _rx(r"\b(?:predict(?:ing)?|forecast(?:ing)?|estimat(?:e|ing)|classify(?:ing)?|guess|detect|identify|"
               r"anticipate)\s+\S|(?:^|\b(?:to|i|we|please|should)\s+)model\s+(?!is\b|was\b|does\b|did\b)\S|"
               r"^(?:who|whether|what|which\s+\w+(?:\s+\w+)?)\s+(?:will|would|is going to|are going to|"
               r"(?:is|are) likely to)\s+\w|"
               # a yes/no question about a row: "will the client subscribe?", "does a customer churn"
               r"^(?:will|would|does|do|is|are|did)\s+(?:the|a|an|each|this|that|our|my|every|a given)\s+"
               r"(?!(?:model|run|plan|report|data|dataset|training|budget|metric|llm|file|table|search|target|column|"
               r"columns|results?|score|threshold|goal|predictions?|baseline|holdout|chat|session)\b)\w+\s+"
               r"(?:(?:going|likely) to\s+)?(?!(?:be|get|have|any|good|better|ok|okay|fine|work|done|finish)\b)\w")
_PREDICT_VERB_RX = _rx(r"\b(?:(?P<p>predict)|predictions?|score|apply (?:the )?model|run (?:the )?model|infer)\b")
_PREDICT_FILLER = {"on", "for", "to", "the", "file", "rows", "of", "in", "new", "data", "with", "using", "this",
                   "that", "these", "batch", "a", "an", "all", "records", "fresh", "unseen"}
_OUTPUT_RX = _rx(r"(?:into|to|as|in|output|save|write|>|->)\W*$")
_MONITOR_FILE_RX = _rx(r"drift|monitor|still (?:ok|okay|good|fine|valid|work)|\bcheck|\bshift|changed|stale|degrad")
_MONITOR_RX = _rx(r"\bdrift|^monitor\b|^check (?:the )?(?:new )?(?:data|batch)\b")
_PREDICT_RX = _rx(r"^(?:predict|score|make predictions|run predictions)(?:(?: on| for)? (?:the )?(?:new |fresh |"
                  r"unseen |more |this |that )?(?:data|rows|file|batch|customers))?$")
_METRIC_VERB_RX = _rx(r"\b(?:use|using|optimi[sz]e|optimi[sz]ing|switch|change|set|metric|score|scored|measure|"
                      r"judge|evaluate|maximi[sz]e|minimi[sz]e|go with|try|prefer|instead|rank|sort|compare|care|"
                      r"focus|prioriti[sz]e|matters?|important|by)\b")
_PROFILE_RX = _rx(r"^(?:profile|describe|summari[sz]e|overview|explore|inspect|eda|stats|statistics|summary|head|"
                  r"peek|columns)\b|what'?s in (?:it|there|the (?:data|file|dataset|table))|(?:what|which) columns|"
                  r"(?:show|list|see|view|display|print|give)(?: me)?(?: all)?(?: the)? (?:columns|data(?:set)?|"
                  r"table|head|rows|sample|profile|stats|statistics|summary|schema|types)\b|tell me about the "
                  r"(?:data|dataset|file|table)|look at the data|what(?:'s| is) (?:in )?the data")
_FILLER = {"the", "a", "an", "column", "columns", "col", "cols", "feature", "features", "variable", "variables",
           "field", "fields", "both"}
_PRONOUNS = {"it", "that", "this", "them", "those", "these", "everything", "all"}
_TAIL_RX = _rx(r"[\s,]*\b(?:after all|as well|too|also|again|anyway|instead|for now|for good|"
               r"from (?:the )?(?:model|data|dataset|features|inputs|training|plan))$")


def parse(text: str, *, columns: Sequence[str] = (), pending_plan: bool = False) -> Intent:
    """Read one chat turn as one action; see the module docstring for the order of the rules.

    Args:
        text: what the user typed.
        columns: the loaded data's column names, to match named columns (case and separators ignored).
        pending_plan: a plan waits for approval, so assent means `approve` and refusal `cancel`.
    """
    columns = [str(c) for c in columns]
    orig = " ".join(text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"').split())
    if orig.startswith("/") and len(orig) > 1:
        name, _, rest = orig[1:].partition(" ")
        name = {"exit": "quit", "q": "quit", "h": "help", "?": "help"}.get(name.lower(), name.lower())
        if name not in ACTIONS or name == "unknown":
            return Intent("unknown", None, text)
        if name in ("load", "goal", "predict", "monitor", "llm"):  # positional: the rest is the argument
            return Intent(name, parse_slash(name, rest), text)
        again = parse(f"{name} {rest}".strip(), columns=columns, pending_plan=pending_plan)
        if again.action == name or (name, again.action) in (("run", "approve"), ("stop", "cancel")):
            return Intent(again.action, again.args, text)
        return Intent(name, parse_slash(name, rest), text)
    action, args = _rules(orig, columns, pending_plan)
    return Intent(action, args, text)


def _rules(orig: str, columns: list[str], pending: bool) -> tuple[str, Args | None]:
    if orig.strip() == "?":
        return "help", None
    core = orig.strip().rstrip("?!. ")
    while (m := _LEAD_RX.match(core)) and m.end() < len(core):
        core = core[m.end():]
    core = _TRAIL_RX.sub("", core)
    plain = " ".join(re.sub(r"[^\w\s']", " ", orig).split())
    if not core:
        return "unknown", None
    if _HELP_RX.fullmatch(core):
        return "help", None
    if _QUIT_RX.fullmatch(core):
        return "quit", None
    if pending and _YES_RX.fullmatch(plain):
        return "approve", None
    if pending and _NO_RX.fullmatch(plain):
        return "cancel", None
    paths = [(m.start(), m.end(), m.group(2) or m.group(3).replace("\\ ", " ")) for m in _PATH_RX.finditer(orig)]
    if paths:
        return _file_turn(orig, core, paths)
    # Before any keyword rule: the words of a path ("load /srv/drift/sales") are not the user's words.
    if m := _LOAD_WORD_RX.fullmatch(core):
        if not m.group("p") or re.search(r"[./\\]", m.group("p")):
            return "load", Load(m.group("p") or "")
    if _LLM_ASK_RX.search(core):
        return "llm", Llm("")
    if _BOARD_RX.search(core):
        return "leaderboard", None
    if m := _FAIR_RX.search(core):
        return "explain", Explain("fairness", (m.group("g") or "").strip() or None)
    if _SERVE_RX.fullmatch(core):
        return "serve", None
    if _EXPLAIN_RX.search(core):
        return "explain", _explain_args(core, columns)
    if _COMPARE_RX.search(core) and not _BASELINE_RX.search(core):
        return "compare", None
    if _LLM_OFF_RX.search(core):
        return "llm", Llm("off")
    if _LLM_ON_RX.fullmatch(core):
        return "llm", Llm("")
    for rx in _LLM_SET_RX:
        if (m := rx.search(core)) and _resolve(m.group("m"), columns, partial=False) is None:
            return "llm", Llm(m.group("m"))
    if _STOP_RX.fullmatch(core):
        return ("cancel" if pending else "stop"), None
    if _RUN_RX.fullmatch(core):
        return ("approve" if pending else "run"), None
    if re.fullmatch(r"(?:i )?approved?(?: (?:it|this|that|the plan))?", core, re.I):
        return "approve", None
    # Assent or refusal with no plan waiting: the commands say there is nothing to approve or cancel.
    if _YES_RX.fullmatch(plain):
        return "approve", None
    if _NO_RX.fullmatch(plain):
        return "cancel", None
    for action, patterns in (("keep", _KEEP_RX), ("drop", _DROP_RX)):
        for rx in patterns:
            if (m := rx.match(core)) and (named := _column_args(m.group("c"), columns)).columns + named.unknown:
                return action, named
    for rx in _TARGET_RX:
        if (m := rx.match(core)) and not m.group("c").lower().startswith("metric"):
            raw = _unquote(m.group("c"))
            col = _resolve(raw, columns, partial=True)
            return "target", Target(col or raw, (raw,) if columns and col is None else ())
    if _MONITOR_RX.search(core):
        return "monitor", Monitor("")
    if _PREDICT_RX.fullmatch(core):
        return "predict", Predict("")
    if _GOAL_RX.search(core):
        return "goal", Goal(orig)
    if re.search(r"\bruns\b|^history$", core, re.I):
        return "runs", None
    if re.search(r"\breport\b", core, re.I):
        return "report", Report(full=bool(re.search(r"\b(full|whole|entire|all of)\b", core, re.I)))
    if re.search(r"\bplan\b", core, re.I):
        return "plan", None
    metric = _find_metric(core)
    if metric and (_METRIC_VERB_RX.search(core) or _METRIC_RX.fullmatch(re.sub(r"^the |\s+metric$", "", core))):
        return "metric", Metric(metric)
    seconds = parse_budget(core)[0]
    if seconds is None and (m := re.fullmatch(r"budget\s*(?:of|to|=|:)?\s*(\d+(?:\.\d+)?)", core, re.I)):
        seconds = float(m.group(1))
    if seconds is not None:
        return "budget", Budget(float(seconds))
    if m := re.fullmatch(r"(?:the )?(budget|target|metric|threshold|baseline)", core, re.I):
        return "explain", Explain(m.group(1).lower())
    if _PROFILE_RX.search(core):
        return "profile", None
    if columns and (m := re.match(r"^(?:use|consider|include) (?P<c>.+)$", core, re.I)):
        named = _column_args(m.group("c"), columns)
        if named.columns and not named.unknown:
            return "keep", named
    return "unknown", None


def _file_turn(orig: str, core: str, paths: list[tuple[int, int, str]]) -> tuple[str, Args]:
    """A turn that names a data file: check it, predict it, learn from it, or just load it."""
    start, end, path = paths[0]
    # Words inside a path ("/srv/check/drift/march.csv") say nothing about what to do with the file.
    words = core
    for s, e, _ in paths:
        words = words.replace(orig[s:e], " ")
    if _MONITOR_FILE_RX.search(words):
        return "monitor", Monitor(path)
    verb = _PREDICT_VERB_RX.search(orig)
    if verb and verb.end() <= start:
        between = re.findall(r"[\w']+", orig[verb.end():start].lower())
        # "predict churn in telco.csv" names a target, not a batch to score; other verbs only mean scoring.
        if not verb.group("p") or all(w in _PREDICT_FILLER for w in between):
            output = next((p for s, _, p in paths[1:] if _OUTPUT_RX.search(orig[end:s])), None)
            return "predict", Predict(path, output)
    if _GOAL_RX.search(re.sub(re.escape(orig[start:end]), " ", core)):
        cut = _rx(r"(?:\b(?:load|open|read|use|using|from|in|on|with)\s+(?:the\s+)?(?:file|data|dataset|table)?"
                  r"\s*(?:in|from|at)?\s*)?" + re.escape(orig[start:end]))
        goal = cut.sub(" ", orig)
        goal = re.sub(r"^[\s,;]*(?:and|then)?\s+|[\s,;]+(?:and|then)?\s*$", "", " ".join(goal.split()), flags=re.I)
        return "goal", Goal(re.sub(r"\s+([,;])", r"\1", goal).strip(" ,;"), path)
    # "load /my data/x.csv": one path, with unescaped spaces in its folders, is kept whole.
    if len(paths) == 1 and (m := _LOAD_ALL_RX.fullmatch(core)) and re.search(r"\s\S*[/\\]", m.group("p")) \
            and "\\ " not in m.group("p"):
        return "load", Load(m.group("p"))
    return "load", Load(path)


def _explain_args(text: str, columns: list[str]) -> Explain:
    """Which decision a question is about: the first topic whose words it uses, most specific first."""
    if _BASELINE_RX.search(text):
        return Explain("baseline")
    if re.search(r"threshold|cut-?off", text, re.I):
        return Explain("threshold")
    if re.search(r"\btarget\b(?! metric)", text, re.I):
        return Explain("target", _mentioned(text, columns))
    if m := _METRIC_RX.search(text):
        return Explain("metric", _lookup(_METRICS, m.group(0)))
    if m := _MODEL_RX.search(text):
        return Explain("model", _lookup(_MODELS, m.group(0)))
    if col := _mentioned(text, columns):
        return Explain("column", col)
    for rx in _COLUMN_Q_RX:
        if m := rx.search(text):
            raw = m.group("c").strip()
            return Explain("column", _resolve(raw, columns, partial=True) or raw)
    return next((Explain(name) for name, rx in _TOPIC_WORDS if rx.search(text)), Explain("general"))


def _find_metric(text: str) -> str | None:
    # "switch from accuracy to f1", "f1 instead of accuracy": the metric left behind is not the one asked for.
    text = re.sub(rf"\b(?:from|instead of|rather than|not)\s+(?:the\s+)?{_METRIC_RX.pattern}", " ", text, flags=re.I)
    m = _METRIC_RX.search(text)
    return _lookup(_METRICS, m.group(0)) if m else None


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _unquote(text: str) -> str:
    return text.strip().strip("'\"`").strip()


def _resolve(name: str, columns: Sequence[str], *, partial: bool) -> str | None:
    """The column ``name`` means: equal ignoring case and separators, or (partial) the one column that has
    it as a word ("id" -> customer_id); None when none or several fit."""
    key = _key(name)
    if not key:
        return None
    exact = [c for c in columns if _key(c) == key]
    if exact or not partial:
        return exact[0] if exact else None
    owners = [c for c in columns if key in column_words(c)]
    return owners[0] if len(owners) == 1 else None


def _mentioned(text: str, columns: list[str]) -> str | None:
    """A column named word for word in free text (longest first); common words never count alone."""
    words = re.findall(r"[\w.-]+", text)
    for n in (4, 3, 2, 1):
        for i in range(len(words) - n + 1):
            chunk = words[i:i + n]
            if n == 1 and chunk[0].lower() in STOPWORDS:
                continue
            if col := _resolve(" ".join(chunk), columns, partial=False):
                return col
    return None


def _column_args(rest: str, columns: list[str]) -> Columns:
    """Columns named in "a, b and the c column": matched ones in ``columns``, the rest in ``unknown``."""
    rest = rest.strip().strip(".?!")
    while m := _TAIL_RX.search(rest):
        rest = rest[:m.start()]
    found: list[str] = []
    unknown: list[str] = []
    for chunk in re.split(r"\s*(?:,|;|&|\+|\band\b|\bor\b|\bnor\b)\s*", rest, flags=re.I):
        words = [w for w in (_unquote(w) for w in chunk.split()) if w]
        if len(words) > 1:  # "the id column" -> id; a lone "a" in "exclude a and b" is a name
            words = [w for w in words if w.lower() not in _FILLER] or words
        if not words or all(w.lower() in _PRONOUNS for w in words):
            continue
        if not columns:
            found.append(" ".join(words))
            continue
        i, missed = 0, []
        while i < len(words):
            n, col = next(((n, c) for n in range(min(4, len(words) - i), 0, -1)
                           if (c := _resolve(" ".join(words[i:i + n]), columns, partial=len(words) == 1))),
                          (1, None))
            if col is None:
                missed.append(words[i])
            else:
                if missed:
                    unknown.append(" ".join(missed))
                    missed = []
                found.append(col)
            i += n
        if missed:
            unknown.append(" ".join(missed))
    return Columns(tuple(dict.fromkeys(found)), tuple(dict.fromkeys(unknown)))


def help_text() -> str:
    """What the user can say, as a short plain-text answer (shown for turns the parser did not understand)."""
    return "\n".join([
        "You can say, for example:",
        "  load data/sales.csv | what's in it? | predict churn, recall matters most, 3 minutes",
        "  the target is Churn | use F1 instead | budget 10 minutes | drop customer_id | keep age",
        "  show the plan | go (or yes / no while a plan waits) | stop | list runs | show the report",
        "  which models did you try? | why did you pick LightGBM? | why was duration dropped?",
        "  how good is it compared to guessing? | is it fair to women? | compare with the last run",
        "  predict on march.csv into out.csv | check march.csv for drift | serve it | use gpt-4o | llm off | quit",
        "Commands: /load /profile /goal /target /metric /budget /keep /drop /plan /run /approve /cancel /stop "
        "/resume /runs /report /leaderboard /explain /compare /predict /monitor /serve /llm /help /quit",
    ])
