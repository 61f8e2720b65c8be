"""Where the evidence is: attribution and occlusion numbers per image, and their summaries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hideseek.bootstrap import patient_weights
from hideseek.classification.results import Estimate
from hideseek.jsonio import OMIT_NONE

__all__ = ["CamMeasures", "CamRepresentation", "CamResult", "MeasureSummary", "PatientMean",
           "attribution_numbers", "null_numbers", "outside_region", "summarise"]

MEASURES = ("lung_share", "lung_ratio", "box_share", "pointing", "occlusion")


def attribution_numbers(cam: np.ndarray, mask: np.ndarray, boxes: np.ndarray) -> dict[str, float]:
    """Numbers of one (raw, non-negative) attribution map.

    Returns:
        ``lung_share``: share of positive attribution inside the lung mask; ``lung_ratio``: that
        share over the mask's share of the image area (1.0 = no preference for the lungs);
        ``box_share``: share inside the lung boxes; ``pointing``: 1 when the maximum is inside
        the mask. NaN where the map is all zero.
    """
    pos = np.clip(cam.astype(np.float64), 0.0, None)
    total = float(pos.sum())
    area = float(mask.mean())
    if total <= 0 or area == 0:
        return {"lung_share": np.nan, "lung_ratio": np.nan, "box_share": np.nan,
                "pointing": np.nan}
    share = float(pos[mask].sum() / total)
    return {"lung_share": share, "lung_ratio": share / area,
            "box_share": float(pos[boxes].sum() / total),
            "pointing": float(mask.flat[int(np.argmax(pos))])}


def outside_region(mask: np.ndarray, rng: np.random.Generator, block: int = 8) -> np.ndarray:
    """A region outside the lungs with (about) the lungs' area, made of random ``block`` x
    ``block`` squares, for the occlusion control."""
    h, w = mask.shape
    target = int(mask.sum())
    out = np.zeros_like(mask, dtype=bool)
    cells = [(y, x) for y in range(0, h, block) for x in range(0, w, block)
             if not mask[y : y + block, x : x + block].any()]
    for k in rng.permutation(len(cells)):
        if out.sum() >= target:
            break
        y, x = cells[k]
        out[y : y + block, x : x + block] = True
    return out


def null_numbers(mask: np.ndarray, boxes: np.ndarray, grid: tuple[int, int],
                 rng: np.random.Generator, n_maps: int = 8) -> dict[str, float]:
    """The measures of random maps at the method's own resolution: ``n_maps`` maps of
    ``grid`` cells, each cell ReLU(N(0, 1)), upsampled bilinearly to the image like Grad-CAM.

    The coarser the grid, the further these move from the infinite-resolution values (lung
    share = the mask's area share, lung ratio = 1, pointing = area share), which is why a
    measure is read against its null and not against those constants.
    """
    gh, gw = (max(1, int(g)) for g in grid)
    cells = torch.from_numpy(np.clip(rng.standard_normal((n_maps, 1, gh, gw)), 0, None))
    maps = F.interpolate(cells.float(), size=mask.shape, mode="bilinear",
                         align_corners=False)[:, 0].numpy()
    nums = [attribution_numbers(m, mask, boxes) for m in maps]
    return {k: float(np.nanmean([n[k] for n in nums])) if any(np.isfinite(n[k]) for n in nums)
            else np.nan for k in ("lung_share", "lung_ratio", "box_share", "pointing")}


def _uniform_null(measure: str, rows: Sequence[dict[str, Any]]) -> float | None:
    """The measure of a uniform map (the infinite-resolution reference)."""
    if measure == "lung_ratio":
        return 1.0
    if measure == "occlusion":
        return 0.0
    key = {"lung_share": "lung_area", "pointing": "lung_area", "box_share": "box_area"}[measure]
    vals = [float(r[key]) for r in rows if r.get(key) is not None]
    return float(np.mean(vals)) if vals else None


@dataclass(frozen=True)
class PatientMean:
    """Mean of the finite values with a patient-bootstrap 95% interval (None: undefined)."""

    value: float | None
    ci: tuple[float | None, float | None]
    n: int


@dataclass(frozen=True)
class MeasureSummary:
    """One measure over a set of images, beside its nulls.

    Attributes:
        null: The measure of random maps at the method's resolution (``{"value", "ci"}``).
        null_uniform: The measure of a uniform map (the infinite-resolution reference).
    """

    value: float | None
    ci: tuple[float | None, float | None]
    n: int
    null: Estimate
    null_uniform: float | None


@dataclass(frozen=True)
class CamMeasures:
    """The attribution and occlusion measures of one class (``cam.json``'s ``per_class``).

    Attributes:
        by_outcome: The same for correct and wrong predictions apart (when known).
    """

    n: int
    n_zero_maps: int
    lung_share: MeasureSummary
    lung_ratio: MeasureSummary
    box_share: MeasureSummary
    pointing: MeasureSummary
    occlusion: MeasureSummary
    by_outcome: dict[str, CamMeasures] | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class CamRepresentation:
    """The measures of one representation's model (``cam.json``'s ``representations``)."""

    model: str
    arch: str | None
    grid: str | None
    per_class: dict[str, CamMeasures]


@dataclass(frozen=True)
class CamResult:
    """What ``hideseek cam`` measured (``cam.json``): the images, the method, and per
    representation the measures per true class."""

    split: str
    n: int
    method: str
    representations: dict[str, CamRepresentation]


def _patient_mean(values: np.ndarray, weights: np.ndarray) -> PatientMean:
    """Mean of the finite values, with a patient-bootstrap 95% interval (``weights``: first row
    ones, then one row per replicate)."""
    ok = np.isfinite(values)
    n = int(ok.sum())
    if n == 0:
        return PatientMean(None, (None, None), 0)
    v = np.where(ok, values, 0.0)
    w = weights * ok
    den = w.sum(1)
    means = (w * v).sum(1)[den > 0] / den[den > 0]
    if n < 3 or means.size < 11:
        return PatientMean(float(v[ok].mean()), (None, None), n)
    return PatientMean(float(v[ok].mean()), (float(np.percentile(means[1:], 2.5)),
                                             float(np.percentile(means[1:], 97.5))), n)


def _summary(sel: Sequence[dict[str, Any]], m: str, w: np.ndarray) -> MeasureSummary:
    mean = _patient_mean(np.array([r.get(m, np.nan) for r in sel], dtype=float), w)
    null = _patient_mean(np.array([r.get(f"null_{m}", np.nan) for r in sel], dtype=float), w)
    return MeasureSummary(mean.value, mean.ci, mean.n,
                          Estimate(0.0, (0.0, 0.0)) if m == "occlusion"
                          else Estimate(null.value, null.ci), _uniform_null(m, sel))


def _measures(sel: Sequence[dict[str, Any]], n_boot: int, seed: int,
              outcomes: bool = False) -> CamMeasures:
    groups = [str(r.get("patient_id", r.get("filename", i))) for i, r in enumerate(sel)]
    w = np.vstack([np.ones(len(sel)), patient_weights(groups, n_boot, seed)])
    by_outcome = None
    if outcomes and sel and "prediction" in sel[0]:
        by_outcome = {outcome: _measures([r for r in sel
                                          if (r["prediction"] == r["label"]) == ok],
                                         n_boot, seed)
                      for outcome, ok in (("correct", True), ("wrong", False))}
    s = {m: _summary(sel, m, w) for m in MEASURES}
    return CamMeasures(len(sel), sum(1 for r in sel
                                     if not np.isfinite(float(r.get("lung_share", np.nan)))),
                       s["lung_share"], s["lung_ratio"], s["box_share"], s["pointing"],
                       s["occlusion"], by_outcome)


def summarise(rows: Sequence[dict[str, Any]], classes: Sequence[str], n_boot: int = 1000,
              seed: int = 0) -> dict[str, CamMeasures]:
    """Per true class (and ``all``): mean of each measure with a 95% interval that resamples
    patients, its null beside it (``null``: random maps at the method's resolution;
    ``null_uniform``: a uniform map), the number of all-zero maps, and the same for correct and
    wrong predictions apart (``by_outcome``)."""
    return {cls: _measures([r for r in rows if cls == "all" or r["label"] == cls], n_boot,
                           seed, outcomes=True)
            for cls in [*classes, "all"]}
