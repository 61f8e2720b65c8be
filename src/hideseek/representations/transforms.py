"""The five ROI Hide-and-Seek versions of an image: pure functions of (image, lung mask).

| name | kept | blanked |
|---|---|---|
| ``data`` | everything | nothing |
| ``lungs_isolated`` | the lung mask | everything outside it |
| ``lungs_removed`` | everything else | the lung mask |
| ``lungs_framed`` | inside the lung boxes | everything outside them |
| ``lungs_boxed_out`` | everything else | inside the boxes |

The boxes (one per lung, their union the boxed region) are the bounding boxes of the two largest
8-connected components of the mask, so the mask is the single source of truth at any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.measure import label as label_components
from skimage.measure import regionprops

from hideseek.segmentation.postprocess import Box, boxes_mask

__all__ = ["FILLS", "REPRESENTATIONS", "Representation", "apply_representation", "lung_boxes",
           "visible_region"]

REPRESENTATIONS: tuple[str, ...] = ("data", "lungs_isolated", "lungs_removed", "lungs_framed",
                                    "lungs_boxed_out")
FILLS: tuple[str, ...] = ("zero", "mean", "blur")


def lung_boxes(mask: np.ndarray, keep: int = 2) -> list[Box]:
    """Bounding boxes (x0, y0, x1, y1) of the ``keep`` largest 8-connected lung components."""
    props = sorted(regionprops(label_components(mask, connectivity=2)), key=lambda p: p.area,
                   reverse=True)[:keep]
    boxes = [(int(p.bbox[1]), int(p.bbox[0]), int(p.bbox[3]), int(p.bbox[2])) for p in props]
    return sorted(boxes)


def visible_region(name: str, mask: np.ndarray, box_margin: int = 0,
                   boxes: list[Box] | None = None, guard: int = 0) -> np.ndarray:
    """Boolean map of the pixels a representation keeps.

    Args:
        guard: Pixels of the kept region next to the hidden one that are hidden too. After a
            resize, a pixel on the border mixes both sides, so the on-the-fly path (which
            masks resized images) uses 1 to keep hidden content from leaking through the rim.
    """
    if name == "data":
        return np.ones(mask.shape, dtype=bool)
    if name in ("lungs_isolated", "lungs_removed"):
        keep = mask.astype(bool)
    elif name in ("lungs_framed", "lungs_boxed_out"):
        keep = boxes_mask(mask.shape, lung_boxes(mask) if boxes is None else boxes, box_margin)
    else:
        raise ValueError(f"unknown representation {name!r}; choose from {REPRESENTATIONS}")
    keep = keep if name in ("lungs_isolated", "lungs_framed") else ~keep
    if guard > 0 and keep.any() and not keep.all():
        keep = ndimage.binary_erosion(keep, iterations=guard, border_value=1)
    return keep


def _fill(image: np.ndarray, keep: np.ndarray, fill: str) -> np.ndarray | float:
    if fill == "zero":
        return 0.0
    if fill == "mean":
        return float(image.mean())
    if fill == "blur":
        # Normalised convolution of the kept pixels only: a smooth, texture-free extrapolation of
        # the surroundings that carries nothing from the hidden region.
        sigma = max(image.shape) * 0.05
        w = ndimage.gaussian_filter(keep.astype(np.float64), sigma)
        v = ndimage.gaussian_filter(np.where(keep, image, 0.0).astype(np.float64), sigma)
        fallback = float(image[keep].mean()) if keep.any() else 0.0
        return np.where(w > 1e-6, v / np.maximum(w, 1e-6), fallback)
    raise ValueError(f"unknown fill {fill!r}; choose from {FILLS}")


def apply_representation(name: str, image: np.ndarray, mask: np.ndarray, fill: str = "zero",
                         box_margin: int = 0, boxes: list[Box] | None = None,
                         guard: int = 0) -> np.ndarray:
    """One ROI Hide-and-Seek version of ``image``.

    Args:
        name: One of :data:`REPRESENTATIONS`.
        image: 2-D float image.
        mask: Boolean lung mask of the same shape.
        fill: ``zero`` (the paper), ``mean`` (the image's mean) or ``blur`` (texture-free).
        box_margin: Pixels added around each lung box.
        boxes: Lung boxes; computed from ``mask`` when None.
        guard: Rim of hidden pixels added around the hidden region (see
            :func:`visible_region`); 0 at the image's own resolution.

    Returns:
        A new float32 image; kept pixels are bit-identical to ``image``.
    """
    if image.shape != mask.shape:
        raise ValueError(f"image {image.shape} and mask {mask.shape} differ in shape")
    if name == "data":
        return image.astype(np.float32, copy=True)
    keep = visible_region(name, mask, box_margin, boxes, guard)
    out = np.where(keep, image, _fill(image, keep, fill))
    return out.astype(np.float32)


@dataclass(frozen=True)
class Representation:
    """A representation as a (image, mask) -> image callable for datasets.

    Attributes:
        name: One of :data:`REPRESENTATIONS`.
        fill: Fill of the hidden pixels.
        box_margin: Pixels added around each lung box.
        guard: Rim hidden next to the hidden region (1 for resized images; see
            :func:`visible_region`).
    """

    name: str = "data"
    fill: str = "zero"
    box_margin: int = 0
    guard: int = 0

    def __post_init__(self) -> None:
        if self.name not in REPRESENTATIONS:
            raise ValueError(f"unknown representation {self.name!r}; choose from "
                             f"{', '.join(REPRESENTATIONS)}")
        if self.fill not in FILLS:
            raise ValueError(f"unknown fill {self.fill!r}; choose from {', '.join(FILLS)}")

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return apply_representation(self.name, image, mask, self.fill, self.box_margin,
                                    guard=self.guard)
