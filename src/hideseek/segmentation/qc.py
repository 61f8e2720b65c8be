"""Quality control of predicted lung masks: shapes, fragments and hesitation the model's training
masks never showed.

A predicted mask is *flagged* (``regions.csv`` of ``segment predict``) when

- ``implausible_shape``: its lung area fraction, or (with two lungs) the height / width of a lung
  box, lies outside the range of the model's training masks (:class:`ShapeRanges`: their
  0.5th-99.5th percentiles widened by :data:`RANGE_TOLERANCE`);
- ``many_components``: the raw argmax mask, before post-processing, has more than
  :data:`MAX_RAW_COMPONENTS` 8-connected components (the network saw no coherent lungs);
- ``low_confidence``: the mean lung probability inside the predicted mask is below
  :data:`MIN_CONFIDENCE` (the network hesitated over the whole region).

A mask of one component is information, not a flag: its box aspect is not judged (two lungs
touching form one wide box), only its area. The ranges travel with the model: ``segment train``
stores them in the checkpoint's ``meta["qc_ranges"]``; a checkpoint without them reads
``<checkpoint>.qc.json`` beside it (the shipped model's: ``weights/unet_default.qc.json``).
Thresholds and their rationale: ``weights/MODEL_CARD.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from skimage.measure import label as label_components

from hideseek.errors import HideseekError
from hideseek.segmentation.postprocess import LungRegions, lung_boxes

__all__ = [
    "MAX_RAW_COMPONENTS",
    "MIN_CONFIDENCE",
    "MIN_SPECK_FRACTION",
    "QC_FLAGS",
    "RANGE_PERCENTILES",
    "RANGE_TOLERANCE",
    "MaskQC",
    "ShapeRanges",
    "assess_prediction",
    "box_aspects",
    "measure_ranges",
    "ranges_beside",
]

#: Percentiles of the training masks that bound a plausible shape.
RANGE_PERCENTILES = (0.5, 99.5)
#: Each end of a training range is widened by this share on a ratio scale (``lo / 1.1``,
#: ``hi * 1.1``): with ~100 training masks the 0.5th / 99.5th percentiles are nearly the extremes
#: and move by about this much from one sample of masks to another.
RANGE_TOLERANCE = 0.10
#: ``many_components`` above this many raw 8-connected components: above the most the shipped
#: model gives on any image of the V7 pack (5) or of Shenzhen (7); the 0.75% of COVID-QU-Ex
#: images above it had mean Dice 0.66 against 0.85 overall (MODEL_CARD.md).
MAX_RAW_COMPONENTS = 8
#: ``low_confidence`` below this mean lung probability inside the predicted mask: under the
#: lowest value of the shipped model on any V7-pack (0.967) or Shenzhen (0.961) image; the 0.4%
#: of COVID-QU-Ex images below it had mean Dice 0.5 (MODEL_CARD.md).
MIN_CONFIDENCE = 0.95
#: Components smaller than this share of the image are specks (as in
#: :func:`~hideseek.segmentation.postprocess.postprocess_mask`), not lungs, when boxes are
#: measured.
MIN_SPECK_FRACTION = 0.002
#: The QC flag columns, in ``regions.csv`` order.
QC_FLAGS = ("implausible_shape", "many_components", "low_confidence")


def box_aspects(mask: np.ndarray) -> list[float]:
    """Height / width of each lung box of ``mask`` (the two largest components, specks
    excluded), left to right."""
    boxes = lung_boxes(mask, keep=2, min_area=MIN_SPECK_FRACTION * mask.size)
    return [(y1 - y0) / max(x1 - x0, 1) for x0, y0, x1, y1 in boxes]


@dataclass(frozen=True)
class ShapeRanges:
    """The range of lung shapes in a model's training masks (before any tolerance).

    Attributes:
        area_fraction: (low, high) lung area fraction.
        aspect: (low, high) height / width of a lung box (masks with two lungs).
        n_masks: Training masks measured.
        percentiles: The percentiles that ``low`` and ``high`` are.
    """

    area_fraction: tuple[float, float]
    aspect: tuple[float, float]
    n_masks: int
    percentiles: tuple[float, float] = RANGE_PERCENTILES

    def allowed(self, tolerance: float = RANGE_TOLERANCE) -> dict[str, tuple[float, float]]:
        """The ranges a prediction must fall in: each end widened by ``tolerance``."""
        k = 1.0 + tolerance
        return {"area_fraction": (self.area_fraction[0] / k, self.area_fraction[1] * k),
                "aspect": (self.aspect[0] / k, self.aspect[1] * k)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the checkpoint's ``meta["qc_ranges"]``)."""
        return {"area_fraction": list(self.area_fraction), "aspect": list(self.aspect),
                "n_masks": self.n_masks, "percentiles": list(self.percentiles)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "qc_ranges") -> ShapeRanges:
        """Read :meth:`to_dict`'s form.

        Raises:
            HideseekError: A key is missing or malformed (``where`` names the source).
        """
        try:
            lo_a, hi_a = (float(v) for v in d["area_fraction"])
            lo_r, hi_r = (float(v) for v in d["aspect"])
            pct = tuple(float(v) for v in d.get("percentiles", RANGE_PERCENTILES))
            return cls((lo_a, hi_a), (lo_r, hi_r), int(d["n_masks"]),
                       (pct[0], pct[1]))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise HideseekError(f"{where}: not a lung shape range ({exc!r})") from exc


