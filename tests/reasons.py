"""Read a run's decisions back against their evidence: every measured number a reason quotes is in the
evidence it was logged with, and what a reason claims (behind the margin, within the noise, not enough
time, clearly worse) holds for those numbers. Used on real runs by the end-to-end tests."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Callable, Iterator

# A measured number as reasons print them: a decimal (0.8635, -0.6, 1.3), a thousands-separated or scientific one.
NUMBER = re.compile(r"(?<![\w.'#])[-+]?\d[\d,]*\.\d+(?:e[-+]?\d+)?(?![\w.])|(?<![\w.'#])[-+]?\d\.?\d*e[-+]?\d+")
# A reason may quote a rate per 10,000 rows or a share as a percentage.
SCALES = (1.0, 100.0, 10_000.0)


def decisions(run_dir: Path) -> list[dict]:
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]
    return [e for e in events if e["kind"] == "decision"]


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            yield float(value)
    elif isinstance(value, str):
        for match in NUMBER.finditer(value):
            yield float(match.group().replace(",", ""))
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _numbers(v)


def _printed(text: str) -> tuple[float, float]:
    """The value of a number as printed and the rounding it was printed with."""
    plain = text.replace(",", "").lstrip("+")
    if "e" in plain:
        mantissa = plain.split("e")[0]
        digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
        value = float(plain)
        return value, abs(value) * 10 ** -digits
    digits = len(plain.split(".")[1]) if "." in plain else 0
    return float(plain), 10 ** -digits


def _matches(printed: str, known: list[float]) -> bool:
    value, step = _printed(printed)
    tolerance = step / 2 + 1e-12 + abs(value) * 1e-9
    return any(abs(k * scale - value) <= tolerance or abs(abs(k * scale) - abs(value)) <= tolerance
               for k in known for scale in SCALES)


def unsupported_numbers(decision: dict) -> list[str]:
    """The decimals a decision's reason prints that are in neither its evidence nor its choice."""
    known = list(_numbers(decision.get("evidence"))) + list(_numbers(decision.get("choice")))
    return [m.group() for m in NUMBER.finditer(decision["reason"]) if not _matches(m.group(), known)]


def _number_after(text: str, words: str) -> float | None:
    match = re.search(re.escape(words) + r"\s*\(?([-+]?\d[\d,]*\.?\d*(?:e[-+]?\d+)?)", text)
    return float(match.group(1).replace(",", "")) if match else None


def _tuning(d: dict) -> list[str]:
    problems = []
    board = {r["candidate"]: r for r in d["evidence"].get("leaderboard", [])}
    if not board:
        return problems
    leader = d["evidence"]["leaderboard"][0]  # logged best first
    margin = d["evidence"]["margin"]
    for alt in d["alternatives"]:
        row = board.get(alt["choice"])
        if row is None:
            continue
        gap = abs(leader["mean"] - row["mean"])
        if "more than the margin" in alt["why_not"] and not gap > margin:
            problems.append(f"{alt['choice']}: 'more than the margin' but {gap:.5f} <= {margin:.5f}")
        if "within" in alt["why_not"] and "cap" in alt["why_not"] and not gap <= margin:
            problems.append(f"{alt['choice']}: 'within the margin, left out by the cap' but {gap:.5f} > {margin:.5f}")
        if "cut by time" in alt["why_not"] and row.get("complete", True):
            problems.append(f"{alt['choice']}: 'cut by time' but its selection was complete")
    shares = d["choice"].get("shares", {})
    within = [n for n in shares if n in board and abs(leader["mean"] - board[n]["mean"]) <= margin]
    claimed = _number_after(d["reason"], "tuning the")
    if claimed is not None and claimed != len(within):
        problems.append(f"says {claimed:.0f} candidate(s) within the margin, the evidence has {len(within)}")
    return problems


def _final_model(d: dict) -> list[str]:
    ev = d["evidence"]
    if "gain" not in ev:
        return []
    noise = ev.get("noise", 0.1 * ev["standard_error"])
    if "within the noise" in d["reason"] and not ev["gain"] <= noise:
        return [f"'within the noise' but the gain {ev['gain']} > {noise}"]
    if d["choice"].get("kind") == "ensemble" and not ev["gain"] > 0:
        return [f"an ensemble chosen for a gain of {ev['gain']}"]
    return []


