"""Metrics: one registry, one calling convention.

Classification predictions are always a probability matrix of shape (n, k) whose columns follow the
encoded classes 0..k-1 (binary: column 1 is the positive class). Threshold metrics (accuracy, F1, ...)
turn it into labels with `labels_from_proba`, at 0.5 for binary unless a threshold is given and by argmax
for multiclass. Regression predictions are a 1-d array of values.

Each metric knows its direction, so callers compare with `Metric.better` and never flip signs by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn import metrics as skm

from tools.errors import ToolArgumentError

Scorer = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Metric:
    """A scoring rule for one kind of task.

    Attributes:
        name: short id used on the command line and in the log (e.g. ``roc_auc``).
        label: how a person reads it (e.g. ``ROC AUC``).
        tasks: the tasks it applies to.
        greater_is_better: direction of improvement.
        threshold_free: True when it scores probabilities (or values) rather than hard labels.
        fn: ``fn(y_true, prediction) -> float`` under the module's convention.
        best_possible: the value of a perfect model (used for "lift over baseline").
    """

    name: str
    label: str
    tasks: tuple[str, ...]
    greater_is_better: bool
    threshold_free: bool
    fn: Scorer
    best_possible: float

    def __call__(self, y_true: np.ndarray, prediction: np.ndarray) -> float:
        return float(self.fn(np.asarray(y_true), np.asarray(prediction)))

    def better(self, a: float | None, b: float | None) -> bool:
        """True when score ``a`` is strictly better than ``b`` (None is worst)."""
        if a is None or not np.isfinite(a):
            return False
        if b is None or not np.isfinite(b):
            return True
        return a > b if self.greater_is_better else a < b

    def oriented(self, value: float) -> float:
        """The value with higher meaning better, for sorting and averaging margins."""
        return value if self.greater_is_better else -value

    @property
    def direction(self) -> str:
        return "maximize" if self.greater_is_better else "minimize"


def labels_from_proba(proba: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Encoded labels from a probability matrix: binary at ``threshold`` (default 0.5), else argmax."""
    proba = np.asarray(proba)
    if proba.ndim == 2 and proba.shape[1] == 2:
        return (proba[:, 1] >= (0.5 if threshold is None else threshold)).astype(int)
    return np.argmax(proba, axis=1)


def _positive(proba: np.ndarray) -> np.ndarray:
    return proba[:, 1] if proba.ndim == 2 else proba


