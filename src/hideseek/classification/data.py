"""Datasets of one representation for classification, with the bad-mask policy applied."""

from __future__ import annotations

import logging
from pathlib import Path

from hideseek.classification.augment import CXRAugment
from hideseek.classification.config import TrainConfig
from hideseek.data.datasets import ClassificationDataset, PairTransform
from hideseek.data.manifest import CXRDataset, Record
from hideseek.data.preprocess import Preprocess
from hideseek.representations.masks import apply_policy, assess_masks, resolve_masks_dir
from hideseek.representations.transforms import Representation

__all__ = ["representation_dataset", "usable_records"]

log = logging.getLogger(__name__)


def usable_records(data: CXRDataset, masks_dir: Path | None,
                   policy: str = "exclude") -> tuple[list[Record], set[str]]:
    """Records usable with these masks (the bad-mask policy), the same for every representation,
    so that test sets stay paired image for image.

    Returns:
        The records and the names whose versions are the original image (``keep-original``).
    """
    if masks_dir is None:
        return list(data.records), set()
    infos = assess_masks(data, resolve_masks_dir(masks_dir))
    records, originals = apply_policy(list(data.records), infos, policy)
    dropped = len(data.records) - len(records)
    if dropped:
        log.warning("%d image(s) left out for a bad lung mask (policy %s), in every "
                    "representation", dropped, policy)
    return records, originals


def representation_dataset(data: CXRDataset, records: list[Record], config: TrainConfig,
                           masks_dir: Path | None, cache_dir: str | Path | None, train: bool,
                           representation: str | None = None,
                           originals: set[str] | None = None, *, square: str = "crop",
                           pair_transform: PairTransform | None = None,
                           classes: list[str] | None = None) -> ClassificationDataset:
    """A dataset of ``records`` in one representation (the config's by default).

    Args:
        square: ``crop`` (the classification recipe) or ``pad`` to a square (a foreign
            model's input, e.g. TorchXRayVision's).
        pair_transform: Replaces the representation (the audit's matched controls).
        classes: The model's class order, for a source probe (``target="source"``).
    """
    rep = representation or config.representation
    # guard=1: the images are resized before masking; a 1-pixel rim keeps the hidden region's
    # content from leaking through interpolated border pixels.
    pair = pair_transform
    if pair is None and rep != "data":
        pair = Representation(rep, config.fill, config.box_margin, guard=1)
    return ClassificationDataset(
        data.with_records(records),
        Preprocess(size=config.image_size, crop_top=config.crop_top, square=square),
        cache_dir=cache_dir,
        pair_transform=pair,
        masks_dir=None if masks_dir is None else resolve_masks_dir(masks_dir),
        transform=CXRAugment(config.augment) if train and config.augment.enabled else None,
        target=config.target,
        originals=originals,
        classes=classes,
    )
