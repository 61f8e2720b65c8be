"""``hideseek train``: one classifier on one representation, selected on validation data only."""

from __future__ import annotations

import logging
import math
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
from hideseek.classification.stats import roc_auc
from hideseek.data.cache import default_cache_dir
from hideseek.data.datasets import ClassificationDataset
from hideseek.data.manifest import CXRDataset, Record, retask, write_manifest
from hideseek.data.split import assign_splits, split_warnings
from hideseek.engine import (
    EngineConfig,
    TrainResult,
    TrainTask,
    claim_run_dir,
    convergence,
    epoch_seed,
    lr_schedule,
    run_training,
)
from hideseek.errors import HideseekError
from hideseek.jsonio import to_json, write_json
from hideseek.models.architectures import Classifier, build_model, check_input_size
from hideseek.progress import progress
from hideseek.runtime import Runtime, seed_everything
from hideseek.task import Task

__all__ = ["predict_proba", "train_classifier"]

log = logging.getLogger(__name__)


def _multilabel_weights(targets: list[np.ndarray]) -> list[float]:
    """Each image drawn in proportion to 1 / the count of its rarest positive finding (images
    without a finding: 1 / their count), so rare findings are seen as often as common ones."""
    y = np.nan_to_num(np.vstack(targets), nan=0.0) > 0
    counts = y.sum(0)
    none = max(1, int((~y.any(1)).sum()))
    rare = np.where(y, 1.0 / np.maximum(counts, 1), 0.0).max(1)
    return [float(r) if r > 0 else 1.0 / none for r in rare]


def _sample_weights(targets: list[Any], cfg: TrainConfig, task: Task | None) -> list[float]:
    """Per-image sampling weights of the training set (``cfg.sampler``)."""
    if task is not None and task.multilabel and cfg.target == "label":
        return _multilabel_weights(targets)
    counts = Counter(targets)
    primary = cfg.sampler in ("primary_fraction", "covid_fraction") and cfg.target == "label"
    if primary and task is not None and task.primary is not None:
        p = task.index(task.primary)
        others = [c for c in counts if c != p]
        share = {c: (1 - cfg.fraction_of_primary) / max(1, len(others)) for c in others}
        share[p] = cfg.fraction_of_primary
        return [share.get(t, 0.0) / counts[t] for t in targets]
    if primary:
        raise HideseekError(f"sampler {cfg.sampler}: the task has no primary class (declare "
                            "one: task: {classes: [...], primary: NAME})")
    return [1.0 / counts[t] for t in targets]


class _Shard(Sampler[int]):
    """Indices drawn once per epoch by an inner sampler, split across DDP ranks."""

    def __init__(self, inner: Sampler[int], size: int, rank: int, world: int) -> None:
        self.inner, self.size, self.rank, self.world = inner, size, rank, world

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.inner)[self.rank :: self.world])

    def __len__(self) -> int:
        return len(range(self.rank, self.size, self.world))


