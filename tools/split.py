"""The untouched holdout: a seeded split, stratified by class for classification.

A class with a single row cannot be in both parts: it stays in the training part (a model can then give
it a probability; the holdout cannot score it either way). Every other class is split by
scikit-learn's stratified shuffle, so runs made before rare classes were kept split the same way.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split


def holdout_split(y: np.ndarray, share: float, *, task: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted-as-drawn positions of the training part and of the holdout (``share`` of the rows)."""
    rows = np.arange(len(y))
    if task == "regression":
        train, hold = train_test_split(rows, test_size=share, random_state=seed)
        return np.asarray(train), np.asarray(hold)
    labels, counts = np.unique(y, return_counts=True)
    single = np.isin(y, labels[counts < 2])
    train, hold = train_test_split(rows[~single], test_size=share, random_state=seed, stratify=y[~single])
    return np.concatenate([np.asarray(train), rows[single]]), np.asarray(hold)
