"""``hideseek train``: one classifier on one representation, selected on validation data only."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
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
from hideseek.classification.models.registry import Classifier, build_model
from hideseek.data.cache import default_cache_dir
from hideseek.data.datasets import ClassificationDataset
from hideseek.data.labels import LABEL_INDEX
from hideseek.data.manifest import CXRDataset, Record, write_manifest
from hideseek.data.split import assign_splits, split_warnings
from hideseek.engine import (
    EngineConfig,
    TrainResult,
    TrainTask,
    claim_run_dir,
    epoch_seed,
    lr_schedule,
    run_training,
)
from hideseek.errors import HideseekError
from hideseek.jsonio import write_json
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
    gen = torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch))
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
    # A last batch of one image cannot be trained with batch norm: drop it (it only happens
    # then; the image is drawn again in a later epoch).
    lone = len(sampler) % cfg.batch_size == 1 and len(sampler) > 1
    return DataLoader(ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.workers,
                      generator=gen, drop_last=lone, persistent_workers=False)


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


def _versions() -> dict[str, str]:
    import torchvision

    from hideseek import __version__

    return {"hideseek": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__}


@dataclass
class _Splits:
    records: list[Record]
    by_split: dict[str, list[Record]]
    train: ClassificationDataset
    val: ClassificationDataset


def _datasets(data: CXRDataset, cfg: TrainConfig, masks_dir: str | Path | None,
              cache: str | Path, on_bad_mask: str) -> _Splits:
    if cfg.representation != "data" and masks_dir is None:
        raise HideseekError(f"representation {cfg.representation} needs lung masks (--masks DIR)")
    mdir = Path(masks_dir) if masks_dir else None
    records, originals = usable_records(data, mdir, on_bad_mask)
    records = assign_splits(records, cfg.split, seed=cfg.effective_split_seed)
    by_split = {s: [r for r in records if r.split == s] for s in ("train", "val", "test")}
    if not by_split["train"] or not by_split["val"]:
        raise HideseekError(f"{data.root}: too few patients for train and validation splits")
    train_ds = representation_dataset(data, by_split["train"], cfg, mdir, cache, True,
                                      originals=originals)
    val_ds = representation_dataset(data, by_split["val"], cfg, mdir, cache, False,
                                    originals=originals, classes=train_ds.classes
                                    if cfg.target == "source" else None)
    return _Splits(records, by_split, train_ds, val_ds)


def _task(cfg: TrainConfig, sp: _Splits, model: Classifier, rt: Runtime, world: tuple[int, int],
          ) -> TrainTask:
    """Everything that is specific to classifiers: sampler, weighted loss, validation."""
    classes, n_classes = sp.train.classes, len(sp.train.classes)
    weights = torch.tensor(cfg.class_weights if cfg.target == "label" and n_classes == 3
                           else [1.0] * n_classes, dtype=torch.float32)
    y_val = np.array(sp.val.targets)
    keep = y_val >= 0

    def validate(m: torch.nn.Module) -> dict[str, float]:
        prob = predict_proba(m, sp.val, rt, batch_size=max(cfg.batch_size, 16),
                             workers=cfg.workers, desc="validate")
        return _val_scores(prob[keep], y_val[keep], weights)

    def save_best(path: Path, epoch: int, scores: dict[str, float]) -> None:
        save_classifier(path, model, classes, cfg.model_dump(mode="json"), epoch=epoch,
                        val=scores, seed=cfg.seed)

    dev_weights = weights.to(rt.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return TrainTask(
        model=model, optimizer=opt,
        before_epoch=lr_schedule(cfg.lr_schedule, opt, cfg.lr, cfg.epochs),
        batches=lambda epoch: _loader(sp.train, cfg, n_classes, epoch, *world),
        loss=lambda logits, y: F.cross_entropy(logits.float(), y, weight=dev_weights),
        validate=validate, score=lambda s: _selection_score(s, cfg.select_metric),
        save_best=save_best,
        describe=lambda row: (f"loss {row['train_loss']:.4f}, val acc {row['val_accuracy']:.3f}, "
                              f"val loss {row['val_loss']:.4f}"))


def _selection_score(scores: dict[str, float], metric: str) -> float:
    return -scores["val_loss"] if metric == "loss" else scores[f"val_{metric}"]


def _summary(cfg: TrainConfig, sp: _Splits, model: Classifier, data: CXRDataset, rt: Runtime,
             ecfg: EngineConfig, res: TrainResult) -> dict[str, Any]:
    return {"rank": ecfg.rank, "arch": cfg.arch, "representation": cfg.representation,
            "seed": cfg.seed,
            "best_epoch": res.best_epoch, "best_val": res.best_score,
            "select_metric": cfg.select_metric,
            "classes": sp.train.classes, "n": {k: len(v) for k, v in sp.by_split.items()},
            "excluded_bad_masks": len(data.records) - len(sp.records),
            "init": model.init,
            "seconds": res.seconds, "train_images_per_s": res.images_per_s,
            "runtime": {"device": rt.device, "amp": rt.amp,
                        "channels_last": rt.channels_last, "world_size": ecfg.world_size,
                        "compile": ecfg.compile},
            "epochs_run": res.epochs_run, "early_stopping": res.early_stopping(ecfg),
            "versions": _versions()}


def train_classifier(data: CXRDataset, out: str | Path, cfg: TrainConfig,
                     masks_dir: str | Path | None = None, resume: bool = False,
                     runtime: Runtime | None = None, cache_dir: str | Path | None = None,
                     on_bad_mask: str = "exclude", rank: int = 0,
                     world_size: int = 1) -> dict[str, Any]:
    """Train one classifier; the test split is never looked at.

    Writes to ``out``: ``config.yaml`` (resolved), ``splits.csv`` (every image's split),
    ``metrics.csv`` (per epoch), ``last.pt`` (every epoch, for ``--resume``; dropped once
    finished unless ``cfg.keep_state``), ``best.pt`` (best validation score) and
    ``train.json`` (summary, seed, versions, early stopping). An empty or tiny test split is
    a warning (:func:`~hideseek.data.split.split_warnings`).
    Under ``torchrun`` the caller starts the process group
    (:func:`hideseek.engine.init_distributed`) and passes ``rank`` and ``world_size``: the
    model is wrapped in DistributedDataParallel and each rank trains on its share of every
    epoch's sample; rank 0 validates and writes.

    Returns:
        The summary written to ``train.json``.
    """
    rt = runtime or Runtime.auto(device=f"cuda:{rank % max(1, torch.cuda.device_count())}"
                                 if torch.cuda.is_available() else None)
    cache = default_cache_dir() if cache_dir is None else cache_dir
    out = claim_run_dir(out, resume)
    seed_everything(cfg.seed)
    sp = _datasets(data, cfg, masks_dir, cache, on_bad_mask)
    for warning in split_warnings(sp.records) if rank == 0 else ():
        log.warning("%s: %s", out, warning)
    if rank == 0:
        write_manifest(out / "splits.csv", sp.records)
        (out / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"),
                                                        sort_keys=False))
    model = build_model(cfg.arch, len(sp.train.classes), pretrained=cfg.pretrained)
    rt.model(model)
    ecfg = EngineConfig(epochs=cfg.epochs, seed=cfg.seed, patience=cfg.patience,
                        min_delta=cfg.min_delta, compile=cfg.compile,
                        checkpoint_every=cfg.checkpoint_every, keep_state=cfg.keep_state,
                        desc=f"train {cfg.arch}/{cfg.representation}", rank=rank,
                        world_size=world_size)
    res = run_training(out, _task(cfg, sp, model, rt, (rank, world_size)), ecfg, rt,
                       resume=resume)
    summary = _summary(cfg, sp, model, data, rt, ecfg, res)
    if rank == 0:
        write_json(out / "train.json", summary)
    return summary