def _loader(ds: ClassificationDataset, cfg: TrainConfig, task: Task | None, epoch: int,
            rank: int = 0, world: int = 1) -> DataLoader[Any]:
    gen = torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch))
    targets = ds.targets
    sampler: Sampler[int]
    if cfg.sampler == "shuffle":
        sampler = torch.utils.data.RandomSampler(range(len(targets)), generator=gen)
    else:
        weights = _sample_weights(targets, cfg, task)
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
                  batch_size: int = 32, workers: int = 0, desc: str = "predict",
                  multilabel: bool = False) -> np.ndarray:
    """Class probabilities (N x K) in dataset order: softmax, or per-finding sigmoids for a
    multi-label model."""
    model.eval()
    loader = DataLoader(ds, batch_size=batch_size, num_workers=workers)
    out = []
    for x, _ in progress(loader, desc=desc, total=len(loader), unit="batch"):
        with runtime.autocast():
            logits = model(runtime.batch(x)).float()
        out.append((logits.sigmoid() if multilabel else logits.softmax(1)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def masked_bce(logits: torch.Tensor, y: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Multi-label loss: binary cross-entropy per finding, weighted per finding, with uncertain
    (NaN) targets left out."""
    known = ~torch.isnan(y)
    loss = F.binary_cross_entropy_with_logits(logits.float(), torch.nan_to_num(y.float()),
                                              reduction="none") * weights
    return (loss * known).sum() / known.sum().clamp_min(1)


def _val_scores(prob: np.ndarray, y: np.ndarray, weights: torch.Tensor,
                multilabel: bool = False) -> dict[str, float]:
    if multilabel:
        logit = torch.logit(torch.from_numpy(prob).clamp(1e-6, 1 - 1e-6))
        loss = float(masked_bce(logit, torch.from_numpy(y), weights))
        aucs = [roc_auc(prob[ok, k], y[ok, k] > 0) for k in range(y.shape[1])
                for ok in [~np.isnan(y[:, k])]]
        auc = float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")
        return {"val_loss": loss, "val_auc": auc}
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
    task: Task | None


def training_task(data: CXRDataset, cfg: TrainConfig) -> tuple[CXRDataset, Task | None]:
    """The task a run trains (the config's, else the data's) and the data read as it.

    Raises:
        HideseekError: The data has labels the declared task does not know.
    """
    declared = cfg.declared_task()
    if cfg.target != "label":
        return data, declared or data.task
    if declared is not None:
        return retask(data, declared), declared
    if data.task is None:
        raise HideseekError(f"{data.root}: no labels to train on")
    return data, data.task


def _datasets(data: CXRDataset, cfg: TrainConfig, masks_dir: str | Path | None,
              cache: str | Path, on_bad_mask: str) -> _Splits:
    if cfg.representation != "data" and masks_dir is None:
        raise HideseekError(f"representation {cfg.representation} needs lung masks (--masks DIR)")
    mdir = Path(masks_dir) if masks_dir else None
    data, task = training_task(data, cfg)
    records, originals = usable_records(data, mdir, on_bad_mask)
    records = assign_splits(records, cfg.split, seed=cfg.effective_split_seed,
                            multilabel=task is not None and task.multilabel
                            and cfg.target == "label")
    by_split = {s: [r for r in records if r.split == s] for s in ("train", "val", "test")}
    if not by_split["train"] or not by_split["val"]:
        raise HideseekError(f"{data.root}: too few patients for train and validation splits")
    train_ds = representation_dataset(data, by_split["train"], cfg, mdir, cache, True,
                                      originals=originals)
    val_ds = representation_dataset(data, by_split["val"], cfg, mdir, cache, False,
                                    originals=originals, classes=train_ds.classes
                                    if cfg.target == "source" else None)
    return _Splits(records, by_split, train_ds, val_ds, task)


def _loss_weights(cfg: TrainConfig, sp: _Splits) -> torch.Tensor:
    n_classes = len(sp.train.classes)
    if cfg.target != "label" or sp.task is None:
        return torch.ones(n_classes)
    try:
        return torch.tensor(cfg.loss_weights(sp.task), dtype=torch.float32)
    except ValueError as exc:
        raise HideseekError(f"training config: {exc}") from exc


def _task(cfg: TrainConfig, sp: _Splits, model: Classifier, rt: Runtime, world: tuple[int, int],
          ) -> TrainTask:
    """Everything that is specific to classifiers: sampler, weighted loss, validation."""
    classes = sp.train.classes
    multilabel = sp.train.multilabel
    weights = _loss_weights(cfg, sp)
    y_val = np.array(sp.val.targets)
    keep = np.ones(len(y_val), dtype=bool) if multilabel else y_val >= 0
    task_json = sp.task.to_json() if sp.task is not None and cfg.target == "label" else None

    def validate(m: torch.nn.Module) -> dict[str, float]:
        prob = predict_proba(m, sp.val, rt, batch_size=max(cfg.batch_size, 16),
                             workers=cfg.workers, desc="validate", multilabel=multilabel)
        return _val_scores(prob[keep], y_val[keep], weights, multilabel)

    def save_best(path: Path, epoch: int, scores: dict[str, float]) -> None:
        save_classifier(path, model, classes, cfg.model_dump(mode="json"), epoch=epoch,
                        val=scores, seed=cfg.seed, task=task_json)

    dev_weights = weights.to(rt.device)

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if multilabel:
            return masked_bce(logits, y, dev_weights)
        return F.cross_entropy(logits.float(), y, weight=dev_weights)

    metric = _select_key(cfg.select_metric, multilabel)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return TrainTask(
        model=model, optimizer=opt,
        before_epoch=lr_schedule(cfg.lr_schedule, opt, cfg.lr, cfg.epochs),
        batches=lambda epoch: _loader(sp.train, cfg, sp.task, epoch, *world),
        loss=loss, validate=validate, score=lambda s: _selection_score(s, metric),
        save_best=save_best,
        describe=lambda row: (f"loss {row['train_loss']:.4f}, " + (
            f"val loss {row['val_loss']:.4f}" if metric == "loss" else
            f"val {metric} {row[f'val_{metric}']:.3f}, val loss {row['val_loss']:.4f}")))


def _select_key(metric: str, multilabel: bool) -> str:
    """The validation key that selects: macro AUC stands in for (balanced) accuracy on a
    multi-label task; accuracy stands in for AUC on a multiclass one."""
    if multilabel and metric in ("accuracy", "balanced_accuracy"):
        return "auc"
    if not multilabel and metric == "auc":
        return "balanced_accuracy"
    return metric


def _selection_score(scores: dict[str, float], metric: str) -> float:
    return -scores["val_loss"] if metric == "loss" else scores[f"val_{metric}"]


def _summary(cfg: TrainConfig, sp: _Splits, model: Classifier, data: CXRDataset, rt: Runtime,
             ecfg: EngineConfig, res: TrainResult) -> dict[str, Any]:
    return {"rank": ecfg.rank, "arch": cfg.arch, "representation": cfg.representation,
            "seed": cfg.seed,
            "best_epoch": res.best_epoch, "best_val": res.best_score,
            "select_metric": cfg.select_metric,
            "classes": sp.train.classes,
            "task": sp.task.to_json() if sp.task is not None and cfg.target == "label" else None,
            "class_weights": _loss_weights(cfg, sp).tolist(),
            "n": {k: len(v) for k, v in sp.by_split.items()},
            "excluded_bad_masks": len(data.records) - len(sp.records),
            "init": model.init,
            "seconds": res.seconds, "train_images_per_s": res.images_per_s,
            "runtime": {"device": rt.device, "amp": rt.amp,
                        "channels_last": rt.channels_last, "world_size": ecfg.world_size,
                        "compile": ecfg.compile},
            "epochs_run": res.epochs_run, "early_stopping": res.early_stopping(ecfg),
            "convergence": to_json(convergence(
                res.history, f"val_{_select_key(cfg.select_metric, sp.train.multilabel)}",
                ecfg.epochs, res.best_epoch, res.stopped_early_at,
                chance_loss=None if sp.train.multilabel else math.log(len(sp.train.classes)))),
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
    check_input_size(model, cfg.arch, cfg.image_size)
    rt.model(model)
    min_epochs, smooth = cfg.stopping()
    if cfg.patience is not None and cfg.patience < 3:
        log.warning("early stopping with patience %d can stop a model that is still learning; "
                    "it is held off until epoch %d and judged on a %d-epoch mean", cfg.patience,
                    min_epochs, smooth)
    ecfg = EngineConfig(epochs=cfg.epochs, seed=cfg.seed, patience=cfg.patience,
                        min_delta=cfg.min_delta, min_epochs=min_epochs, smooth=smooth,
                        compile=cfg.compile,
                        checkpoint_every=cfg.checkpoint_every, keep_state=cfg.keep_state,
                        desc=f"train {cfg.arch}/{cfg.representation}", rank=rank,
                        world_size=world_size)
    res = run_training(out, _task(cfg, sp, model, rt, (rank, world_size)), ecfg, rt,
                       resume=resume)
    summary = _summary(cfg, sp, model, data, rt, ecfg, res)
    if rank == 0:
        write_json(out / "train.json", summary)
    return summary