def _bagging(d: dict) -> list[str]:
    ev = d["evidence"]
    if "would take about" in d["reason"] and not ev["seconds_estimate"] > ev["seconds_left"]:
        return [f"'not enough time' but {ev['seconds_estimate']} s fit in {ev['seconds_left']} s"]
    return []


def _refit(d: dict) -> list[str]:
    ev = d["evidence"]
    if d["choice"] is False and "not enough time" in d["reason"] and ev["refit_seconds_estimate"] * 1.3 <= ev["seconds_left"]:
        return [f"'not enough time' but {ev['refit_seconds_estimate']} s x 1.3 fit in {ev['seconds_left']} s"]
    if d["choice"] is True and ev.get("seconds_left") is not None and ev["refit_seconds_estimate"] > ev["seconds_left"]:
        return [f"refit with {ev['seconds_left']} s left for {ev['refit_seconds_estimate']} s"]
    return []


def _replace_first(d: dict) -> list[str]:
    gap = d["evidence"].get("gap") or {}
    if "clearly worse" in d["reason"] and not gap.get("p95", 0) < 0:
        return [f"'clearly worse' but the 90% interval reaches {gap.get('p95')}"]
    if "clearly better" in d["reason"] and not gap.get("p05", 0) > 0:
        return [f"'clearly better' but the 90% interval starts at {gap.get('p05')}"]
    return []


def _threshold(d: dict) -> list[str]:
    ev = d["evidence"]
    problems = []
    for name in ("precision", "recall"):
        said = _number_after(d["reason"], f"{name}")
        if said is not None and ev.get(name) is not None and "gives" in d["reason"] and abs(said - ev[name]) > 0.0006:
            problems.append(f"says {name} {said}, the evidence has {ev[name]}")
    if ev.get("feasible") is False and "not" not in d["reason"] and "no threshold" not in d["reason"]:
        problems.append("an infeasible threshold described as met")
    return problems


def _calibration(d: dict) -> list[str]:
    ev = d["evidence"]
    applied = isinstance(d["choice"], dict) and d["choice"].get("method") not in (None, "none")
    return [] if applied == bool(ev.get("worth_it")) else [f"applied={applied} but worth_it={ev.get('worth_it')}"]


def _dropped(d: dict) -> list[str]:
    ev, reason = d["evidence"], d["reason"]
    if reason.startswith("constant") and not ev.get("n_unique", 0) <= 1:
        return [f"'constant' with {ev.get('n_unique')} distinct values"]
    if reason.startswith("empty") and ev.get("missing_share") != 1.0:
        return [f"'empty' with {ev.get('missing_share')} missing"]
    if "leaks the target" in reason and not (ev.get("rule") or ev.get("score_alone") is not None):
        return ["a leak without its rule or score"]
    return []


CLAIMS: dict[str, Callable[[dict], list[str]]] = {
    "tuning": _tuning, "final_model": _final_model, "bagging": _bagging, "refit": _refit,
    "replace_first_model": _replace_first, "threshold": _threshold, "calibration": _calibration,
}


def check_reasons(run_dir: Path) -> list[str]:
    """Every problem found in a run's decisions, as ``question: problem``; empty when each reason holds."""
    problems: list[str] = []
    for d in decisions(run_dir):
        q = d["question"]
        if not d.get("reason", "").strip():
            problems.append(f"{q}: no reason")
        for alt in d.get("alternatives") or []:
            if not str(alt.get("why_not", "")).strip() or alt.get("why_not") == "see reason":
                problems.append(f"{q}: the alternative {alt.get('choice')!r} has no reason of its own")
        problems += [f"{q}: the reason prints {n}, which is not in its evidence" for n in unsupported_numbers(d)]
        check = CLAIMS.get(q) or (_dropped if q.startswith("drop:") else None)
        if check and d.get("evidence"):
            problems += [f"{q}: {p}" for p in check(d)]
    return problems
