"""Mask conventions measured, not confused with errors.

Two collections can trace the same lungs differently (the lung behind the heart, below the
diaphragm dome, into the costophrenic recesses). Against a collection drawn by another
convention than a model's training masks, the model's masks differ *systematically*: the same
sign in the same place on most images. This module separates that part from random error, per
collection:

- per image: the area ratio (predicted / true lung area), Dice, and in each anatomical zone
  (:func:`zone_map`) the signed disagreement, false-positive minus false-negative pixels as a
  share of the true lung area (positive: the model draws more lung there), and the unsigned one
  (false positives plus false negatives, same scale). The signed shares of the zones add up to
  ``area ratio - 1``;
- per collection: the mean of each per-image value with a patient-bootstrap 95% interval
  (:func:`hideseek.bootstrap.mean_interval`; images resampled where the collection has no
  patient ids) - the systematic part - and the standard deviation of the per-image values
  around it - the random part.

Zones are defined on the **true** mask, so that they do not move with the prediction (see
:func:`zone_map`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hideseek.bootstrap import mean_interval
from hideseek.data.manifest import CXRDataset, Record
from hideseek.errors import HideseekError
from hideseek.runtime import Runtime
from hideseek.segmentation.metrics import dice
from hideseek.segmentation.postprocess import lung_boxes
from hideseek.segmentation.qc import MIN_SPECK_FRACTION

__all__ = [
    "APEX_SHARE",
    "BASE_SHARE",
    "MEDIAL_SHARE",
    "RETROCARDIAC_SHARE",
    "ZONES",
    "CollectionConventions",
    "ImageConventions",
    "Summary",
    "compare_masks",
    "measure_conventions",
    "summarise",
    "zone_map",
]

#: The zones, in the order of :func:`zone_map`'s labels (0-4).
ZONES = ("apices", "costophrenic", "retrocardiac", "medial", "rest")
#: Apex: the top share of each true lung box's height.
APEX_SHARE = 0.15
#: Costophrenic angle: the bottom share of each lung box's height, on its lateral half.
BASE_SHARE = 0.15
#: Retrocardiac band: the bottom share of the patient's left lung box, medial third.
RETROCARDIAC_SHARE = 0.40
#: Medial band: this share of each lung box's width, on the side of the midline.
MEDIAL_SHARE = 1 / 3


def zone_map(truth: np.ndarray) -> np.ndarray | None:
    """The anatomical zone of every pixel, from the true mask's two lung boxes.

    The image is split at the midline, halfway between the inner edges of the two lung boxes
    (the image's left box is the patient's right lung, in standard display). On each side, with
    that lung's box ``(x0, y0, x1, y1)`` of height ``h`` and width ``w``, in this order of
    precedence:

    - ``apices`` (0): rows above ``y0 + 0.15 h``, the whole side (a mask that goes higher than
      the truth disagrees here too);
    - ``costophrenic`` (1): rows from ``y1 - 0.15 h`` down to the image's bottom, on the
      lateral half of the box (beyond its centre, away from the midline) and further out;
    - ``retrocardiac`` (2), patient's left lung only (image right): rows from ``y1 - 0.40 h``
      down, from the midline to the medial third of the box (``x < x0 + w / 3``): the lung
      behind the heart and the medial base;
    - ``medial`` (3): the rest of the medial third of each box, out to the midline, below the
      apex: the hilum, the mediastinal and heart borders (and on the right the cardiophrenic
      angle);
    - ``rest`` (4): every other pixel (the middle of the lungs, the central bases below the
      domes, outside the chest).

    Returns:
        An int8 label image (values index :data:`ZONES`), or None when the true mask has
        fewer than two lungs.
    """
    truth = np.asarray(truth, dtype=bool)
    boxes = lung_boxes(truth, keep=2, min_area=MIN_SPECK_FRACTION * truth.size)
    if len(boxes) < 2:
        return None
    (rx0, ry0, rx1, ry1), (lx0, ly0, lx1, ly1) = boxes  # image left = patient right
    height, width = truth.shape
    mid = (rx1 + lx0) / 2.0
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    zones = np.full(truth.shape, 4, dtype=np.int8)
    for x0, y0, x1, y1, left_side in ((rx0, ry0, rx1, ry1, True), (lx0, ly0, lx1, ly1, False)):
        h, w = y1 - y0, x1 - x0
        side = cols < mid if left_side else cols >= mid
        centre = (x0 + x1) / 2.0
        lateral = cols < centre if left_side else cols >= centre
        medial = cols >= x1 - MEDIAL_SHARE * w if left_side else cols < x0 + MEDIAL_SHARE * w
        below_apex = rows >= y0 + APEX_SHARE * h
        zones[side & medial & below_apex] = 3
        if not left_side:
            zones[side & medial & (rows >= y1 - RETROCARDIAC_SHARE * h)] = 2
        zones[side & lateral & (rows >= y1 - BASE_SHARE * h)] = 1
        zones[side & ~below_apex] = 0
    return zones


@dataclass(frozen=True)
class ImageConventions:
    """One image: predicted against true mask.

    Attributes:
        key: :attr:`Record.key`.
        patient: Its patient (the file name where the collection has none).
        collection: Its collection (:attr:`Record.collection`, or the dataset's name).
        dice: Lung Dice.
        area_ratio: Predicted / true lung area.
        signed: Per zone, (false positives - false negatives) / true lung area; None without
            two true lungs.
        unsigned: Per zone, (false positives + false negatives) / true lung area.
    """

    key: str
    patient: str
    collection: str
    dice: float
    area_ratio: float
    signed: dict[str, float] | None
    unsigned: dict[str, float] | None


def compare_masks(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float,
                                                               dict[str, float] | None,
                                                               dict[str, float] | None]:
    """Dice, area ratio and the signed / unsigned disagreement per zone of one image.

    Raises:
        HideseekError: Shapes differ or the true mask is empty.
    """
    pred, truth = np.asarray(pred, dtype=bool), np.asarray(truth, dtype=bool)
    if pred.shape != truth.shape:
        raise HideseekError(f"predicted {pred.shape} and true {truth.shape} masks differ in size")
    area = float(truth.sum())
    if area == 0:
        raise HideseekError("the true mask is empty")
    zones = zone_map(truth)
    signed = unsigned = None
    if zones is not None:
        fp = np.bincount(zones[pred & ~truth], minlength=len(ZONES)) / area
        fn = np.bincount(zones[~pred & truth], minlength=len(ZONES)) / area
        signed = {z: float(fp[k] - fn[k]) for k, z in enumerate(ZONES)}
        unsigned = {z: float(fp[k] + fn[k]) for k, z in enumerate(ZONES)}
    return dice(pred, truth), float(pred.sum()) / area, signed, unsigned


@dataclass(frozen=True)
class Summary:
    """Mean of a per-image value with its patient-bootstrap 95% interval (the systematic part)
    and the standard deviation around it (the random part)."""

    mean: float
    ci: tuple[float, float]
    sd: float
    n: int


def summarise(values: Iterable[float], groups: Iterable[str], n_boot: int = 2000,
              seed: int = 0) -> Summary:
    """:class:`Summary` of per-image ``values`` whose patients are ``groups``."""
    x = np.asarray(list(values), dtype=np.float64)
    g = list(groups)
    if x.size == 0:
        return Summary(float("nan"), (float("nan"), float("nan")), float("nan"), 0)
    return Summary(float(x.mean()), mean_interval(x, g, n_boot, seed),
                   float(x.std(ddof=1)) if x.size > 1 else 0.0, int(x.size))


@dataclass(frozen=True)
class CollectionConventions:
    """One collection's systematic and random difference from the predicted masks.

    Attributes:
        collection: Its name.
        images: Images compared; patients: their patients.
        image_level: No patient ids: the intervals resample images.
        dice: Lung Dice; p5_dice: its 5th percentile.
        area_ratio: Predicted / true lung area.
        signed: Per zone, the signed disagreement (images with two true lungs).
        unsigned: Per zone, the unsigned disagreement.
        per_image: The images' values.
    """

    collection: str
    images: int
    patients: int
    image_level: bool
    dice: Summary
    p5_dice: float
    area_ratio: Summary
    signed: dict[str, Summary]
    unsigned: dict[str, Summary]
    per_image: list[ImageConventions] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form without the per-image values."""
        def s(v: Summary) -> dict[str, Any]:
            return {"mean": v.mean, "ci": list(v.ci), "sd": v.sd, "n": v.n}

        return {"collection": self.collection, "images": self.images,
                "patients": self.patients, "image_level": self.image_level,
                "dice": s(self.dice), "p5_dice": self.p5_dice,
                "area_ratio": s(self.area_ratio),
                "signed": {z: s(v) for z, v in self.signed.items()},
                "unsigned": {z: s(v) for z, v in self.unsigned.items()}}


def _collect(rows: list[ImageConventions], name: str, image_level: bool, n_boot: int,
             seed: int) -> CollectionConventions:
    groups = [r.patient for r in rows]
    zoned = [r for r in rows if r.signed is not None and r.unsigned is not None]
    zgroups = [r.patient for r in zoned]
    dices = np.array([r.dice for r in rows])
    return CollectionConventions(
        collection=name, images=len(rows), patients=len(set(groups)),
        image_level=image_level,
        dice=summarise(dices, groups, n_boot, seed),
        p5_dice=float(np.percentile(dices, 5)) if dices.size else float("nan"),
        area_ratio=summarise([r.area_ratio for r in rows], groups, n_boot, seed),
        signed={z: summarise([r.signed[z] for r in zoned if r.signed], zgroups, n_boot, seed)
                for z in ZONES},
        unsigned={z: summarise([r.unsigned[z] for r in zoned if r.unsigned], zgroups, n_boot,
                               seed) for z in ZONES},
        per_image=rows)


def _pairs(data: CXRDataset, model: str | Path | None, masks: str | Path | None,
           batch_size: int, workers: int, runtime: Runtime | None
           ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    from hideseek.segmentation.evaluate import _folder_pairs, _model_pairs

    if masks is not None:
        return _folder_pairs(data, masks)
    return _model_pairs(data, model or "default", False, batch_size, workers, runtime)


def measure_conventions(data: CXRDataset, model: str | Path | None = None,
                        masks: str | Path | None = None, *, batch_size: int = 8,
                        workers: int = 0, runtime: Runtime | None = None, n_boot: int = 2000,
                        seed: int = 0) -> dict[str, CollectionConventions]:
    """Compare predicted masks (a model's, after post-processing, or a folder's) with ``data``'s
    true masks, per collection.

    Args:
        data: A dataset with true lung masks (one or several collections).
        model: A segmentation checkpoint (``default``: the shipped model); or
        masks: A folder of predicted masks (exactly one of the two; a folder suits one
            collection).
        n_boot: Bootstrap resamples of the intervals.

    Returns:
        By collection (:attr:`Record.collection`; the dataset folder's name for a single one).

    Raises:
        HideseekError: No true masks, or not exactly one of ``model`` and ``masks``.
    """
    if not data.has_masks:
        raise HideseekError(f"{data.root}: no masks/ folder with the true lung masks")
    if (model is None) == (masks is None):
        raise HideseekError("give exactly one of a model or a folder of predicted masks")
    by_key: dict[str, Record] = {r.key: r for r in data.records}
    rows: dict[str, list[ImageConventions]] = {}
    no_ids: dict[str, bool] = {}
    for key, pred, truth in _pairs(data, model, masks, batch_size, workers, runtime):
        r = by_key[key]
        name = r.collection or Path(data.root).name
        try:
            d, ratio, signed, unsigned = compare_masks(pred, truth)
        except HideseekError as exc:
            raise HideseekError(f"{data.mask_path(r)}: {exc}") from exc
        rows.setdefault(name, []).append(ImageConventions(key, r.patient_id or r.filename, name,
                                                          d, ratio, signed, unsigned))
        # A dataset without patient ids names each image its own patient (its file name).
        no_ids[name] = no_ids.get(name, True) and r.image_is_patient
    return {name: _collect(items, name, no_ids[name], n_boot, seed)
            for name, items in rows.items()}
