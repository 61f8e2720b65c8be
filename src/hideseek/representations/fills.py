"""Fills of the hidden pixels: ``zero`` (the paper), ``mean`` and ``blur``.

Every fill reads the kept pixels only, so the filled image carries nothing of the hidden
content. ``linear`` (ROAD-style imputation) lives in :mod:`hideseek.representations.linear`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from hideseek.representations.registry import register_fill

__all__ = ["blur_fill", "mean_fill", "zero_fill"]


def zero_fill(image: np.ndarray, keep: np.ndarray) -> float:
    """0 everywhere hidden (the paper's black region)."""
    return 0.0


def mean_fill(image: np.ndarray, keep: np.ndarray) -> float:
    """The mean of the kept pixels (0 when none is kept)."""
    return float(image[keep].mean()) if keep.any() else 0.0


def blur_fill(image: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Normalised convolution of the kept pixels only: a smooth, texture-free extrapolation of
    the surroundings (Gaussian, sigma 5% of the image side)."""
    sigma = max(image.shape) * 0.05
    w = ndimage.gaussian_filter(keep.astype(np.float64), sigma)
    v = ndimage.gaussian_filter(np.where(keep, image, 0.0).astype(np.float64), sigma)
    return np.where(w > 1e-6, v / np.maximum(w, 1e-6), mean_fill(image, keep))


register_fill("zero", zero_fill, "the paper")
register_fill("mean", mean_fill, "mean of the visible pixels")
register_fill("blur", blur_fill, "texture-free")
