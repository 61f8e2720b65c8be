"""Whole-dataset lung segmentation: batched, parallel decoding, post-processing, resumable."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from hideseek.data.io import read_image, write_png
from hideseek.data.manifest import CXRDataset, Record
from hideseek.data.masks import mask_name
from hideseek.data.preprocess import pad_to_square, resize, unpad
from hideseek.errors import HideseekError, ImageReadError
from hideseek.progress import progress
from hideseek.runtime import Runtime
from hideseek.segmentation.postprocess import LungRegions, postprocess_mask
from hideseek.segmentation.qc import QC_FLAGS, MaskQC, ShapeRanges, assess_prediction
from hideseek.segmentation.tta import lung_probability
from hideseek.segmentation.unet import UNet

__all__ = ["REGION_COLUMNS", "mask_name", "predict_dataset", "predict_masks",
           "predict_probabilities", "read_regions"]

log = logging.getLogger(__name__)

#: The columns of ``regions.csv``. The first fifteen are the original ones (same meaning); the
#: quality-control columns follow (:mod:`hideseek.segmentation.qc`): box aspects (height /
#: width), raw components before post-processing, mean lung probability inside the mask, the QC
#: flags (``implausible_shape`` empty when the model has no shape ranges), ``unreadable`` (no
#: mask written), ``flagged`` (any of empty, implausible area, a QC flag, unreadable; not one
#: lung) and ``reason`` (why, in words).
REGION_COLUMNS = ["filename", "mask", "lung_area_fraction", "n_components",
                  "box1_x0", "box1_y0", "box1_x1", "box1_y1",
                  "box2_x0", "box2_y0", "box2_x1", "box2_y1",
                  "empty", "one_lung", "implausible_area",
                  "box1_aspect", "box2_aspect", "raw_components", "confidence",
                  "implausible_shape", "many_components", "low_confidence", "unreadable",
                  "flagged", "reason"]
#: The counts of :func:`predict_dataset` taken from 0/1 columns of ``regions.csv``.
_COUNTED = ("empty", "one_lung", "implausible_area", *QC_FLAGS, "unreadable", "flagged")


@dataclass
class _Item:
    index: int
    tensor: torch.Tensor | None
    shape: tuple[int, int]
    pad: tuple[int, int]
    error: str = ""


class _InferenceImages(Dataset[_Item]):
    def __init__(self, paths: list[Path], size: int) -> None:
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> _Item:
        try:
            image = read_image(self.paths[i])
        except HideseekError as exc:  # reported by the caller, never a dead worker
            reason = exc.reason if isinstance(exc, ImageReadError) else str(exc)
            return _Item(i, None, (0, 0), (0, 0), error=reason)
        square, pad = pad_to_square(image)
        return _Item(i, torch.from_numpy(resize(square, self.size))[None], image.shape, pad)


def _collate(items: list[_Item]) -> list[_Item]:
    return items


def predict_probabilities(paths: list[Path], model: UNet, size: int, batch_size: int = 8,
                          workers: int = 2, runtime: Runtime | None = None,
                          desc: str = "segment", *, tta: bool = False
                          ) -> Iterator[tuple[int, np.ndarray | ImageReadError]]:
    """Lung probabilities at each image's own resolution, in input order.

    Pad to square, resize to ``size``, the lung-class probability upsampled to the padded
    original side, the padding removed. Decoding runs in ``workers`` processes while the model
    runs. ``tta`` averages the probabilities of flipped, rescaled and re-exposed views
    (:func:`~hideseek.segmentation.tta.lung_probability`).

    Yields:
        (index into ``paths``, float32 probabilities with the image's shape); for an image that
        cannot be read, (index, the :class:`~hideseek.errors.ImageReadError`) instead.
    """
    rt = runtime or Runtime.auto()
    model = rt.model(model).eval()  # type: ignore[assignment]
    if size % model.multiple:
        raise HideseekError(f"model input size {size} is not a multiple of {model.multiple}")
    loader: DataLoader[_Item] = DataLoader(_InferenceImages(paths, size), batch_size=batch_size,
                                           num_workers=workers, collate_fn=_collate)
    with torch.inference_mode():
        for batch in progress(loader, desc=desc, total=len(loader), unit="batch"):
            tensors = [b.tensor for b in batch if b.tensor is not None]
            probs: Iterator[torch.Tensor] = iter(
                lung_probability(model, rt.batch(torch.stack(tensors)), rt, tta=tta)
                if tensors else [])
            for item in batch:
                if item.tensor is None:
                    yield item.index, ImageReadError(paths[item.index], item.error)
                    continue
                side = max(item.shape)
                full = F.interpolate(next(probs)[None], size=(side, side),
                                     mode="bilinear", align_corners=False)[0, 0].cpu().numpy()
                yield item.index, unpad(full, item.pad, item.shape)


def predict_masks(paths: list[Path], model: UNet, size: int, batch_size: int = 8,
                  workers: int = 2, runtime: Runtime | None = None,
                  desc: str = "segment", *, tta: bool = False
                  ) -> Iterator[tuple[int, np.ndarray]]:
    """Raw lung masks at each image's own resolution, in input order: the probabilities of
    :func:`predict_probabilities` at 0.5 (the argmax of the two classes).

    Yields:
        (index into ``paths``, boolean mask with the image's shape).

    Raises:
        ImageReadError: An image cannot be read (one line naming the file).
    """
    for i, prob in predict_probabilities(paths, model, size, batch_size, workers, runtime,
                                         desc, tta=tta):
        if isinstance(prob, ImageReadError):
            raise prob
        yield i, prob >= 0.5


def _flag(value: bool | None) -> str:
    return "" if value is None else str(int(value))


def _row(record: Record, regions: LungRegions, qc: MaskQC) -> dict[str, Any]:
    row: dict[str, Any] = {"filename": record.filename, "mask": mask_name(record.filename),
                           "lung_area_fraction": f"{regions.area_fraction:.5f}",
                           "n_components": regions.n_components,
                           "empty": int(regions.empty), "one_lung": int(regions.one_lung),
                           "implausible_area": int(regions.implausible_area)}
    for k, box in enumerate(regions.boxes[:2], start=1):
        for name, v in zip(("x0", "y0", "x1", "y1"), box, strict=True):
            row[f"box{k}_{name}"] = v
    for k, aspect in enumerate(qc.aspects[:2], start=1):
        row[f"box{k}_aspect"] = f"{aspect:.3f}"
    reasons = (["no lung found"] if regions.empty else []) + (
        [f"area {regions.area_fraction:.3f} outside the plausible range"]
        if regions.implausible_area else []) + list(qc.reasons)
    row.update({"raw_components": qc.raw_components,
                "confidence": "" if np.isnan(qc.confidence) else f"{qc.confidence:.4f}",
                "implausible_shape": _flag(qc.implausible_shape),
                "many_components": int(qc.many_components),
                "low_confidence": int(qc.low_confidence), "unreadable": 0,
                "flagged": int(regions.bad or qc.flagged), "reason": "; ".join(reasons)})
    return row


def _unreadable_row(record: Record, error: ImageReadError) -> dict[str, Any]:
    row: dict[str, Any] = {c: "" for c in REGION_COLUMNS}
    row.update({"filename": record.filename, "lung_area_fraction": "", "n_components": 0,
                "empty": 0, "one_lung": 0, "implausible_area": 0, "many_components": 0,
                "low_confidence": 0, "unreadable": 1, "flagged": 1,
                "reason": f"unreadable: {error.reason}"})
    return row


def read_regions(path: str | Path) -> dict[str, dict[str, str]]:
    """Rows of a ``regions.csv`` by image file name."""
    with Path(path).open(newline="") as fh:
        return {r["filename"]: r for r in csv.DictReader(fh)}


def _ranges(qc_ranges: ShapeRanges | Mapping[str, Any] | None) -> ShapeRanges | None:
    if qc_ranges is None or isinstance(qc_ranges, ShapeRanges):
        return qc_ranges
    return ShapeRanges.from_dict(qc_ranges)


def predict_dataset(data: CXRDataset, out: str | Path, model: UNet, size: int,
                    batch_size: int = 8, workers: int = 2,
                    runtime: Runtime | None = None, *, tta: bool = False,
                    qc_ranges: ShapeRanges | Mapping[str, Any] | None = None
                    ) -> dict[str, int]:
    """Segment every image of ``data``; write ``out/masks/`` and ``out/regions.csv``.

    ``tta``: test-time augmentation (see :func:`predict_probabilities`). ``qc_ranges``: the
    model's training shape ranges (``meta["qc_ranges"]`` of
    :func:`~hideseek.segmentation.load_segmenter`); without them ``implausible_shape`` is left
    empty. An image that cannot be read gets a row flagged ``unreadable`` with the reason and no
    mask; the run goes on.

    Interrupted runs resume: finished images are listed in ``out/regions.partial.csv`` and
    skipped on the next call (an unreadable image is tried again).

    Returns:
        Counts: images, skipped (already done), and the images flagged empty, one_lung,
        implausible_area, implausible_shape, many_components, low_confidence, unreadable,
        flagged (any flag but one_lung).
    """
    ranges = _ranges(qc_ranges)
    if ranges is None:
        log.warning("the segmentation model carries no lung shape ranges: 'implausible_shape' "
                    "is not judged (regions.csv leaves it empty)")
    out = Path(out)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    partial = out / "regions.partial.csv"
    done = _finished_rows(out)
    todo = [r for r in data.records if r.filename not in done
            or not (out / "masks" / mask_name(r.filename)).exists()]
    new_file = not partial.exists()
    with partial.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=REGION_COLUMNS)
        if new_file:
            writer.writeheader()
        paths = [data.image_path(r) for r in todo]
        for i, prob in predict_probabilities(paths, model, size, batch_size, workers, runtime,
                                             desc="segment predict", tta=tta):
            if isinstance(prob, ImageReadError):
                row = _unreadable_row(todo[i], prob)
            else:
                raw = prob >= 0.5
                regions = postprocess_mask(raw)
                write_png(out / "masks" / mask_name(todo[i].filename), regions.mask)
                row = _row(todo[i], regions, assess_prediction(prob, raw, regions, ranges))
            writer.writerow(row)
            done[todo[i].filename] = {k: str(v) for k, v in row.items()}
            fh.flush()
    rows = [done[r.filename] for r in data.records]
    with (out / "regions.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=REGION_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in REGION_COLUMNS})
    partial.unlink()
    return _counts(rows, skipped=len(data.records) - len(todo))


def _finished_rows(out: Path) -> dict[str, dict[str, str]]:
    """Rows of an interrupted run (``regions.partial.csv``), else of a finished one."""
    partial = out / "regions.partial.csv"
    done = read_regions(partial) if partial.exists() else {}
    if (out / "regions.csv").exists() and not done:
        done = read_regions(out / "regions.csv")
    return done


def _counts(rows: list[dict[str, str]], skipped: int) -> dict[str, int]:
    """``predict_dataset``'s counts of images and flags, with a warning for the worst ones."""
    counts = {"images": len(rows), "skipped": skipped}
    for flag in _COUNTED:
        counts[flag] = sum(int(r.get(flag) or 0) for r in rows)
    if counts["empty"]:
        log.warning("%d image(s) with no lung found (flagged 'empty' in regions.csv)",
                    counts["empty"])
    if counts["unreadable"]:
        log.warning("%d image(s) could not be read (flagged 'unreadable' in regions.csv, no "
                    "mask written)", counts["unreadable"])
    return counts


def evaluate_masks(pairs: Iterator[tuple[str, np.ndarray, np.ndarray]]) -> Any:
    """Table-2 report from (name, predicted mask, true mask) triples."""
    from hideseek.segmentation.metrics import SegmentationReport

    report = SegmentationReport()
    for name, pred, truth in pairs:
        if pred.shape != truth.shape:
            raise HideseekError(f"{name}: predicted mask {pred.shape} and true mask "
                                f"{truth.shape} differ in size")
        report.add(name, pred, truth)
    return report
