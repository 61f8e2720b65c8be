"""From a raw lung prediction to two clean lungs and their boxes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from skimage.measure import label as label_components
from skimage.measure import regionprops

__all__ = ["Box", "LungRegions", "boxes_mask", "postprocess_mask"]

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
    def bad(self) -> bool:
        """Empty, one lung or implausible: the representations' bad-mask policy applies."""
        return self.empty or self.one_lung or self.implausible_area


def boxes_mask(shape: tuple[int, int], boxes: list[Box], margin: int = 0) -> np.ndarray:
    """The union of the boxes as a boolean mask, each box grown by ``margin`` pixels."""
    out = np.zeros(shape, dtype=bool)
    h, w = shape
    for x0, y0, x1, y1 in boxes:
        out[max(0, y0 - margin) : min(h, y1 + margin),
            max(0, x0 - margin) : min(w, x1 + margin)] = True
    return out


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
    labels = label_components(mask, connectivity=2)
    props = [p for p in regionprops(labels) if p.area >= min_speck_fraction * mask.size]
    props = sorted(props, key=lambda p: p.area, reverse=True)[:keep]
    props = sorted(props, key=lambda p: p.bbox[1])  # left to right in the image
    clean = np.zeros_like(mask)
    boxes: list[Box] = []
    for p in props:
        comp = labels == p.label
        if fill_holes:
            comp = ndimage.binary_fill_holes(comp)
        clean |= comp
        y0, x0, y1, x1 = p.bbox
        boxes.append((int(x0), int(y0), int(x1), int(y1)))
    area = float(clean.mean())
    lo, hi = plausible_area
    return LungRegions(mask=clean, boxes=boxes, n_components=len(props), area_fraction=area,
                       implausible_area=bool(props) and not lo <= area <= hi)
