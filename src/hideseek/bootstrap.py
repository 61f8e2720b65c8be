"""The patient bootstrap every interval of hideseek is drawn from.

Patients, not images, are the unit of resampling: a draw picks patients with replacement and
every image of a drawn patient enters with the patient's multiplicity, so images of one patient
are never treated as independent. Used by the audit, the Grad-CAM measures and the
segmentation cross-validation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["mean_interval", "patient_counts", "patient_weights"]

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
