"""The patient bootstrap every interval of hideseek is drawn from.

Patients, not images, are the unit of resampling: a draw picks patients with replacement and
every image of a drawn patient enters with the patient's multiplicity, so images of one patient
are never treated as independent. Used by the audit, the Grad-CAM measures and the
segmentation cross-validation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["mean_interval", "patient_weights"]


def patient_weights(groups: Sequence[str], n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap weights (n_boot x images): how often each image's patient was drawn."""
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    n_patients = int(inverse.max()) + 1 if len(inverse) else 0
    if n_patients == 0:
        return np.zeros((n_boot, 0))
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_patients, np.full(n_patients, 1.0 / n_patients), size=n_boot)
    return counts[:, inverse].astype(np.float64)


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
