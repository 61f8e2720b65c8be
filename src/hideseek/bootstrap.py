"""The patient bootstrap every interval of hideseek is drawn from.

Patients, not images, are the unit of resampling: a draw picks patients with replacement and
every image of a drawn patient enters with the patient's multiplicity, so images of one patient
are never treated as independent. Used by the audit, the Grad-CAM measures and the
segmentation cross-validation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["mean_interval", "patient_counts", "patient_weights", "weighted_auc",
           "weighted_balanced_accuracy"]

_BLOCK = 1 << 16  # picks drawn and counted at once (replicates x patients)


def patient_counts(groups: Sequence[str] | np.ndarray, n_boot: int, seed: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """How often each patient was drawn, and each image's patient.

    Each replicate draws as many patients as there are, uniformly with replacement (the counts
    are multinomial; drawn as integer picks and counted, which is several times faster than
    ``Generator.multinomial`` for thousands of patients).

    Args:
        groups: The patient of each image (any sortable ids).
        n_boot: Replicates.
        seed: Seed of the draws.

    Returns:
        ``counts`` (n_boot x patients, float64) and ``patient`` (the column of ``counts`` of
        each image): the image weights are ``counts[:, patient]``.
    """
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    patient = np.asarray(inverse, dtype=np.int64).ravel()
    n_patients = int(patient.max()) + 1 if len(patient) else 0
    if n_patients == 0:
        return np.zeros((n_boot, 0)), patient
    rng = np.random.default_rng(seed)
    counts = np.empty((n_boot, n_patients))
    step = max(1, _BLOCK // n_patients)  # replicates drawn at once: small, cache-resident
    offsets = np.arange(min(step, n_boot), dtype=np.int64)[:, None] * n_patients
    for r0 in range(0, n_boot, step):
        rows = min(step, n_boot - r0)
        picks = rng.integers(0, n_patients, size=(rows, n_patients))
        picks += offsets[:rows]
        counts[r0:r0 + rows] = np.bincount(picks.ravel(), minlength=rows * n_patients
                                           ).reshape(rows, n_patients)
    return counts, patient


def patient_weights(groups: Sequence[str] | np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap weights (n_boot x images): how often each image's patient was drawn."""
    counts, patient = patient_counts(groups, n_boot, seed)
    return counts[:, patient]


def mean_interval(values: Sequence[float] | np.ndarray, groups: Sequence[str],
                  n_boot: int = 2000, seed: int = 0, level: float = 0.95
                  ) -> tuple[float, float]:
    """Percentile interval of the mean of per-image ``values``, resampling patients.

    Args:
        values: One value per image (e.g. its Dice).
        groups: The patient of each image.
        n_boot: Bootstrap resamples.
        seed: Seed of the draws.
        level: Coverage of the interval.

    Returns:
        (lower, upper); both the mean itself when there are fewer than two patients.
    """
    x = np.asarray(values, dtype=np.float64)
    if len(set(groups)) < 2:
        mean = float(x.mean()) if x.size else float("nan")
        return mean, mean
    w = patient_weights(groups, n_boot, seed)
    means = (w @ x) / w.sum(1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def weighted_balanced_accuracy(y: np.ndarray, pred: np.ndarray, weights: np.ndarray,
                               k: int) -> np.ndarray:
    """Mean recall over the ``k`` classes for each weight row (chance is exactly ``1/k``)."""
    correct = (y == pred).astype(float)
    recalls = []
    for c in range(k):
        member = (y == c).astype(float)
        total = weights @ member
        with np.errstate(invalid="ignore", divide="ignore"):
            recalls.append((weights @ (member * correct)) / total)
    return np.nanmean(np.vstack(recalls), axis=0)


def weighted_auc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One-vs-rest AUC (Mann-Whitney, ties count one half) for each weight row."""
    pos, neg = np.flatnonzero(positive), np.flatnonzero(~positive)
    if len(pos) == 0 or len(neg) == 0:
        return np.full(weights.shape[0], np.nan)
    sp, sn = scores[pos][:, None], scores[neg][None, :]
    wins = (sp > sn).astype(float) + 0.5 * (sp == sn)
    wp, wn = weights[:, pos], weights[:, neg]
    num = ((wp @ wins) * wn).sum(1)
    return np.asarray(num / (wp.sum(1) * wn.sum(1)))
