"""Whole-dataset lung segmentation: batched, parallel decoding, post-processing, resumable."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
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
from hideseek.errors import HideseekError
from hideseek.progress import progress
from hideseek.runtime import Runtime
from hideseek.segmentation.postprocess import LungRegions, postprocess_mask
from hideseek.segmentation.tta import lung_probability
from hideseek.segmentation.unet import UNet

__all__ = ["REGION_COLUMNS", "mask_name", "predict_dataset", "predict_masks", "read_regions"]

log = logging.getLogger(__name__)

REGION_COLUMNS = ["filename", "mask", "lung_area_fraction", "n_components",
                  "box1_x0", "box1_y0", "box1_x1", "box1_y1",
                  "box2_x0", "box2_y0", "box2_x1", "box2_y1",
                  "empty", "one_lung", "implausible_area"]


@dataclass
class _Item:
    index: int
    tensor: torch.Tensor
    shape: tuple[int, int]
    pad: tuple[int, int]


class _InferenceImages(Dataset[_Item]):
    def __init__(self, paths: list[Path], size: int) -> None:
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> _Item:
        image = read_image(self.paths[i])
        square, pad = pad_to_square(image)
        return _Item(i, torch.from_numpy(resize(square, self.size))[None], image.shape, pad)


def _collate(items: list[_Item]) -> list[_Item]:
    return items


def predict_masks(paths: list[Path], model: UNet, size: int, batch_size: int = 8,
                  workers: int = 2, runtime: Runtime | None = None,
                  desc: str = "segment", *, tta: bool = False
                  ) -> Iterator[tuple[int, np.ndarray]]:
    """Raw lung masks at each image's own resolution, in input order.

    Pad to square, resize to ``size``, argmax of the upsampled class probabilities, remove the
    padding. Decoding runs in ``workers`` processes while the model runs. ``tta`` averages the
    probabilities of flipped, rescaled and re-exposed views
    (:func:`~hideseek.segmentation.tta.lung_probability`).

    Yields:
        (index into ``paths``, boolean mask with the image's shape).
    """
    rt = runtime or Runtime.auto()
    model = rt.model(model).eval()  # type: ignore[assignment]
    if size % model.multiple:
        raise HideseekError(f"model input size {size} is not a multiple of {model.multiple}")
    loader: DataLoader[_Item] = DataLoader(_InferenceImages(paths, size), batch_size=batch_size,
                                           num_workers=workers, collate_fn=_collate)
    with torch.inference_mode():
        for batch in progress(loader, desc=desc, total=len(loader), unit="batch"):
            x = rt.batch(torch.stack([b.tensor for b in batch]))
            prob = lung_probability(model, x, rt, tta=tta)
            for item, p in zip(batch, prob, strict=True):
                side = max(item.shape)
                full = F.interpolate(p[None], size=(side, side), mode="bilinear",
                                     align_corners=False)[0, 0].cpu().numpy()
                yield item.index, unpad(full >= 0.5, item.pad, item.shape)


def _row(record: Record, regions: LungRegions) -> dict[str, Any]:
    row: dict[str, Any] = {"filename": record.filename, "mask": mask_name(record.filename),
                           "lung_area_fraction": f"{regions.area_fraction:.5f}",
                           "n_components": regions.n_components,
                           "empty": int(regions.empty), "one_lung": int(regions.one_lung),
                           "implausible_area": int(regions.implausible_area)}
    for k, box in enumerate(regions.boxes[:2], start=1):
        for name, v in zip(("x0", "y0", "x1", "y1"), box, strict=True):
            row[f"box{k}_{name}"] = v
    return row


def read_regions(path: str | Path) -> dict[str, dict[str, str]]:
    """Rows of a ``regions.csv`` by image file name."""
    with Path(path).open(newline="") as fh:
        return {r["filename"]: r for r in csv.DictReader(fh)}


def predict_dataset(data: CXRDataset, out: str | Path, model: UNet, size: int,
                    batch_size: int = 8, workers: int = 2,
                    runtime: Runtime | None = None, *, tta: bool = False) -> dict[str, int]:
    """Segment every image of ``data``; write ``out/masks/`` and ``out/regions.csv``.

    ``tta``: test-time augmentation (see :func:`predict_masks`).

    Interrupted runs resume: finished images are listed in ``out/regions.partial.csv`` and
    skipped on the next call.

    Returns:
        Counts: images, empty, one_lung, implausible_area, skipped (already done).
    """
    out = Path(out)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    partial = out / "regions.partial.csv"
    done = read_regions(partial) if partial.exists() else {}
    if (out / "regions.csv").exists() and not done:
        done = read_regions(out / "regions.csv")
    todo = [r for r in data.records if r.filename not in done
            or not (out / "masks" / mask_name(r.filename)).exists()]
    new_file = not partial.exists()
    with partial.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=REGION_COLUMNS)
        if new_file:
            writer.writeheader()
        paths = [data.image_path(r) for r in todo]
        for i, raw in predict_masks(paths, model, size, batch_size, workers, runtime,
                                    desc="segment predict", tta=tta):
            regions = postprocess_mask(raw)
            write_png(out / "masks" / mask_name(todo[i].filename), regions.mask)
            row = _row(todo[i], regions)
            writer.writerow(row)
            done[todo[i].filename] = {k: str(v) for k, v in row.items()}
            fh.flush()
    with (out / "regions.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=REGION_COLUMNS)
        writer.writeheader()
        for r in data.records:
            writer.writerow(done[r.filename])
    partial.unlink()
    rows = [done[r.filename] for r in data.records]
    counts = {"images": len(rows), "skipped": len(data.records) - len(todo)}
    for flag in ("empty", "one_lung", "implausible_area"):
        counts[flag] = sum(int(r[flag]) for r in rows)
    if counts["empty"]:
        log.warning("%d image(s) with no lung found (flagged 'empty' in regions.csv)",
                    counts["empty"])
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
