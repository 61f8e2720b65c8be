"""The paper's five versions of an image, registered in the paper's order.

| name | kept | hidden |
|---|---|---|
| ``data`` | everything | nothing |
| ``lungs_isolated`` | the lung mask | everything outside it |
| ``lungs_removed`` | everything else | the lung mask |
| ``lungs_framed`` | inside the lung boxes | everything outside them |
| ``lungs_boxed_out`` | everything else | inside the boxes |

The boxes (one per lung, their union the boxed region) come from
:func:`~hideseek.segmentation.postprocess.lung_boxes`, so the mask is the single source of truth
at any resolution.

One control is registered beside them, for the audit (``hideseek audit``), never written or
trained by default: ``lungs_surround_removed`` keeps the lungs and everything outside the boxes
and hides the part of the lung boxes outside the mask.

It tells a model that reads evidence next to the lungs (a tag inside a lung box, read against
the dark lung beside it) from one that reads the lungs: hiding the surround costs the first,
with its lungs in view, and not the second.
"""

from __future__ import annotations

import numpy as np

from hideseek.representations.registry import RepresentationSpec, register_representation
from hideseek.segmentation.postprocess import Box, boxes_mask, lung_boxes

__all__ = ["REPRESENTATIONS", "SURROUND"]


def _everything(mask: np.ndarray, box_margin: int, boxes: list[Box] | None) -> np.ndarray:
    return np.ones(mask.shape, dtype=bool)


def _lungs(mask: np.ndarray, box_margin: int, boxes: list[Box] | None) -> np.ndarray:
    return mask.astype(bool)


def _outside_lungs(mask: np.ndarray, box_margin: int, boxes: list[Box] | None) -> np.ndarray:
    return ~_lungs(mask, box_margin, boxes)


def _boxes(mask: np.ndarray, box_margin: int, boxes: list[Box] | None) -> np.ndarray:
    return boxes_mask(mask.shape, lung_boxes(mask) if boxes is None else boxes, box_margin)


def _not_surround(mask: np.ndarray, box_margin: int, boxes: list[Box] | None) -> np.ndarray:
    return ~_boxes(mask, box_margin, boxes) | _lungs(mask, box_margin, boxes)


def _outside_boxes(mask: np.ndarray, box_margin: int, boxes: list[Box] | None) -> np.ndarray:
    return ~_boxes(mask, box_margin, boxes)


_SPECS = (
    RepresentationSpec("data", "original", "the image unchanged", region=_everything,
                       needs_mask=False),
    RepresentationSpec("lungs_isolated", "lungs isolated", "only the lungs, the rest filled",
                       region=_lungs),
    RepresentationSpec("lungs_removed", "lungs removed", "the lungs filled, the rest kept",
                       region=_outside_lungs, hides_lungs=True),
    RepresentationSpec("lungs_framed", "lungs framed", "only the two lung boxes, the rest "
                       "filled", region=_boxes),
    RepresentationSpec("lungs_boxed_out", "lungs boxed out", "the two lung boxes filled, the "
                       "rest kept (hides the mask's outline too)", region=_outside_boxes,
                       hides_lungs=True),
)

#: The paper's five versions (the default set of the writer and the protocol).
REPRESENTATIONS: tuple[str, ...] = tuple(register_representation(s).name for s in _SPECS)
#: The audit's control of evidence next to the lungs: the lung boxes hidden except the mask.
SURROUND: str = register_representation(RepresentationSpec(
    "lungs_surround_removed", "lungs' surround removed", "the part of the lung boxes outside "
    "the mask filled, the lungs and the rest kept (an audit control: evidence next to the "
    "lungs)", region=_not_surround, control=True)).name
