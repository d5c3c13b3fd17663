"""The report's charts: matplotlib figures rendered as inline SVG (text kept as text, no metadata), so the
HTML report is one file that opens offline and prints sharply.

Every function takes plain data (from the run folder's JSON) and returns an ``<svg>`` string.
"""

from __future__ import annotations

import io
import re
from typing import Any, Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen before pyplot loads)
import numpy as np  # noqa: E402

STYLE = {
    "svg.fonttype": "none",          # text as <text>: a fraction of the size of glyph paths
    "svg.hashsalt": "mlpilot",       # the same ids on every render: a re-rendered report is identical
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 7,
    "legend.frameon": False,
}
COLOURS = ["#1f6fb2", "#d9822b", "#2f9e44", "#c92a2a", "#7048e8", "#868e96", "#0b7285", "#e64980"]
WIDE, SQUARE, TINY = (6.0, 2.8), (3.4, 3.0), (1.9, 0.55)


def _svg(fig: Any, *, tight: bool = True) -> str:
    buffer = io.StringIO()
    # A tight bounding box draws the figure twice; charts without axes do not need it.
    fig.savefig(buffer, format="svg", bbox_inches="tight" if tight else None, metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return re.sub(r">\s+<", "><", text)


def _styled(draw: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> str:
        with plt.rc_context(STYLE):
            return draw(*args, **kwargs)
    wrapper.__doc__, wrapper.__name__ = draw.__doc__, draw.__name__
    return wrapper


@_styled
def roc(curve: dict, point: dict | None, auc: float | None) -> str:
    """ROC curve with the chance diagonal and the chosen threshold's point."""
    fig, ax = plt.subplots(figsize=SQUARE)
    ax.plot([0, 1], [0, 1], color="#adb5bd", lw=1, ls="--", label="chance")
    ax.plot(curve["fpr"], curve["tpr"], color=COLOURS[0], lw=1.6,
            label=f"model (AUC {auc:.3f})" if auc is not None else "model")
    if point:
        ax.plot([point["fpr"]], [point["recall"]], "o", color=COLOURS[3],
                label=f"threshold {point['threshold']:.3g}")
    ax.set(xlabel="false positive rate", ylabel="true positive rate (recall)", title="ROC curve",
           xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower right")
    return _svg(fig)


@_styled
def precision_recall(curve: dict, point: dict | None, base_rate: float | None) -> str:
    """Precision against recall, with the share of positives as the no-skill line and the chosen point."""
    fig, ax = plt.subplots(figsize=SQUARE)
    if base_rate is not None:
        ax.axhline(base_rate, color="#adb5bd", lw=1, ls="--", label=f"no skill ({base_rate:.2f})")
    ax.plot(curve["recall"], curve["precision"], color=COLOURS[0], lw=1.6, label="model")
    if point and point.get("precision") is not None:
        ax.plot([point["recall"]], [point["precision"]], "o", color=COLOURS[3],
                label=f"threshold {point['threshold']:.3g}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision and recall", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower left")
    return _svg(fig)


@_styled
def calibration(bins: dict, label: str = "positive class") -> str:
    """Observed rate against mean predicted probability, in bins of equal count."""
    fig, ax = plt.subplots(figsize=SQUARE)
    ax.plot([0, 1], [0, 1], color="#adb5bd", lw=1, ls="--", label="perfectly calibrated")
    ax.plot(bins["predicted"], bins["observed"], "o-", color=COLOURS[0], lw=1.4, ms=3, label="model")
    ax.set(xlabel=f"predicted probability of {label}", ylabel="observed share", title="Calibration",
           xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="upper left")
    return _svg(fig)


@_styled
def gains(curve: dict, point: dict | None, rows: int) -> str:
    """Cumulative gains: the share of positives found when calling the most likely rows first."""
    fig, ax = plt.subplots(figsize=SQUARE)
    ax.plot([0, 1], [0, 1], color="#adb5bd", lw=1, ls="--", label="random order")
    ax.plot(curve["called"], curve["found"], color=COLOURS[0], lw=1.6, label="model's order")
    if point and rows:
        share = point["flagged"] / rows
        ax.plot([share], [point["recall"]], "o", color=COLOURS[3], label=f"flagged at the threshold ({share:.0%})")
    ax.set(xlabel="share of rows called, most likely first", ylabel="share of positives found",
           title="Cumulative gains", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower right")
    return _svg(fig)


@_styled
def importances(rows: list[dict], label: str) -> str:
    """Permutation importance with one standard deviation as error bars, largest on top."""
    rows = rows[:15][::-1]
    fig, ax = plt.subplots(figsize=(WIDE[0], 0.8 + 0.22 * len(rows)))
    ax.barh([r["feature"] for r in rows], [r["mean"] for r in rows], xerr=[r["sd"] for r in rows],
            color=COLOURS[0], alpha=0.85, error_kw={"lw": 0.8, "capsize": 2})
    ax.axvline(0, color="#495057", lw=0.8)
    ax.set(xlabel=f"drop in holdout {label} when the column is shuffled", title="Permutation importance")
    ax.grid(axis="y", visible=False)
    return _svg(fig)


@_styled
def partial_dependence(item: dict, outputs: list[str], ylabel: str) -> str:
    """The model's average prediction as one feature moves, the others as they are."""
    fig, ax = plt.subplots(figsize=(3.0, 2.3))
    means = np.asarray(item["mean"], dtype=float)
    means = means.reshape(len(item["grid"]), -1)
    x = np.arange(len(item["grid"])) if not item["numeric"] else np.asarray(item["grid"], dtype=float)
    for j in range(means.shape[1]):
        name = outputs[j] if j < len(outputs) else str(j)
        if item["numeric"]:
            ax.plot(x, means[:, j], "-", color=COLOURS[j % len(COLOURS)], lw=1.4, label=name)
        else:
            ax.plot(x, means[:, j], "o", color=COLOURS[j % len(COLOURS)], ms=4, label=name)
    if not item["numeric"]:
        ax.set_xticks(x, [str(g)[:10] for g in item["grid"]], rotation=45, ha="right")
    ax.set(title=item["feature"], ylabel=ylabel)
    if means.shape[1] > 1:
        ax.legend(loc="best")
    return _svg(fig)


@_styled
def predicted_vs_actual(scatter: dict, target: str) -> str:
    fig, ax = plt.subplots(figsize=SQUARE)
    actual, predicted = np.asarray(scatter["actual"]), np.asarray(scatter["predicted"])
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    ax.plot([low, high], [low, high], color="#adb5bd", lw=1, ls="--", label="perfect")
    ax.scatter(actual, predicted, s=5, alpha=0.5, color=COLOURS[0], label=f"{len(actual)} holdout rows")
    ax.set(xlabel=f"actual {target}", ylabel=f"predicted {target}", title="Predicted against actual")
    ax.legend(loc="upper left")
    return _svg(fig)


@_styled
def residuals(hist: dict) -> str:
    fig, ax = plt.subplots(figsize=SQUARE)
    edges = np.asarray(hist["edges"])
    ax.bar(edges[:-1], hist["counts"], width=np.diff(edges), align="edge", color=COLOURS[0], alpha=0.85)
    ax.axvline(0, color=COLOURS[3], lw=1)
    ax.set(xlabel="actual - predicted", ylabel="rows", title="Residuals")
    return _svg(fig)


@_styled
def tuning_history(trials: list[dict], greater_is_better: bool, label: str) -> str:
    """Each trial's cross-validated score over the run's time, per candidate, with the best so far;
    pruned, failed and cut trials marked at the bottom."""
    fig, ax = plt.subplots(figsize=WIDE)
    names = list(dict.fromkeys(t["candidate"] for t in trials))
    scored = [t for t in trials if t.get("state") == "complete" and t.get("value") is not None]
    values = [t["value"] for t in scored]
    floor = (min(values) if greater_is_better else max(values)) if values else 0.0
    for i, name in enumerate(names):
        mine = [t for t in scored if t["candidate"] == name]
        colour = COLOURS[i % len(COLOURS)]
        if mine:
            ax.plot([t["t"] for t in mine], [t["value"] for t in mine], "o", ms=3, alpha=0.6, color=colour,
                    label=name)
            best, line = None, []
            for t in mine:
                if best is None or (t["value"] > best if greater_is_better else t["value"] < best):
                    best = t["value"]
                line.append(best)
            ax.step([t["t"] for t in mine], line, where="post", color=colour, lw=1.2)
        others = [t for t in trials if t["candidate"] == name and t.get("state") != "complete"]
        if others:
            ax.plot([t["t"] for t in others], [floor] * len(others), "x", ms=4, color=colour, alpha=0.7,
                    label=f"{name}: {len(others)} pruned, failed or cut")
    ax.set(xlabel="seconds into the run", ylabel=f"cross-validated {label}", title="Tuning history")
    ax.legend(loc="best", ncol=2)
    return _svg(fig)


@_styled
def distribution(bars: Iterable[tuple[str, float]], *, compare: Iterable[float] | None = None) -> str:
    """A small bar chart of shares (a column's distribution); ``compare`` draws a second series beside it."""
    bars = list(bars)
    fig, ax = plt.subplots(figsize=TINY)
    x = np.arange(len(bars))
    width = 0.42 if compare is not None else 0.85
    ax.bar(x - (width / 2 if compare is not None else 0), [v for _, v in bars], width=width, color=COLOURS[0])
    if compare is not None:
        ax.bar(x + width / 2, list(compare), width=width, color=COLOURS[1])
    ax.set_axis_off()
    ax.margins(x=0.01, y=0.05)
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1)
    return _svg(fig, tight=False)


@_styled
def drift(labels: list[str], reference: list[float], batch: list[float], title: str) -> str:
    """A feature's distribution in the training reference and in a new batch, side by side."""
    fig, ax = plt.subplots(figsize=(3.4, 2.2))
    x = np.arange(len(labels))
    ax.bar(x - 0.2, reference, width=0.4, color=COLOURS[0], label="reference (training)")
    ax.bar(x + 0.2, batch, width=0.4, color=COLOURS[1], label="batch")
    step = max(1, len(labels) // 8)
    ax.set_xticks(x[::step], [str(v)[:10] for v in labels][::step], rotation=45, ha="right")
    ax.set(ylabel="share of rows", title=title)
    ax.legend(loc="best")
    return _svg(fig)
