"""The verdict's bootstrap: resample seeds, then patients within class, paired over versions.

Every representation's model is scored on the same test images, so one replicate draws one set
of seed indices and one weight per image (the multiplicity of its patient in the resample) and
applies them to every representation: the comparison is paired. Weighted endpoints make a
replicate a matrix product instead of a copy of the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hideseek.bootstrap import weighted_auc, weighted_balanced_accuracy

__all__ = ["PatientResampler", "weighted_auc", "weighted_balanced_accuracy"]


@dataclass(frozen=True)
class PatientResampler:
    """Stratified cluster bootstrap weights.

    Attributes:
        weights: ``(1 + n_boot) x n_images`` multiplicities; row 0 is the full sample.
        seed_picks: ``n_boot x n_seeds`` seed indices drawn with replacement.
    """

    weights: np.ndarray
    seed_picks: np.ndarray

    @classmethod
    def draw(cls, y: np.ndarray, patients: Sequence[str], n_seeds: int, n_boot: int,
             seed: int = 0) -> PatientResampler:
        """Draw the replicates.

        Args:
            y: True class per image.
            patients: Patient id per image (a patient's class is that of its first image).
            n_seeds: Training seeds available per representation.
            n_boot: Replicates.
            seed: Random seed of the bootstrap.
        """
        rng = np.random.default_rng(seed)
        ids, p_idx = np.unique(np.asarray(patients), return_inverse=True)
        first = np.zeros(len(ids), dtype=np.int64)
        first[p_idx[::-1]] = np.arange(len(y))[::-1]
        p_class = y[first]
        counts = np.zeros((n_boot, len(ids)))
        rows = np.arange(n_boot)[:, None]
        for c in np.unique(p_class):
            stratum = np.flatnonzero(p_class == c)
            picks = stratum[rng.integers(0, len(stratum), size=(n_boot, len(stratum)))]
            np.add.at(counts, (rows, picks), 1.0)
        weights = np.vstack([np.ones(len(y)), counts[:, p_idx]])
        seed_picks = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
        return cls(weights=weights, seed_picks=seed_picks)

    def pool(self, per_seed: np.ndarray) -> np.ndarray:
        """Pool a ``n_seeds x (1 + n_boot)`` metric over seeds: the point estimate (mean over
        all seeds) first, then each replicate's mean over its drawn seeds."""
        point = per_seed[:, 0].mean(keepdims=True)
        boot = per_seed[self.seed_picks, np.arange(1, per_seed.shape[1])[:, None]].mean(1)
        return np.concatenate([point, boot])
