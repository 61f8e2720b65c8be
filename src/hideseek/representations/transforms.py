"""ROI Hide-and-Seek versions of an image: pure functions of (image, lung mask).

Every version is a :class:`~hideseek.representations.registry.RepresentationSpec` in the
registry (the paper's five in :mod:`~hideseek.representations.builtin`); the functions here
dispatch through it, and the fills through the fill registry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from hideseek.representations import fills as _fills  # noqa: F401  (registers the fills)
from hideseek.representations import linear as _linear  # noqa: F401  (registers ``linear``)
from hideseek.representations import texture as _texture  # noqa: F401  (registers ``texture``)
from hideseek.representations.builtin import REPRESENTATIONS
from hideseek.representations.registry import fill_names, get_fill, get_representation
from hideseek.segmentation.postprocess import Box, lung_boxes

__all__ = ["FILLS", "REPRESENTATIONS", "Representation", "apply_representation", "lung_boxes",
           "visible_region"]

#: The built-in fills: zero, mean, blur, linear, texture.
FILLS: tuple[str, ...] = fill_names()


def visible_region(name: str, mask: np.ndarray, box_margin: int = 0,
                   boxes: list[Box] | None = None, guard: int = 0) -> np.ndarray:
    """Boolean map of the pixels a representation keeps (none for a rendered one).

    Args:
        guard: Pixels of the kept region next to the hidden one that are hidden too. After a
            resize, a pixel on the border mixes both sides, so the on-the-fly path (which
            masks resized images) uses 1 to keep hidden content from leaking through the rim.
    """
    spec = get_representation(name)
    if spec.region is None:
        return np.zeros(mask.shape, dtype=bool)
    keep = spec.region(mask, box_margin, boxes)
    if guard > 0 and keep.any() and not keep.all():
        keep = ndimage.binary_erosion(keep, iterations=guard, border_value=1)
    return keep


def apply_representation(name: str, image: np.ndarray, mask: np.ndarray, fill: str = "zero",
                         box_margin: int = 0, boxes: list[Box] | None = None,
                         guard: int = 0) -> np.ndarray:
    """One ROI Hide-and-Seek version of ``image``.

    Args:
        name: A registered representation (:func:`~hideseek.representations.registry.\
representation_names`).
        image: 2-D float image.
        mask: Boolean lung mask of the same shape.
        fill: A registered fill: ``zero`` (the paper), ``mean`` (of the visible pixels),
            ``blur`` (texture-free) or ``linear`` (ROAD-style imputation).
        box_margin: Pixels added around each lung box.
        boxes: Lung boxes; computed from ``mask`` when None.
        guard: Rim of hidden pixels added around the hidden region (see
            :func:`visible_region`); 0 at the image's own resolution.

    Returns:
        A new float32 image; kept pixels are bit-identical to ``image``.
    """
    if image.shape != mask.shape:
        raise ValueError(f"image {image.shape} and mask {mask.shape} differ in shape")
    spec = get_representation(name)
    fill_fn = get_fill(fill)
    if spec.render is not None:
        return np.asarray(spec.render(image, mask), dtype=np.float32)
    keep = visible_region(name, mask, box_margin, boxes, guard)
    if keep.all():
        return image.astype(np.float32, copy=True)
    out = np.where(keep, image, fill_fn(image, keep))
    return out.astype(np.float32)


@dataclass(frozen=True)
class Representation:
    """A representation as a (image, mask) -> image callable for datasets.

    Attributes:
        name: A registered representation.
        fill: A registered fill of the hidden pixels.
        box_margin: Pixels added around each lung box.
        guard: Rim hidden next to the hidden region (1 for resized images; see
            :func:`visible_region`).
        mask_change: Grow (> 0) or shrink (< 0) the lung mask by this fraction of the lung
            width first (:func:`~hideseek.representations.masks.perturb_mask`; the robustness
            check against segmentation errors).
    """

    name: str = "data"
    fill: str = "zero"
    box_margin: int = 0
    guard: int = 0
    mask_change: float = 0.0

    def __post_init__(self) -> None:
        get_representation(self.name)
        get_fill(self.fill)

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.mask_change:
            from hideseek.representations.masks import perturb_mask

            mask = perturb_mask(mask, self.mask_change)
        return apply_representation(self.name, image, mask, self.fill, self.box_margin,
                                    guard=self.guard)
