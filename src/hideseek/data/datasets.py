"""PyTorch datasets for classification and segmentation on top of the preprocessing cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from hideseek.data.cache import PreprocessCache
from hideseek.data.io import image_shape
from hideseek.data.manifest import CXRDataset, Record
from hideseek.data.masks import find_mask
from hideseek.data.preprocess import Preprocess
from hideseek.errors import DataError
from hideseek.task import COVID_TASK, Task

__all__ = ["ClassificationDataset", "PairTransform", "SegmentationDataset", "label_target"]

#: Maps a preprocessed (image, lung mask) pair to the image the model sees.
PairTransform = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: Tensor-level augmentation applied last (training only).
TensorTransform = Callable[[torch.Tensor], torch.Tensor]


def label_target(record: Record, task: Task) -> Any:
    """The training target of a record: the class index (multiclass), or a float vector over
    the findings - 1 positive, 0 negative, NaN uncertain (multi-label).

    Raises:
        DataError: A label the task does not know.
    """
    if not task.multilabel:
        if record.label not in task.classes:
            raise DataError(f"{record.filename}: label {record.label!r} is not a class of the "
                            f"task ({', '.join(task.classes)})")
        return task.index(record.label or "")
    vec = np.zeros(task.n_classes, dtype=np.float32)
    for f in record.findings:
        vec[task.index(f)] = 1.0
    for f in record.uncertain:
        vec[task.index(f)] = np.nan
    return vec


class ClassificationDataset(Dataset[tuple[torch.Tensor, Any]]):
    """Images and labels of a :class:`CXRDataset`, preprocessed once and cached.

    Args:
        data: The dataset (usually one split of it).
        preprocess: Crop / square / resize parameters.
        cache_dir: Folder of the preprocessing cache; None decodes every time.
        pair_transform: Applied to (image, lung mask) after preprocessing, e.g. a ROI
            Hide-and-Seek representation; needs ``masks_dir``.
        masks_dir: Folder of lung masks named like the images (defaults to the dataset's own).
        transform: Tensor augmentation applied last.
        target: ``label`` (the task's class index; a findings vector for a multi-label task:
            :func:`label_target`) or ``source`` (index into :attr:`classes`).
        originals: File names shown unchanged (no ``pair_transform``): the ``keep-original``
            bad-mask policy.
        classes: With ``target="source"``, the class order (a model's sources; default: the
            sources of ``data``, sorted); a source outside it gets target -1.
    """

    def __init__(self, data: CXRDataset, preprocess: Preprocess | None = None,
                 cache_dir: str | Path | None = None, pair_transform: PairTransform | None = None,
                 masks_dir: str | Path | None = None, transform: TensorTransform | None = None,
                 target: str = "label", originals: set[str] | None = None, *,
                 classes: list[str] | None = None) -> None:
        self.data = data
        self.records: list[Record] = list(data.records)
        self.cache = PreprocessCache(preprocess or Preprocess(), cache_dir)
        self.pair_transform = pair_transform
        self.masks_dir = Path(masks_dir) if masks_dir is not None else data.masks_dir
        self.transform = transform
        self.originals = originals or set()
        if pair_transform is not None and self.masks_dir is None:
            raise DataError(f"{data.root}: this representation needs lung masks (--masks DIR)")
        self.multilabel = False
        if target == "label":
            unlabelled = [r.filename for r in self.records if r.label is None]
            if unlabelled:
                raise DataError(f"{data.root}: {len(unlabelled)} image(s) have no label, "
                                f"e.g. {unlabelled[0]}")
            task = data.task or COVID_TASK
            self.classes: list[str] = list(task.classes)
            self.multilabel = task.multilabel
            self.targets = [label_target(r, task) for r in self.records]
        elif target == "source":
            self.classes = list(classes or sorted({r.source for r in self.records}))
            self.targets = [self.classes.index(r.source) if r.source in self.classes else -1
                            for r in self.records]
        else:
            raise ValueError(f"target must be 'label' or 'source', got {target!r}")

    def __len__(self) -> int:
        return len(self.records)

    def mask(self, index: int) -> np.ndarray:
        """The preprocessed lung mask of item ``index``."""
        if self.masks_dir is None:
            raise DataError(f"{self.data.root}: no lung masks for this dataset")
        record = self.records[index]
        path = find_mask(self.masks_dir, record.filename)
        if path is None:
            raise DataError(f"{self.masks_dir / record.filename}: lung mask missing for image "
                            f"{record.filename}")
        return self.cache.mask(path, image_shape(self.data.image_path(record)))

    def array(self, index: int) -> np.ndarray:
        """Item ``index`` as the model sees it before augmentation (float32, H x W)."""
        record = self.records[index]
        image = self.cache.image(self.data.image_path(record))
        if self.pair_transform is not None and record.filename not in self.originals:
            image = self.pair_transform(image, self.mask(index))
        return image

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        x = torch.from_numpy(np.ascontiguousarray(self.array(index)))[None]
        if self.transform is not None:
            x = self.transform(x)
        y = self.targets[index]
        return x, torch.from_numpy(y) if self.multilabel else y


class SegmentationDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Image / lung-mask pairs, padded to square and resized (the segmentation recipe).

    Args:
        data: A dataset with ``masks/``.
        size: Model input side.
        cache_dir: Preprocessing cache folder.
        transform: Joint augmentation of the (1 x H x W image, H x W long mask) pair.
    """

    def __init__(self, data: CXRDataset, size: int = 256, cache_dir: str | Path | None = None,
                 transform: Callable[[torch.Tensor, torch.Tensor],
                                     tuple[torch.Tensor, torch.Tensor]] | None = None) -> None:
        if not data.has_masks:
            raise DataError(f"{data.root}: a segmentation dataset needs a masks/ folder")
        found = {r.key: data.mask_path(r) for r in data.records}
        missing = [r for r in data.records if found[r.key] is None]
        if missing:
            raise DataError(f"{data.masks_folder(missing[0])}: {len(missing)} mask(s) missing, "
                            "e.g. " + ", ".join(r.filename for r in missing[:5]))
        self.data = data
        self.records = list(data.records)
        self.mask_paths = {key: path for key, path in found.items() if path is not None}
        self.cache = PreprocessCache(Preprocess(size=size, crop_top=0.0, square="pad"), cache_dir)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        record = self.records[index]
        image_path = self.data.image_path(record)
        image = self.cache.image(image_path)
        mask = self.cache.mask(self.mask_paths[record.key], image_shape(image_path))
        x = torch.from_numpy(image)[None]
        y = torch.from_numpy(mask.astype(np.int64))
        if self.transform is not None:
            x, y = self.transform(x, y)
        return x, y