def measure_ranges(masks: Iterable[np.ndarray],
                   percentiles: tuple[float, float] = RANGE_PERCENTILES) -> ShapeRanges:
    """The lung shape ranges of (training) masks at their own resolution.

    Args:
        masks: Boolean lung masks.
        percentiles: The low and high percentiles kept.

    Raises:
        HideseekError: No mask, or no mask with two lungs.
    """
    areas: list[float] = []
    aspects: list[float] = []
    for mask in masks:
        m = np.asarray(mask, dtype=bool)
        areas.append(float(m.mean()))
        found = box_aspects(m)
        if len(found) == 2:
            aspects += found
    if not areas or not aspects:
        raise HideseekError(f"cannot measure lung shape ranges from {len(areas)} mask(s) "
                            f"({len(aspects) // 2} with two lungs)")
    a = np.percentile(areas, percentiles)
    r = np.percentile(aspects, percentiles)
    return ShapeRanges((round(float(a[0]), 5), round(float(a[1]), 5)),
                       (round(float(r[0]), 4), round(float(r[1]), 4)), len(areas),
                       percentiles)


def ranges_beside(checkpoint: Path) -> dict[str, Any] | None:
    """``<checkpoint>.qc.json`` (e.g. ``unet_default.qc.json``), when it exists.

    Raises:
        HideseekError: The file exists but is not a shape range.
    """
    path = checkpoint.with_suffix(".qc.json")
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HideseekError(f"{path}: unreadable lung shape ranges ({exc})") from exc
    return ShapeRanges.from_dict(raw, str(path)).to_dict()


@dataclass(frozen=True)
class MaskQC:
    """The quality-control measures and flags of one predicted mask.

    Attributes:
        confidence: Mean lung probability inside the predicted mask (NaN when empty).
        raw_components: 8-connected components of the raw mask, before post-processing.
        aspects: Height / width of each kept lung box, left to right.
        implausible_shape: Area or (two lungs) a box aspect outside the training range; None
            when the model carries no ranges.
        many_components: More than :data:`MAX_RAW_COMPONENTS` raw components.
        low_confidence: ``confidence`` below :data:`MIN_CONFIDENCE`.
        reasons: One short phrase per flag raised.
    """

    confidence: float
    raw_components: int
    aspects: tuple[float, ...]
    implausible_shape: bool | None
    many_components: bool
    low_confidence: bool
    reasons: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        """Any QC flag raised."""
        return bool(self.implausible_shape or self.many_components or self.low_confidence)


def _outside(value: float, bounds: tuple[float, float]) -> bool:
    return not bounds[0] <= value <= bounds[1]


def assess_prediction(probability: np.ndarray, raw: np.ndarray, regions: LungRegions,
                      ranges: ShapeRanges | None, *, tolerance: float = RANGE_TOLERANCE,
                      max_components: int = MAX_RAW_COMPONENTS,
                      min_confidence: float = MIN_CONFIDENCE) -> MaskQC:
    """Judge one predicted mask.

    Args:
        probability: Lung probability at the image's resolution.
        raw: The raw mask (``probability >= 0.5``), before post-processing.
        regions: The post-processed mask (:func:`~hideseek.segmentation.postprocess_mask`).
        ranges: The model's training shape ranges; None skips ``implausible_shape``.
        tolerance: Widening of the ranges (:data:`RANGE_TOLERANCE`).
        max_components: :data:`MAX_RAW_COMPONENTS`.
        min_confidence: :data:`MIN_CONFIDENCE`.
    """
    mask = regions.mask
    confidence = float(probability[mask].mean()) if mask.any() else float("nan")
    n_raw = int(label_components(np.asarray(raw, dtype=bool), connectivity=2,
                                 return_num=True)[1])
    aspects = tuple(round((y1 - y0) / max(x1 - x0, 1), 4) for x0, y0, x1, y1 in regions.boxes)
    reasons = []
    shape: bool | None = None
    if ranges is not None:
        allowed = ranges.allowed(tolerance)
        lo, hi = allowed["area_fraction"]
        shape = False
        if _outside(regions.area_fraction, (lo, hi)):
            shape = True
            reasons.append(f"area {regions.area_fraction:.3f} outside {lo:.3f}-{hi:.3f}")
        if len(aspects) == 2:
            lo, hi = allowed["aspect"]
            bad = [a for a in aspects if _outside(a, (lo, hi))]
            if bad:
                shape = True
                reasons.append(f"box aspect {bad[0]:.2f} outside {lo:.2f}-{hi:.2f}")
    many = n_raw > max_components
    if many:
        reasons.append(f"{n_raw} raw components > {max_components}")
    low = bool(confidence < min_confidence)  # NaN (empty mask) is not low
    if low:
        reasons.append(f"confidence {confidence:.3f} < {min_confidence}")
    return MaskQC(confidence, n_raw, aspects, shape, many, low, tuple(reasons))
