"""``hideseek train``: one classifier on one representation, selected on validation data only."""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch.utils.data import DataLoader, Dataset, Sampler, WeightedRandomSampler

from hideseek.classification.checkpoint import save_classifier
from hideseek.classification.config import TrainConfig
from hideseek.classification.data import representation_dataset, usable_records
from hideseek.classification.models.registry import build_model
from hideseek.data.cache import default_cache_dir
from hideseek.data.datasets import ClassificationDataset
from hideseek.data.labels import LABEL_INDEX
from hideseek.data.manifest import CXRDataset, write_manifest
from hideseek.data.split import assign_splits
from hideseek.errors import HideseekError
from hideseek.progress import progress
from hideseek.runtime import Runtime, seed_everything

__all__ = ["predict_proba", "train_classifier"]

log = logging.getLogger(__name__)


def _sample_weights(targets: list[int], cfg: TrainConfig, n_classes: int) -> list[float]:
    counts = Counter(targets)
    if cfg.sampler == "covid_fraction" and cfg.target == "label":
        covid = LABEL_INDEX["COVID-19"]
        others = [c for c in range(n_classes) if c != covid and counts[c]]
        share = {c: (1 - cfg.covid_fraction) / max(1, len(others)) for c in others}
        share[covid] = cfg.covid_fraction
        return [share.get(t, 0.0) / counts[t] for t in targets]
    return [1.0 / counts[t] for t in targets]


class _Shard(Sampler[int]):
    """Indices drawn once per epoch by an inner sampler, split across DDP ranks."""

    def __init__(self, inner: Sampler[int], size: int, rank: int, world: int) -> None:
        self.inner, self.size, self.rank, self.world = inner, size, rank, world

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.inner)[self.rank :: self.world])

    def __len__(self) -> int:
        return len(range(self.rank, self.size, self.world))


def _loader(ds: ClassificationDataset, cfg: TrainConfig, n_classes: int, epoch: int, rank: int = 0,
            world: int = 1) -> DataLoader[Any]:
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
    targets = ds.targets
    sampler: Sampler[int]
    if cfg.sampler == "shuffle":
        sampler = torch.utils.data.RandomSampler(range(len(targets)), generator=gen)
    else:
        weights = _sample_weights(targets, cfg, n_classes)
        sampler = WeightedRandomSampler(weights, num_samples=len(weights), replacement=True,
                                        generator=gen)
    if world > 1:
        sampler = _Shard(sampler, len(targets), rank, world)
    return DataLoader(ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.workers,
                      generator=gen, drop_last=False, persistent_workers=False)


