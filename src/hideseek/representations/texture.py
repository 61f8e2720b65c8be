"""``texture``: linear imputation with the image's own texture laid over it.

The smooth interpolation of ROAD-style imputation (:mod:`hideseek.representations.linear`) is
exactly what a probe, or a model, recognises: real tissue has texture at every scale, an
interpolated region has none. This fill keeps the interpolation as the region's brightness and
adds texture taken from the *visible* part of the image: the high-pass residual (the image
minus its normalised Gaussian smoothing, sigma 1/24 of the side) of visible patches whose local
brightness is closest to the interpolated value at each place, laid in overlapping patches
(1/9 of the side) with a raised-cosine window and blended so that the texture keeps its
variance. Donors are chosen at random among the 20 closest in brightness, seeded from the
visible pixels and the hidden region's shape (reproducible, and never reading the hidden
content); values are clipped to the visible range. Donor patches whose texture is far out of the
ordinary (root-mean-square residual above the upper quartile plus 3 interquartile ranges,
Tukey's "far out") are never used: a bright marker, a letter or a wire is such a patch, and
copying it into the hidden region would plant the very evidence the audit asks about (on
phantoms with a tag inside the lung boxes, the texture fill copied the tag into the boxes it
hid).

Measured with the probe of :mod:`hideseek.representations.detectability` on real radiographs
(docs/AUDIT.md): the least detectable of the built-in fills.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from hideseek.representations.linear import fill_seed, linear_interpolation, memoized_fill
from hideseek.representations.registry import register_fill

__all__ = ["texture_fill"]

#: Residual smoothing (sigma) and patch side, as fractions of the image's smaller side (chosen
#: on the probe's AUC over phantoms at 64 and 128 px and Shenzhen / COVID-QU-Ex radiographs at
#: 128 px among sigma 1/24 or 1/12 and patch 1/14 or 1/9, with and without matching each
#: patch's strength to its surroundings: the lowest on all of them).
SIGMA_FRACTION = 1 / 24
PATCH_FRACTION = 1 / 9
#: Donor patches drawn among this many closest in brightness.
CANDIDATES = 20
#: Donors with a residual RMS above Q3 + OUTLIER_IQR x IQR of all donors are never used.
OUTLIER_IQR = 3.0


def _smoothed(image: np.ndarray, keep: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised Gaussian smoothing of the visible pixels (NaN where none is near)."""
    w = ndimage.gaussian_filter(keep.astype(np.float64), sigma)
    v = ndimage.gaussian_filter(np.where(keep, image, 0.0).astype(np.float64), sigma)
    return np.where(w > 1e-3, v / np.maximum(w, 1e-3), np.nan)


def _donors(keep: np.ndarray, side: int, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners of ``side``-pixel patches visible with a ``margin``."""
    inner = ndimage.binary_erosion(keep, iterations=margin, border_value=0) if margin else keep
    table = np.zeros((keep.shape[0] + 1, keep.shape[1] + 1))
    table[1:, 1:] = inner.astype(np.float64).cumsum(0).cumsum(1)
    count = (table[side:, side:] - table[:-side, side:] - table[side:, :-side]
             + table[:-side, :-side])
    ys, xs = np.nonzero(count >= side * side - 0.5)
    return ys, xs


def _typical(residual: np.ndarray, dy: np.ndarray, dx: np.ndarray, side: int) -> np.ndarray:
    """Which donor patches have ordinary texture: residual RMS at most Q3 + OUTLIER_IQR x
    IQR over all donors (a marker or a letter is far above it)."""
    table = np.zeros((residual.shape[0] + 1, residual.shape[1] + 1))
    table[1:, 1:] = (residual * residual).cumsum(0).cumsum(1)
    energy = (table[dy + side, dx + side] - table[dy, dx + side] - table[dy + side, dx]
              + table[dy, dx])
    rms = np.sqrt(np.maximum(energy, 0.0) / (side * side))
    q1, q3 = np.percentile(rms, [25, 75])
    typical = rms <= q3 + OUTLIER_IQR * (q3 - q1)
    return typical if typical.any() else np.ones_like(typical)


@memoized_fill
def texture_fill(image: np.ndarray, keep: np.ndarray) -> np.ndarray | float:
    """The hidden pixels (outside ``keep``): the linear interpolation of the visible ones plus
    visible texture of matching brightness (see the module).

    Returns:
        An image whose hidden pixels hold the fill (0 elsewhere); 0 when nothing is visible.
    """
    if not keep.any():
        return 0.0
    out = np.zeros(image.shape, dtype=np.float64)
    if keep.all():
        return out
    h, w = image.shape
    base = np.where(keep, image, linear_interpolation(image, keep, noise=0.0))
    sigma = max(1.0, min(h, w) * SIGMA_FRACTION)
    side = max(4, round(min(h, w) * PATCH_FRACTION))
    smooth = _smoothed(image, keep, sigma)
    residual = np.where(keep, image - np.nan_to_num(smooth), 0.0)
    hidden = ~keep
    visible = image[keep]
    dy, dx = _donors(keep, side, max(1, int(sigma)))
    if dy.size == 0:
        out[hidden] = base[hidden]
        return out
    typical = _typical(residual, dy, dx, side)
    dy, dx = dy[typical], dx[typical]
    level = np.nan_to_num(smooth[dy + side // 2, dx + side // 2])
    order = np.argsort(level, kind="stable")
    levels = level[order]
    rng = np.random.default_rng(fill_seed(image, keep))
    window = np.sin(np.pi * (np.arange(side) + 0.5) / side) ** 2
    window = np.outer(window, window)
    acc, weight2 = np.zeros((h, w)), np.zeros((h, w))
    ys, xs = np.nonzero(hidden)
    step = max(1, side // 2)
    for ty in range(max(0, int(ys.min()) - side // 2), min(h - side, int(ys.max())) + 1, step):
        for tx in range(max(0, int(xs.min()) - side // 2), min(w - side, int(xs.max())) + 1,
                        step):
            if not hidden[ty:ty + side, tx:tx + side].any():
                continue
            j = int(np.searchsorted(levels, base[ty + side // 2, tx + side // 2]))
            lo, hi = max(0, j - CANDIDATES // 2), min(len(order), j + CANDIDATES // 2)
            k = order[int(rng.integers(lo, max(lo + 1, hi)))]
            acc[ty:ty + side, tx:tx + side] += window * residual[dy[k]:dy[k] + side,
                                                                 dx[k]:dx[k] + side]
            weight2[ty:ty + side, tx:tx + side] += window * window
    # independent textures blended by their weights over the root of the squared weights
    # keep their variance (a plain weighted mean would halve it where patches overlap)
    texture = np.where(weight2 > 1e-9, acc / np.sqrt(np.maximum(weight2, 1e-9)), 0.0)
    out[hidden] = np.clip(base[hidden] + texture[hidden], float(visible.min()),
                          float(visible.max()))
    return out


register_fill("texture", texture_fill, "linear imputation with the image's own texture; the "
              "least detectable")
