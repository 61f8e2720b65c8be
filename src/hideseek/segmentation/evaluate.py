"""``hideseek segment eval``: predicted masks (a model's or a folder's) against the true ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hideseek.data.io import image_shape, read_mask
from hideseek.data.manifest import CXRDataset, Record
from hideseek.data.masks import find_mask
from hideseek.errors import HideseekError
from hideseek.runtime import Runtime
from hideseek.segmentation.metrics import SegmentationReport

__all__ = ["MaskEvaluation", "evaluate_segmentation"]

Pairs = Iterator[tuple[str, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class MaskEvaluation:
    """The Table-2 report and the mean lung Dice per label (``-``: no label)."""

    report: SegmentationReport
    per_label_dice: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``segment eval --json`` (the report's keys plus ``per_label_dice``)."""
        return {**self.report.to_dict(), "per_label_dice": self.per_label_dice}

    def format(self) -> str:
        """The report as text, with the per-label Dice line."""
        per_label = ", ".join(f"{k} {v:.3f}" for k, v in self.per_label_dice.items())
        return f"{self.report.format()}\nmean lung Dice per label: {per_label}"


def _truth(data: CXRDataset, record: Record) -> Path:
    path = data.mask_path(record)
    if path is None:
        raise HideseekError(f"{data.masks_folder(record)}: no true lung mask for "
                            f"{record.filename}")
    return path


def _folder_pairs(data: CXRDataset, masks: str | Path) -> Pairs:
    for r in data.records:
        shape = image_shape(data.image_path(r))
        pred_path = find_mask(masks, r.filename) or Path(masks) / r.filename
        yield r.key, read_mask(pred_path, shape), read_mask(_truth(data, r), shape)


def _model_pairs(data: CXRDataset, model_path: str | Path, raw: bool,
                 batch_size: int, workers: int, runtime: Runtime | None,
                 tta: bool = False) -> Pairs:
    from hideseek.segmentation import load_segmenter, predict_masks
    from hideseek.segmentation.postprocess import postprocess_mask

    records: list[Record] = data.records
    model, size, _ = load_segmenter(model_path)
    paths = [data.image_path(r) for r in records]
    for i, pred in predict_masks(paths, model, size, batch_size, workers,
                                 runtime or Runtime.auto(), desc="segment eval", tta=tta):
        r = records[i]
        yield r.key, pred if raw else postprocess_mask(pred).mask, read_mask(_truth(data, r),
                                                                            pred.shape)


def evaluate_segmentation(data: CXRDataset, model: str | Path | None = None,
                          masks: str | Path | None = None, *, raw: bool = False,
                          batch_size: int = 8, workers: int = 2,
                          runtime: Runtime | None = None, tta: bool = False) -> MaskEvaluation:
    """Score a segmentation model, or a folder of predicted masks, on ``data``'s true masks.

    Args:
        data: A pack with a ``masks/`` folder of true lung masks.
        model: A segmentation checkpoint (``default``: the shipped model); or
        masks: A folder of predicted masks (exactly one of the two).
        raw: Skip the post-processing of the model's masks.
        tta: Test-time augmentation of the model's predictions (flip, scale, gamma views).

    Raises:
        HideseekError: No true masks, or not exactly one of ``model`` and ``masks``.
    """
    from hideseek.segmentation.predict import evaluate_masks

    if not data.has_masks:
        raise HideseekError(f"{data.root}: no masks/ folder with the true lung masks")
    if (model is None) == (masks is None):
        raise HideseekError("give exactly one of --model M or --masks DIR")
    pairs = (_folder_pairs(data, masks) if masks is not None else _model_pairs(
        data, model or "default", raw, batch_size, workers, runtime, tta))
    report: SegmentationReport = evaluate_masks(pairs)
    labels = {r.key: r.label or "-" for r in data.records}
    per_label: dict[str, list[float]] = {}
    for name, d in report.per_image.items():
        per_label.setdefault(labels[name], []).append(d)
    return MaskEvaluation(report, {k: sum(v) / len(v) for k, v in sorted(per_label.items())})