@torch.no_grad()
def predict_proba(model: torch.nn.Module, ds: Dataset[Any], runtime: Runtime,
                  batch_size: int = 32, workers: int = 0, desc: str = "predict") -> np.ndarray:
    """Class probabilities (N x K) in dataset order."""
    model.eval()
    loader = DataLoader(ds, batch_size=batch_size, num_workers=workers)
    out = []
    for x, _ in progress(loader, desc=desc, total=len(loader), unit="batch"):
        with runtime.autocast():
            logits = model(runtime.batch(x))
        out.append(logits.float().softmax(1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def _val_scores(prob: np.ndarray, y: np.ndarray, weights: torch.Tensor) -> dict[str, float]:
    pred = prob.argmax(1)
    recalls = [float((pred[y == c] == c).mean()) for c in np.unique(y)]
    logp = torch.log(torch.from_numpy(prob).clamp_min(1e-8))
    loss = float(F.nll_loss(logp, torch.from_numpy(y), weight=weights))
    return {"val_loss": loss, "val_accuracy": float((pred == y).mean()),
            "val_balanced_accuracy": float(np.mean(recalls))}


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return (torch.distributed.get_rank() if world > 1 else 0), world


def _versions() -> dict[str, str]:
    import torchvision

    from hideseek import __version__

    return {"hideseek": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__}


def train_classifier(data: CXRDataset, out: str | Path, cfg: TrainConfig,
                     masks_dir: str | Path | None = None, resume: bool = False,
                     runtime: Runtime | None = None, cache_dir: str | Path | None = None,
                     on_bad_mask: str = "exclude") -> dict[str, Any]:
    """Train one classifier; the test split is never looked at.

    Writes to ``out``: ``config.yaml`` (resolved), ``splits.csv`` (every image's split),
    ``metrics.csv`` (per epoch), ``last.pt`` (every epoch, for ``--resume``), ``best.pt``
    (best validation score) and ``train.json`` (summary, seed, versions). Under ``torchrun``
    (``WORLD_SIZE`` > 1) the model is wrapped in DistributedDataParallel and each rank trains on
    its share of every epoch's sample; rank 0 validates and writes.

    Returns:
        The summary written to ``train.json``.
    """
    out = Path(out)
    rank, world = _distributed()
    rt = runtime or Runtime.auto(device=f"cuda:{rank % max(1, torch.cuda.device_count())}"
                                 if torch.cuda.is_available() else None)
    cache = default_cache_dir() if cache_dir is None else cache_dir
    last = out / "last.pt"
    if last.exists() and not resume:
        raise HideseekError(f"{out} already holds a training run; pass --resume to continue it "
                            "or choose another --out")
    if cfg.representation != "data" and masks_dir is None:
        raise HideseekError(f"representation {cfg.representation} needs lung masks (--masks DIR)")
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    records, originals = usable_records(data, Path(masks_dir) if masks_dir else None, on_bad_mask)
    records = assign_splits(records, cfg.split, seed=cfg.effective_split_seed)
    by_split = {s: [r for r in records if r.split == s] for s in ("train", "val", "test")}
    if not by_split["train"] or not by_split["val"]:
        raise HideseekError(f"{data.root}: too few patients for train and validation splits")
    mdir = Path(masks_dir) if masks_dir else None
    train_ds = representation_dataset(data, by_split["train"], cfg, mdir, cache, True,
                                      originals=originals)
    val_ds = representation_dataset(data, by_split["val"], cfg, mdir, cache, False,
                                    originals=originals)
    classes = train_ds.classes
    if cfg.target == "source":
        val_ds.classes, val_ds.targets = classes, [
            classes.index(r.source) if r.source in classes else -1 for r in val_ds.records]
    n_classes = len(classes)
    weights = torch.tensor(cfg.class_weights if cfg.target == "label" and n_classes == 3
                           else [1.0] * n_classes, dtype=torch.float32)
    if rank == 0:
        write_manifest(out / "splits.csv", records)
        (out / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"),
                                                        sort_keys=False))
    model = build_model(cfg.arch, n_classes, pretrained=cfg.pretrained)
    rt.model(model)
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[torch.device(rt.device).index] if rt.device.startswith("cuda")
            else None)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = rt.grad_scaler()
    start, best, best_epoch, history = 0, -float("inf"), -1, []
    if resume and last.exists():
        state = torch.load(last, map_location=rt.device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, best, best_epoch, history = (state["epoch"] + 1, state["best"],
                                            state["best_epoch"], state["history"])
        log.info("resuming at epoch %d", start + 1)
    y_val = np.array(val_ds.targets)
    t0 = time.perf_counter()
    seen = 0
    tb = None
    if rank == 0:
        try:
            from torch.utils.tensorboard import SummaryWriter

            tb = SummaryWriter(str(out / "tensorboard"))
        except ImportError:
            pass
    for epoch in range(start, cfg.epochs):
        torch.manual_seed(cfg.seed * 1_000_003 + epoch)  # augmentation stream of this epoch
        loader = _loader(train_ds, cfg, n_classes, epoch, rank, world)
        net.train()
        losses = []
        bar = progress(loader, desc=f"train {cfg.arch}/{cfg.representation} epoch "
                       f"{epoch + 1}/{cfg.epochs}", total=len(loader), unit="batch")
        for x, y in bar:
            x, y = rt.batch(x), y.to(rt.device)
            with rt.autocast():
                logits = net(x)
            loss = F.cross_entropy(logits.float(), y, weight=weights.to(rt.device))
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(loss.item())
            seen += len(y)
            bar.set_postfix(loss=f"{np.mean(losses):.4f}")
        if rank != 0:
            continue
        keep = y_val >= 0
        prob = predict_proba(model, val_ds, rt, batch_size=max(cfg.batch_size, 16),
                             workers=cfg.workers, desc="validate")
        scores = _val_scores(prob[keep], y_val[keep], weights)
        row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), **scores}
        history.append(row)
        score = -scores["val_loss"] if cfg.select_metric == "loss" else scores[
            f"val_{cfg.select_metric}"]
        if score > best:
            best, best_epoch = score, epoch + 1
            save_classifier(out / "best.pt", model, classes, cfg.model_dump(mode="json"),
                            epoch=epoch + 1, val=scores, seed=cfg.seed)
        log.info("%s/%s epoch %d/%d: loss %.4f, val acc %.3f, val loss %.4f (best epoch %d)",
                 cfg.arch, cfg.representation, epoch + 1, cfg.epochs, row["train_loss"],
                 scores["val_accuracy"], scores["val_loss"], best_epoch)
        if tb is not None:
            for k, v in row.items():
                if k != "epoch":
                    tb.add_scalar(k, v, epoch + 1)
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                    "best": best, "best_epoch": best_epoch, "history": history},
                   out / "last.tmp")
        (out / "last.tmp").replace(last)
        with (out / "metrics.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(history[0]))
            w.writeheader()
            w.writerows(history)
    seconds = time.perf_counter() - t0
    summary = {"rank": rank, "arch": cfg.arch, "representation": cfg.representation,
               "seed": cfg.seed,
               "best_epoch": best_epoch, "best_val": best, "select_metric": cfg.select_metric,
               "classes": classes, "n": {k: len(v) for k, v in by_split.items()},
               "excluded_bad_masks": len(data.records) - len(records),
               "init": model.init,
               "seconds": seconds, "train_images_per_s": seen / seconds if seconds else None,
               "runtime": {"device": rt.device, "amp": rt.amp,
                           "channels_last": rt.channels_last, "world_size": world},
               "versions": _versions()}
    if rank == 0:
        (out / "train.json").write_text(json.dumps(summary, indent=2))
    if tb is not None:
        tb.close()
    return summary