def binary_roc_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of ``score`` for the boolean labels ``positive``, as scikit-learn computes it (ties count
    half), from average ranks (Mann-Whitney): one sort, without scikit-learn's checks, which cost
    milliseconds per call, and a bootstrap interval calls it hundreds of times.

    Raises:
        ValueError: only one class is present.
    """
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("Only one class present in y_true. ROC AUC score is not defined in that case.")
    from scipy.stats import rankdata  # here: importing scipy.stats costs half a second that predict never needs

    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    if p.shape[1] == 2:
        return binary_roc_auc(y == 1, p[:, 1])
    present = np.unique(y)
    if len(present) < p.shape[1]:
        # A fold may miss a rare class; score the classes it has, renormalised.
        sub = p[:, present] / np.clip(p[:, present].sum(axis=1, keepdims=True), 1e-12, None)
        if len(present) == 2:
            return binary_roc_auc(y == present[1], sub[:, 1])
        return skm.roc_auc_score(y, sub, multi_class="ovr", average="macro", labels=present)
    return skm.roc_auc_score(y, p, multi_class="ovr", average="macro")


def _pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    if p.shape[1] == 2:
        return skm.average_precision_score(y, p[:, 1])
    onehot = np.eye(p.shape[1])[y]
    present = onehot.sum(axis=0) > 0
    return skm.average_precision_score(onehot[:, present], p[:, present], average="macro")


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    # Rows renormalised: XGBoost's softmax is float32 and sums to 1 only to about 1e-7, which scikit-learn
    # warns about on every call.
    p = np.clip(p, 1e-15, 1.0)
    return skm.log_loss(y, p / p.sum(axis=1, keepdims=True), labels=np.arange(p.shape[1]))


def _brier(y: np.ndarray, p: np.ndarray) -> float:
    if p.shape[1] == 2:
        return float(np.mean((p[:, 1] - y) ** 2))
    onehot = np.eye(p.shape[1])[y]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def _threshold_metric(fn: Callable[..., float], **kwargs: object) -> Scorer:
    def score(y: np.ndarray, p: np.ndarray) -> float:
        labels = labels_from_proba(p)
        extra = dict(kwargs)
        if "average" in extra and p.shape[1] == 2:
            extra["average"] = "binary"
        return fn(y, labels, **extra)

    return score


def _mape(y: np.ndarray, pred: np.ndarray) -> float:
    return skm.mean_absolute_percentage_error(y, pred)


_CLS = ("binary", "multiclass")
_REG = ("regression",)

METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", "ROC AUC", _CLS, True, True, _roc_auc, 1.0),
        Metric("pr_auc", "PR AUC (average precision)", _CLS, True, True, _pr_auc, 1.0),
        Metric("log_loss", "log loss", _CLS, False, True, _log_loss, 0.0),
        Metric("brier", "Brier score", _CLS, False, True, _brier, 0.0),
        Metric("accuracy", "accuracy", _CLS, True, False, _threshold_metric(skm.accuracy_score), 1.0),
        Metric("balanced_accuracy", "balanced accuracy", _CLS, True, False,
               _threshold_metric(skm.balanced_accuracy_score), 1.0),
        Metric("f1", "F1", _CLS, True, False,
               _threshold_metric(skm.f1_score, average="macro", zero_division=0), 1.0),
        Metric("precision", "precision", _CLS, True, False,
               _threshold_metric(skm.precision_score, average="macro", zero_division=0), 1.0),
        Metric("recall", "recall", _CLS, True, False,
               _threshold_metric(skm.recall_score, average="macro", zero_division=0), 1.0),
        Metric("rmse", "RMSE", _REG, False, True, skm.root_mean_squared_error, 0.0),
        Metric("mae", "MAE", _REG, False, True, skm.mean_absolute_error, 0.0),
        Metric("r2", "R2", _REG, True, True, skm.r2_score, 1.0),
        Metric("mape", "MAPE", _REG, False, True, _mape, 0.0),
    ]
}

DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def metric_label(name: object) -> str:
    """A metric's name as a person reads it ("PR AUC (average precision)"); unknown names as given."""
    return METRICS[name].label if name in METRICS else str(name)


def get_metric(name: str, task: str | None = None) -> Metric:
    """The metric called ``name``, checked against ``task`` when given.

    Raises:
        ToolArgumentError: unknown name, or a metric that does not fit the task; the message lists
            the valid names for the task.
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = {"auc": "roc_auc", "average_precision": "pr_auc", "logloss": "log_loss",
           "neg_log_loss": "log_loss", "acc": "accuracy", "f1_score": "f1"}.get(key, key)
    valid = metrics_for(task) if task else sorted(METRICS)
    if key not in METRICS:
        raise ToolArgumentError(f"Unknown metric '{name}'. Valid metrics"
                                f"{' for ' + task if task else ''}: {', '.join(valid)}.")
    metric = METRICS[key]
    if task and task not in metric.tasks:
        raise ToolArgumentError(f"The metric '{metric.name}' does not fit a {task} task. "
                                f"Valid metrics for {task}: {', '.join(valid)}.")
    return metric


def metrics_for(task: str) -> list[str]:
    """Names of the metrics that apply to ``task``."""
    return [name for name, m in METRICS.items() if task in m.tasks]


def report_metrics(task: str, allows_mape: bool) -> list[str]:
    """The metrics every holdout evaluation reports for ``task``."""
    if task == "regression":
        return ["rmse", "mae", "r2"] + (["mape"] if allows_mape else [])
    names = ["roc_auc", "pr_auc", "log_loss", "accuracy", "balanced_accuracy"]
    return names + (["brier"] if task == "binary" else [])


def positive_scores(proba: np.ndarray) -> np.ndarray:
    """Probability of the positive class for binary problems."""
    return _positive(np.asarray(proba))
