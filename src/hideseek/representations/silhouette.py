"""``lungs_silhouette``: the binary lung mask alone as the image (a control).

1.0 inside the mask, 0.0 outside. A model trained on it that predicts the class above chance
shows that the mask's shape or the segmentation's quality carries the label, so comparisons of
isolated / removed lungs are confounded (issue 11, the silhouette control).
"""

from __future__ import annotations

import numpy as np

from hideseek.representations.registry import RepresentationSpec, register_representation

__all__ = ["SILHOUETTE", "silhouette"]


def silhouette(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The lung mask as a float32 image (the image itself is not read)."""
    return mask.astype(np.float32)


SILHOUETTE = register_representation(RepresentationSpec(
    "lungs_silhouette", "lungs silhouette", "the binary lung mask alone (a control: does the "
    "mask's shape predict the class?)", render=silhouette, control=True))
