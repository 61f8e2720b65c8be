"""From a raw lung prediction to two clean lungs and their boxes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.measure import label as label_components
from skimage.measure import regionprops

__all__ = ["Box", "LungRegions", "boxes_mask", "lung_boxes", "mask_problem", "postprocess_mask"]

#: (x0, y0, x1, y1), end-exclusive pixel coordinates.
Box = tuple[int, int, int, int]


@dataclass
class LungRegions:
    """A cleaned lung mask and one bounding box per lung.

    Attributes:
        mask: Boolean lung mask.
        boxes: One box per kept component, ordered left to right in the image.
        n_components: Components kept (0, 1 or 2).
        area_fraction: Lung pixels / image pixels.
        implausible_area: The area is outside the plausible range.
    """

    mask: np.ndarray
    boxes: list[Box] = field(default_factory=list)
    n_components: int = 0
    area_fraction: float = 0.0
    implausible_area: bool = False

    @property
    def empty(self) -> bool:
        """No lung found."""
        return self.n_components == 0

    @property
    def one_lung(self) -> bool:
        """Only one lung component found."""
        return self.n_components == 1

    @property
    def problem(self) -> str:
        """``""``, ``"empty"`` or ``"implausible_area"`` (see :func:`mask_problem`)."""
        if self.empty:
            return "empty"
        return "implausible_area" if self.implausible_area else ""

    @property
    def bad(self) -> bool:
        """Empty or implausible area: the bad-mask policy applies (see :func:`mask_problem`)."""
        return bool(self.problem)


def mask_problem(area_fraction: float, n_components: int,
                 plausible_area: tuple[float, float] = (0.05, 0.6)) -> str:
    """The one definition of a bad lung mask.

    A mask is bad when it is empty (no component) or its lung area fraction lies outside
    ``plausible_area``. One lung component is *not* bad: two lungs touching at the working
    resolution (even at a corner, with 8-connectivity) form one component and give good
    versions; ``one_lung`` stays a flag in the QC tables, for information. A missed lung usually
    halves the area and is caught by the area range.

    Returns:
        ``""`` (good), ``"empty"`` or ``"implausible_area"``.
    """
    if n_components == 0:
        return "empty"
    lo, hi = plausible_area
    return "" if lo <= area_fraction <= hi else "implausible_area"


def boxes_mask(shape: tuple[int, int], boxes: list[Box], margin: int = 0) -> np.ndarray:
    """The union of the boxes as a boolean mask, each box grown by ``margin`` pixels."""
    out = np.zeros(shape, dtype=bool)
    h, w = shape
    for x0, y0, x1, y1 in boxes:
        out[max(0, y0 - margin) : min(h, y1 + margin),
            max(0, x0 - margin) : min(w, x1 + margin)] = True
    return out


def _largest_components(mask: np.ndarray, keep: int,
                        min_area: float) -> tuple[np.ndarray, list[Any]]:
    """The label image and the ``keep`` largest 8-connected components of at least ``min_area``
    pixels, ordered left to right (then top to bottom) by their boxes."""
    labels = label_components(mask, connectivity=2)
    props = [p for p in regionprops(labels) if p.area >= min_area]
    props = sorted(props, key=lambda p: p.area, reverse=True)[:keep]
    return labels, sorted(props, key=_box)


def _box(p: Any) -> Box:
    y0, x0, y1, x1 = p.bbox
    return int(x0), int(y0), int(x1), int(y1)


def lung_boxes(mask: np.ndarray, keep: int = 2, min_area: float = 0) -> list[Box]:
    """The one lung-box function: bounding boxes (x0, y0, x1, y1) of the ``keep`` largest
    8-connected components of ``mask`` (of at least ``min_area`` pixels), left to right."""
    return [_box(p) for p in _largest_components(np.asarray(mask, dtype=bool), keep,
                                                 min_area)[1]]


def postprocess_mask(mask: np.ndarray, keep: int = 2, min_speck_fraction: float = 0.002,
                     fill_holes: bool = True,
                     plausible_area: tuple[float, float] = (0.05, 0.6)) -> LungRegions:
    """Keep the ``keep`` largest 8-connected components, fill their holes, drop specks.

    Args:
        mask: Raw boolean lung prediction.
        keep: Components kept (two lungs).
        min_speck_fraction: Components smaller than this fraction of the image are dropped.
        fill_holes: Fill holes inside each kept component.
        plausible_area: Lung area fraction range outside which the mask is flagged.

    Returns:
        The cleaned mask, boxes and flags. An empty prediction gives an empty result, never an
        error.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    labels, props = _largest_components(mask, keep, min_speck_fraction * mask.size)
    clean = np.zeros_like(mask)
    for p in props:
        comp = labels == p.label
        clean |= ndimage.binary_fill_holes(comp) if fill_holes else comp
    area = float(clean.mean())
    return LungRegions(mask=clean, boxes=[_box(p) for p in props], n_components=len(props),
                       area_fraction=area,
                       implausible_area=mask_problem(area, len(props),
                                                     plausible_area) == "implausible_area")
