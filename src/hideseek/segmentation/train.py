"""``hideseek segment train``: U-Net training with validation Dice selection and resume."""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from hideseek.data.cache import default_cache_dir
from hideseek.data.datasets import SegmentationDataset
from hideseek.data.manifest import CXRDataset, write_manifest
from hideseek.data.split import assign_splits
from hideseek.errors import HideseekError
from hideseek.progress import progress
from hideseek.runtime import Runtime, seed_everything
from hideseek.segmentation.augment import JointAugment
from hideseek.segmentation.checkpoint import save_segmenter
from hideseek.segmentation.metrics import dice
from hideseek.segmentation.unet import UNet, UNetConfig

__all__ = ["SegTrainConfig", "train_segmenter"]

log = logging.getLogger(__name__)


@dataclass
class SegTrainConfig:
    """Segmentation training settings (defaults: a small U-Net that trains on a CPU).

    The paper's network is ``depth=5, base=64, batch_norm=False`` at 512 px, batch 1.
    """

    image_size: int = 256
    depth: int = 5
    base: int = 16
    batch_norm: bool = True
    epochs: int = 60
    batch_size: int = 4
    lr: float = 1e-4
    dice_weight: float = 1.0
    augment: bool = True
    seed: int = 0
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    workers: int = 0
    schedule: str = "constant"  # or "cosine": lr decays to 1% over the epochs
    init: str | None = None  # start from these U-Net weights (fine-tuning)


def _soft_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    prob = logits.float().softmax(1)[:, 1]
    t = target.float()
    inter = (prob * t).sum(dim=(1, 2))
    return (1 - (2 * inter + 1) / (prob.sum(dim=(1, 2)) + t.sum(dim=(1, 2)) + 1)).mean()


@torch.no_grad()
def _val_dice(model: UNet, loader: DataLoader[Any], rt: Runtime) -> float:
    model.eval()
    scores = []
    for x, y in loader:
        with rt.autocast():
            pred = model(rt.batch(x)).argmax(1).cpu().numpy()
        scores += [dice(p, t) for p, t in zip(pred, y.numpy(), strict=True)]
    return float(np.mean(scores)) if scores else float("nan")


def train_segmenter(data: CXRDataset, out: str | Path, config: SegTrainConfig,
                    resume: bool = False, runtime: Runtime | None = None,
                    cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Train a U-Net; writes ``last.pt`` every epoch, ``best.pt`` (best validation Dice),
    ``metrics.csv``, ``config.json`` and ``splits.csv`` to ``out``.

    Args:
        data: A dataset with ``masks/``.
        out: Output folder.
        config: Training settings.
        resume: Continue from ``out/last.pt``; the result equals an uninterrupted run.
        runtime: Device and precision (auto when None).
        cache_dir: Preprocessing cache (default: the user cache).

    Returns:
        A summary: best epoch, best validation Dice, epochs run, seconds.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rt = runtime or Runtime.auto()
    cache = default_cache_dir() if cache_dir is None else cache_dir
    last = out / "last.pt"
    if last.exists() and not resume:
        raise HideseekError(f"{out} already holds a training run; pass --resume to continue it "
                            "or choose another --out")
    seed_everything(config.seed)
    records = assign_splits(data.records, config.split, seed=config.seed)
    write_manifest(out / "splits.csv", records)
    train = SegmentationDataset(data.with_records([r for r in records if r.split == "train"]),
                                config.image_size, cache)
    val = SegmentationDataset(data.with_records([r for r in records if r.split == "val"]),
                              config.image_size, cache)
    if len(train) == 0 or len(val) == 0:
        raise HideseekError(f"{data.root}: too few patients for a train/val split "
                            f"({len(train)} train, {len(val)} val images)")
    (out / "config.json").write_text(json.dumps({**asdict(config), "runtime": asdict(rt),
                                                 "n_train": len(train), "n_val": len(val)},
                                                indent=2))
    model = UNet(UNetConfig(depth=config.depth, base=config.base, batch_norm=config.batch_norm))
    if config.image_size % model.multiple:
        raise HideseekError(f"image size {config.image_size} must be a multiple of "
                            f"{model.multiple} for depth {config.depth}")
    rt.model(model)  # moves parameters in place
    if config.init:
        from hideseek.segmentation.checkpoint import load_segmenter

        init_model, _, _ = load_segmenter(config.init)
        if init_model.config != model.config:
            raise HideseekError(f"{config.init}: U-Net layout {init_model.config} differs from "
                                f"the configured {model.config}")
        model.load_state_dict(init_model.state_dict())
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    scaler = rt.grad_scaler()
    start, best, best_epoch, history = 0, -1.0, -1, []
    if resume and last.exists():
        state = torch.load(last, map_location=rt.device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, best, best_epoch = state["epoch"] + 1, state["best"], state["best_epoch"]
        history = state["history"]
        log.info("resuming from epoch %d (best val Dice %.4f at epoch %d)", start, best,
                 best_epoch)
    val_loader = DataLoader(val, batch_size=config.batch_size, num_workers=config.workers)
    t0 = time.perf_counter()
    for epoch in range(start, config.epochs):
        if config.schedule == "cosine":
            for group in opt.param_groups:
                group["lr"] = config.lr * (0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * epoch
                                                                           / config.epochs)))
        # Everything random in an epoch derives from (seed, epoch): resuming is exact.
        gen = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        train.transform = JointAugment(generator=gen) if config.augment else None
        loader = DataLoader(train, batch_size=config.batch_size, shuffle=True, generator=gen,
                            num_workers=config.workers, drop_last=len(train) > config.batch_size)
        model.train()
        losses = []
        bar = progress(loader, desc=f"segment train epoch {epoch + 1}/{config.epochs}")
        for x, y in bar:
            x, y = rt.batch(x), y.to(rt.device)
            with rt.autocast():
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
            if config.dice_weight:
                loss = loss + config.dice_weight * _soft_dice_loss(logits, y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses):.4f}", best_dice=f"{best:.4f}")
        score = _val_dice(model, val_loader, rt)
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)),
                        "val_dice": score})
        if score > best:
            best, best_epoch = score, epoch + 1
            save_segmenter(out / "best.pt", model, config.image_size, epoch=epoch + 1,
                           val_dice=score, seed=config.seed)
        log.info("epoch %d/%d loss %.4f val Dice %.4f (best %.4f @ %d)", epoch + 1,
                 config.epochs, history[-1]["train_loss"], score, best, best_epoch)
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                    "best": best, "best_epoch": best_epoch, "history": history},
                   out / "last.tmp")
        (out / "last.tmp").replace(last)
        with (out / "metrics.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["epoch", "train_loss", "val_dice"])
            w.writeheader()
            w.writerows(history)
    return {"best_epoch": best_epoch, "best_val_dice": best, "epochs": config.epochs,
            "seconds": time.perf_counter() - t0, "n_train": len(train), "n_val": len(val)}
