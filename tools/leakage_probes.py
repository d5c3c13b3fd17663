"""The probes the leakage screen (`tools.leakage`) scores columns with, on the same seeded folds: a
depth-4 tree for a number alone, a smoothed per-level lookup for a category alone, one small LightGBM on
all columns, and for regression a ridge model on the numeric columns. Scores are ROC AUC (macro
one-vs-rest for several classes) or R2."""

from __future__ import annotations

import time

import numpy as np

N_FOLDS = 3
# Levels seen fewer times than this lean towards the overall rate (a lookup must not memorise rare levels).
LOOKUP_SMOOTHING = 10.0

Folds = list[tuple[np.ndarray, np.ndarray]]


class TimeLimit:
    """The time limit; `has(seconds)` tells whether a step expected to take that long still fits."""

    def __init__(self, limit: float) -> None:
        self.start, self.limit, self.ran_out = time.perf_counter(), limit, False

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def has(self, seconds: float) -> bool:
        self.ran_out = self.ran_out or self.elapsed() + seconds > self.limit
        return not self.ran_out


def make_folds(y: np.ndarray, task: str, seed: int) -> Folds:
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (KFold(N_FOLDS, shuffle=True, random_state=seed) if task == "regression"
                else StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed))
    return list(splitter.split(np.zeros(len(y)), y))


def metric(y: np.ndarray, pred: np.ndarray, task: str) -> float:
    from sklearn.metrics import r2_score, roc_auc_score

    if task == "regression":
        return float(r2_score(y, pred))
    if pred.shape[1] == 2:
        return float(roc_auc_score(y, pred[:, 1]))
    return float(roc_auc_score(y, pred, multi_class="ovr", average="macro"))


def empty_predictions(y: np.ndarray, task: str) -> np.ndarray:
    return np.zeros(len(y)) if task == "regression" else np.zeros((len(y), int(y.max()) + 1))


def score_single(x: np.ndarray, kind: str, y: np.ndarray, task: str, folds: Folds, seed: int) -> float:
    pred = empty_predictions(y, task)
    for train, test in folds:
        if kind == "categorical":
            pred[test] = lookup_predict(x[train], y[train], x[test], task)
        else:
            pred[test] = tree_predict(x[train], y[train], x[test], task, seed)
    return metric(y, pred, task)


def tree_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, task: str,
                  seed: int) -> np.ndarray:
    # A shallow tree sees any monotone or threshold relation of one column, which is all a one-column leak
    # needs; depth 4 keeps legitimate strong columns (diamonds carat ~0.87) well below a copy (~0.97+).
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    params = {"max_depth": 4, "min_samples_leaf": 20, "random_state": seed}
    if task == "regression":
        return DecisionTreeRegressor(**params).fit(x_train[:, None], y_train).predict(x_test[:, None])
    model = DecisionTreeClassifier(**params).fit(x_train[:, None], y_train)
    proba = np.zeros((len(x_test), int(y_train.max()) + 1))
    proba[:, model.classes_] = model.predict_proba(x_test[:, None])
    return proba


def lookup_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, task: str) -> np.ndarray:
    """Per-level mean (or class shares) shrunk toward the overall one; missing is a level of its own.

    Category codes have an arbitrary order, which a tree on codes exploits by accident (alphabetical
    tickets); a lookup measures what the level itself says about the target.
    """
    n_levels = int(np.nanmax(np.concatenate([x_train, x_test]))) + 2
    level_train = np.where(np.isnan(x_train), n_levels - 1, x_train).astype(np.int64)
    level_test = np.where(np.isnan(x_test), n_levels - 1, x_test).astype(np.int64)
    counts = np.bincount(level_train, minlength=n_levels).astype("float64")
    m = LOOKUP_SMOOTHING
    if task == "regression":
        sums = np.bincount(level_train, weights=y_train, minlength=n_levels)
        return ((sums + m * y_train.mean()) / (counts + m))[level_test]
    n_classes = int(y_train.max()) + 1
    prior = np.bincount(y_train, minlength=n_classes) / len(y_train)
    table = np.zeros((n_levels, n_classes))
    np.add.at(table, (level_train, y_train), 1.0)
    return ((table + m * prior) / (counts[:, None] + m))[level_test]


def score_full(matrix: np.ndarray, y: np.ndarray, task: str, folds: Folds, seed: int) -> float:
    import lightgbm as lgb

    # Small and single-threaded: 5000 rows need no more, and one thread is not slowed by a busy neighbour.
    params = {"n_estimators": 80, "learning_rate": 0.1, "num_leaves": 15, "min_child_samples": 10,
              "n_jobs": 1, "random_state": seed, "verbose": -1}
    pred = empty_predictions(y, task)
    for train, test in folds:
        if task == "regression":
            pred[test] = lgb.LGBMRegressor(**params).fit(matrix[train], y[train]).predict(matrix[test])
        else:
            model = lgb.LGBMClassifier(**params).fit(matrix[train], y[train])
            pred[np.ix_(test, model.classes_)] = model.predict_proba(matrix[test])
    return metric(y, pred, task)


def estimate_seconds(n_rows: int, n_columns: int, y: np.ndarray, task: str) -> float:
    # A cautious prior for the first full model only (measured per row x column x tree on one thread:
    # 2.7e-9 at 50,000 x 60, 8e-9 at 5000 x 200, 1.1e-8 for segment's 1500 rows); the measured time of
    # that fit then paces the drop-column fits.
    n_models = int(y.max()) + 1 if task == "multiclass" else 1
    return 0.1 + N_FOLDS * 80 * n_models * n_rows * n_columns * 1e-8


def linear_scores(encoded: dict[str, np.ndarray], numeric: list[str], y: np.ndarray, folds: Folds,
                   clock: TimeLimit) -> dict[str, float]:
    """R2 of a ridge model on all numeric columns (key "__all__") and without each of them."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    matrix = np.column_stack([encoded[c] for c in numeric])
    matrix = np.where(np.isnan(matrix), np.nanmedian(matrix, axis=0), matrix)
    std = matrix.std(axis=0)
    matrix = (matrix - matrix.mean(axis=0)) / np.where(std > 0, std, 1.0)

    def score(m: np.ndarray) -> float:
        pred = np.zeros(len(y))
        for train, test in folds:
            pred[test] = Ridge(alpha=1.0).fit(m[train], y[train]).predict(m[test])
        return float(r2_score(y, pred))

    t0 = time.perf_counter()
    scores = {"__all__": score(matrix)}
    cost = time.perf_counter() - t0
    for j, name in enumerate(numeric):
        if not clock.has(cost * 1.5):
            break
        scores[name] = score(np.delete(matrix, j, axis=1))
    return scores
