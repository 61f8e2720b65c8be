"""``hideseek segment train``: U-Net training with validation Dice selection and resume."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch.utils.data import DataLoader, WeightedRandomSampler

from hideseek.data.cache import default_cache_dir
from hideseek.data.datasets import SegmentationDataset
from hideseek.data.io import image_shape, read_mask
from hideseek.data.manifest import CXRDataset, Record, write_manifest
from hideseek.data.split import assign_splits
from hideseek.engine import (
    EngineConfig,
    TrainTask,
    claim_run_dir,
    convergence,
    epoch_seed,
    lr_schedule,
    run_training,
)
from hideseek.errors import HideseekError
from hideseek.jsonio import to_json, write_json
from hideseek.runtime import Runtime, seed_everything
from hideseek.segmentation.augment import ExposureAugment, JointAugment, OpacityAugment
from hideseek.segmentation.checkpoint import save_segmenter
from hideseek.segmentation.config import SegTrainConfig, load_seg_config
from hideseek.segmentation.metrics import dice
from hideseek.segmentation.qc import measure_ranges
from hideseek.segmentation.unet import UNet, UNetConfig

__all__ = ["SegTrainConfig", "load_seg_config", "sampling_weights", "split_collections",
           "train_segmenter", "training_ranges"]

log = logging.getLogger(__name__)

#: Seed stride of the segmentation epochs (kept from the first release: same runs).
_SEED_STRIDE = 100_003
#: Strength of ``elastic_augment`` (grid units; about 2% of the side, as 10 px at 512 px in the
#: U-Net paper).
ELASTIC_STRENGTH = 0.04


def _soft_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    prob = logits.float().softmax(1)[:, 1]
    t = target.float()
    inter = (prob * t).sum(dim=(1, 2))
    return (1 - (2 * inter + 1) / (prob.sum(dim=(1, 2)) + t.sum(dim=(1, 2)) + 1)).mean()


@torch.no_grad()
def _val_dice(model: torch.nn.Module, loader: DataLoader[Any], rt: Runtime,
              collections: list[str]) -> float:
    """Mean validation Dice; with several collections the mean of their means (each counts the
    same, whatever its size)."""
    model.eval()
    scores = []
    for x, y in loader:
        with rt.autocast():
            pred = model(rt.batch(x)).argmax(1).cpu().numpy()
        scores += [dice(p, t) for p, t in zip(pred, y.numpy(), strict=True)]
    if not scores:
        return float("nan")
    per: dict[str, list[float]] = {}
    for c, d in zip(collections, scores, strict=True):
        per.setdefault(c, []).append(d)
    return float(np.mean([np.mean(v) for v in per.values()]))


def sampling_weights(records: list[Record], config: SegTrainConfig) -> list[float] | None:
    """Per-image sampling weights of a training set; None: every image once per epoch.

    Each collection (:attr:`Record.collection`) gets a share of the draws by
    ``config.collection_sampling`` times ``config.collection_weights``, spread evenly over its
    images.

    Raises:
        HideseekError: A weight names no collection of the data.
    """
    counts = Counter(r.collection for r in records)
    unknown = sorted(set(config.collection_weights) - set(counts))
    if unknown:
        raise HideseekError(f"collection_weights: unknown collection(s) {', '.join(unknown)} "
                            f"(the data has: {', '.join(sorted(counts)) or 'one dataset'})")
    if len(counts) < 2 and config.samples_per_epoch is None:
        return None
    mass = {"proportional": lambda n: float(n), "sqrt": lambda n: float(np.sqrt(n)),
            "balanced": lambda n: 1.0}[config.collection_sampling]
    share = {c: mass(n) * config.collection_weights.get(c, 1.0) for c, n in counts.items()}
    return [share[r.collection] / counts[r.collection] for r in records]


def _build_model(config: SegTrainConfig, rt: Runtime) -> UNet:
    model = UNet(UNetConfig(depth=config.depth, base=config.base, batch_norm=config.batch_norm))
    if config.image_size % model.multiple:
        raise HideseekError(f"image size {config.image_size} must be a multiple of "
                            f"{model.multiple} for depth {config.depth}")
    rt.model(model)  # moves parameters in place
    if config.init:
        from hideseek.segmentation.checkpoint import load_segmenter

        init_model, _, _ = load_segmenter(config.init)
        if getattr(init_model, "config", None) != model.config:
            raise HideseekError(f"{config.init}: U-Net layout "
                                f"{getattr(init_model, 'config', type(init_model).__name__)} "
                                f"differs from the configured {model.config}")
        model.load_state_dict(init_model.state_dict())
    return model


def _task(config: SegTrainConfig, model: UNet, train: SegmentationDataset,
          val: SegmentationDataset, rt: Runtime, qc_ranges: dict[str, Any]) -> TrainTask:
    """What is specific to the U-Net: joint augmentation, CE + Dice loss, validation Dice."""
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    val_loader = DataLoader(val, batch_size=config.batch_size, num_workers=config.workers)
    val_collections = [r.collection for r in val.records]
    weights = sampling_weights(train.records, config)
    n_draws = config.samples_per_epoch or len(train)

    def batches(epoch: int) -> DataLoader[Any]:
        gen = torch.Generator().manual_seed(epoch_seed(config.seed, epoch, _SEED_STRIDE))
        exposure = ExposureAugment(generator=gen) if config.exposure_augment else None
        opacity = OpacityAugment(generator=gen) if config.opacity_augment else None
        train.transform = JointAugment(generator=gen, exposure=exposure,
                                       elastic=ELASTIC_STRENGTH if config.elastic_augment
                                       else 0.0, opacity=opacity) if config.augment else None
        drop_last = n_draws > config.batch_size
        if weights is None:
            return DataLoader(train, batch_size=config.batch_size, shuffle=True, generator=gen,
                              num_workers=config.workers, drop_last=drop_last)
        sampler = WeightedRandomSampler(weights, n_draws, replacement=True, generator=gen)
        return DataLoader(train, batch_size=config.batch_size, sampler=sampler,
                          num_workers=config.workers, drop_last=drop_last)

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        value = F.cross_entropy(logits.float(), y)
        return value + config.dice_weight * _soft_dice_loss(logits, y) if config.dice_weight \
            else value

    def save_best(path: Path, epoch: int, scores: dict[str, float]) -> None:
        save_segmenter(path, model, config.image_size, epoch=epoch, val_dice=scores["val_dice"],
                       seed=config.seed, qc_ranges=qc_ranges)

    return TrainTask(model=model, optimizer=opt, batches=batches, loss=loss,
                     validate=lambda m: {"val_dice": _val_dice(m, val_loader, rt,
                                                               val_collections)},
                     score=lambda s: s["val_dice"], save_best=save_best,
                     before_epoch=lr_schedule(config.schedule, opt, config.lr, config.epochs),
                     describe=lambda r: f"loss {r['train_loss']:.4f} val Dice {r['val_dice']:.4f}")


def split_collections(records: list[Record], fractions: tuple[float, float, float],
                      seed: int) -> list[Record]:
    """Patient-grouped splits made per collection (each keeps its share of validation images;
    patient ids of different datasets are never taken for one patient); order kept."""
    by: dict[str, list[Record]] = {}
    for r in records:
        by.setdefault(r.collection, []).append(r)
    split = {r.key: r for c in by for r in assign_splits(by[c], fractions, seed=seed)}
    return [split[r.key] for r in records]


def training_ranges(train: SegmentationDataset) -> dict[str, Any]:
    """The lung shape ranges of the training masks at their own resolution (stored as
    ``meta["qc_ranges"]`` in every checkpoint: ``segment predict`` flags shapes outside them).
    """
    data = train.data
    masks = (read_mask(train.mask_paths[r.key], image_shape(data.image_path(r)))
             for r in train.records)
    return measure_ranges(masks).to_dict()


def _write_config(out: Path, config: SegTrainConfig, rt: Runtime, n_train: int,
                  n_val: int) -> None:
    values = config.model_dump(mode="json")
    write_json(out / "config.json", {**values, "runtime": asdict(rt),
                                     "n_train": n_train, "n_val": n_val})
    (out / "config.yaml").write_text(yaml.safe_dump(values, sort_keys=False))


def train_segmenter(data: CXRDataset, out: str | Path, config: SegTrainConfig,
                    resume: bool = False, runtime: Runtime | None = None,
                    cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Train a U-Net; writes ``last.pt`` every epoch (dropped once finished unless
    ``config.keep_state``), ``best.pt`` (best validation Dice),
    ``metrics.csv``, ``config.json``, ``config.yaml`` (loadable with ``--config``),
    ``splits.csv`` and ``train.json`` to ``out``.

    Args:
        data: A dataset with ``masks/``.
        out: Output folder.
        config: Training settings.
        resume: Continue from ``out/last.pt``; the result equals an uninterrupted run.
        runtime: Device and precision (auto when None).
        cache_dir: Preprocessing cache (default: the user cache).

    Returns:
        A summary: best epoch, best validation Dice, epochs, epochs run, early stopping, seconds,
        and the convergence record (:func:`~hideseek.engine.convergence`; a warning when the
        validation Dice was still rising at the end).
    """
    rt = runtime or Runtime.auto()
    cache = default_cache_dir() if cache_dir is None else cache_dir
    out = claim_run_dir(out, resume)
    seed_everything(config.seed)
    records = split_collections(data.records, config.split, config.seed)
    write_manifest(out / "splits.csv", records)
    train = SegmentationDataset(data.with_records([r for r in records if r.split == "train"]),
                                config.image_size, cache)
    val = SegmentationDataset(data.with_records([r for r in records if r.split == "val"]),
                              config.image_size, cache)
    if len(train) == 0 or len(val) == 0:
        raise HideseekError(f"{data.root}: too few patients for a train/val split "
                            f"({len(train)} train, {len(val)} val images)")
    sizes = Counter(r.collection for r in train.records)
    if len(sizes) > 1:
        log.info("training on %d collections: %s (sampling %s)", len(sizes),
                 ", ".join(f"{c} {n}" for c, n in sizes.items()), config.collection_sampling)
    _write_config(out, config, rt, len(train), len(val))
    model = _build_model(config, rt)
    ecfg = EngineConfig(epochs=config.epochs, seed=config.seed, seed_stride=_SEED_STRIDE,
                        patience=config.patience, min_delta=config.min_delta,
                        compile=config.compile, keep_state=config.keep_state,
                        desc="segment train")
    ranges = training_ranges(train)
    res = run_training(out, _task(config, model, train, val, rt, ranges), ecfg, rt,
                       resume=resume)
    summary = {"best_epoch": res.best_epoch, "best_val_dice": res.best_score,
               "epochs": config.epochs, "seconds": res.seconds, "n_train": len(train),
               "n_val": len(val), "epochs_run": res.epochs_run,
               "early_stopping": res.early_stopping(ecfg)}
    conv = convergence(res.history, "val_dice", config.epochs, res.best_epoch,
                       res.stopped_early_at)
    if conv.still_improving:
        log.warning("%s: %s: train longer (a higher --epochs, or --keep-state and --resume)",
                    out, conv.reason)
    summary["convergence"] = to_json(conv)
    write_json(out / "train.json", summary)
    return summary
