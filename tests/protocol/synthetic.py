"""Synthetic prediction sets with exactly known per-class recall (for the rule's tests)."""

from __future__ import annotations

import numpy as np

from hideseek.protocol.rule import PredictionSet

LABELS = ("normal", "pneumonia", "COVID-19")


def synthetic_predictions(counts: list[int], recall: list[float], seed: int, per_patient: int = 1,
           confuse_covid: bool = False) -> PredictionSet:
    """Exactly ``round(recall * n)`` correct per class; errors go to another class."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    pred = y.copy()
    for c, (n, r) in enumerate(zip(counts, recall, strict=True)):
        idx = np.flatnonzero(y == c)
        wrong = rng.permutation(idx)[: n - round(r * n)]
        other = [k for k in range(3) if k != c and (confuse_covid or k != 2 or c == 2)]
        pred[wrong] = rng.choice(other, size=len(wrong))
    logits = 3.0 * np.eye(3)[pred] + rng.normal(0, 1, (len(y), 3))
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    names = tuple(f"img{i:05d}.png" for i in range(len(y)))
    patients = tuple(f"p{i // per_patient}" for i in range(len(y)))
    return PredictionSet(names, patients, y, prob, LABELS)
