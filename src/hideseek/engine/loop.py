"""The epoch loop shared by every trainer (classifiers, the U-Net, anything registered later).

A caller builds a :class:`TrainTask` holding what differs between models (the data of an epoch,
the loss, the validation metric, how to save the selected model) and calls :func:`run_training`,
which does the rest the same way for all: seeding per (seed, epoch), AMP / bf16 /
channels_last through :class:`~hideseek.runtime.Runtime`, DistributedDataParallel with the
rank and world size given by the caller, optional ``torch.compile``, validation on rank 0,
best-on-validation selection (``best.pt``), a versioned atomic ``last.pt`` every epoch, exact
resume, early stopping and ``metrics.csv`` / TensorBoard. A finished run records its result in
``finished.json`` and drops ``last.pt`` (optimizer state: as large again as the weights)
unless ``EngineConfig.keep_state``; a resume of it reports it and trains nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from hideseek.engine.checkpoint import (
    FINISHED_NAME,
    STATE_KIND,
    STATE_NAME,
    atomic_save,
    load_training_state,
)
from hideseek.engine.metrics import MetricsLog
from hideseek.engine.stopping import EarlyStopping
from hideseek.errors import HideseekError
from hideseek.progress import progress
from hideseek.runtime import Runtime

__all__ = ["EngineConfig", "TrainResult", "TrainTask", "epoch_seed", "run_training"]

log = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, torch.Tensor]
Forward = Callable[[torch.Tensor], torch.Tensor]


def epoch_seed(seed: int, epoch: int, stride: int = 1_000_003) -> int:
    """The seed of everything random in one epoch (0-based): resuming at any epoch is exact."""
    return seed * stride + epoch


@dataclass(frozen=True)
class EngineConfig:
    """How the engine runs (the same for every model).

    Attributes:
        epochs: Maximum number of epochs.
        seed: Run seed; each epoch reseeds torch with :func:`epoch_seed`.
        seed_stride: Multiplier of the seed in :func:`epoch_seed`.
        patience: Early stopping: epochs without validation improvement; None: never stop.
        min_delta: Early stopping: least score increase that counts as an improvement.
        min_epochs: Early stopping never stops before this epoch.
        smooth: Epochs averaged into the score that early stopping watches and the best
            checkpoint is selected on (1: each epoch's own score).
        compile: Train through ``torch.compile`` (validation runs the plain module).
        checkpoint_every: Write ``last.pt`` every this many epochs (and, with ``keep_state``,
            after the last one or an early stop). A resume repeats the epochs since, with the
            same result (each epoch is seeded); more than 1 saves time only where an epoch is
            shorter than writing the state (tiny models and images).
        desc: Progress bar and log prefix.
        rank: This process's rank (from :func:`~hideseek.engine.init_distributed`).
        world_size: Number of processes; > 1 wraps the model in DistributedDataParallel.
        tensorboard: Also log to ``out/tensorboard`` when TensorBoard is installed.
        keep_state: Keep ``last.pt`` once training has finished (to train it longer later);
            by default a finished run keeps ``best.pt``, ``finished.json`` and its logs only.
    """

    epochs: int
    seed: int = 0
    seed_stride: int = 1_000_003
    patience: int | None = None
    min_delta: float = 0.0
    min_epochs: int = 0
    smooth: int = 1
    compile: bool = False
    checkpoint_every: int = 1
    desc: str = "train"
    rank: int = 0
    world_size: int = 1
    tensorboard: bool = True
    keep_state: bool = False

    def __post_init__(self) -> None:
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")


@dataclass
class TrainTask:
    """What differs between trainers.

    Attributes:
        model: The network (already on the runtime's device and memory format).
        optimizer: Its optimizer.
        batches: The training batches of an epoch (0-based), drawn from that epoch's seed.
        loss: Loss of a batch from (logits, targets).
        validate: Validation scores of the model, e.g. ``{"val_loss": ..., "val_dice": ...}``.
        score: The selection score of those scores (higher is better).
        save_best: Saves the model selected at (path, 1-based epoch, scores).
        before_epoch: Called with the 0-based epoch before it trains (e.g. an lr schedule).
        describe: One log line of an epoch's row.
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    batches: Callable[[int], Iterable[Batch]]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    validate: Callable[[torch.nn.Module], dict[str, float]]
    score: Callable[[dict[str, float]], float]
    save_best: Callable[[Path, int, dict[str, float]], None]
    before_epoch: Callable[[int], None] | None = None
    describe: Callable[[dict[str, float]], str] | None = None


@dataclass
class TrainResult:
    """The outcome of :func:`run_training` (cumulative over resumed runs for the history)."""

    best_epoch: int = -1
    best_score: float = -float("inf")
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early_at: int | None = None
    seconds: float = 0.0
    images: int = 0

    @property
    def epochs_run(self) -> int:
        """Epochs trained in total (resumed ones included)."""
        return len(self.history)

    @property
    def images_per_s(self) -> float | None:
        """Training throughput of this call."""
        return self.images / self.seconds if self.seconds else None

    def early_stopping(self, cfg: EngineConfig) -> dict[str, Any]:
        """The early-stopping record for ``train.json``."""
        return {"patience": cfg.patience, "min_delta": cfg.min_delta,
                "stopped_early": self.stopped_early_at is not None,
                "stopped_at_epoch": self.stopped_early_at, "max_epochs": cfg.epochs}


@dataclass
class _Loop:
    task: TrainTask
    cfg: EngineConfig
    rt: Runtime
    out: Path
    net: Forward
    scaler: torch.amp.GradScaler
    stopper: EarlyStopping
    result: TrainResult


def _forward(task: TrainTask, cfg: EngineConfig, rt: Runtime) -> Forward:
    net: torch.nn.Module = task.model
    if cfg.world_size > 1:
        ids = [torch.device(rt.device).index] if rt.device.startswith("cuda") else None
        net = torch.nn.parallel.DistributedDataParallel(task.model, device_ids=ids)
    if cfg.compile:
        return cast(Forward, torch.compile(net))
    return cast(Forward, net)


def _restore(loop: _Loop, path: Path) -> int:
    """Load ``last.pt`` into the loop; returns the first epoch (0-based) still to train."""
    state = load_training_state(path)
    loop.task.model.load_state_dict(state["model"])
    loop.task.optimizer.load_state_dict(state["optimizer"])
    if state.get("scaler"):
        loop.scaler.load_state_dict(state["scaler"])
    r = loop.result
    r.best_score, r.best_epoch = float(state["best"]), int(state["best_epoch"])
    r.history = list(state["history"])
    loop.stopper.load_state_dict(state.get("stopping", {"reference": r.best_score}))
    r.stopped_early_at = loop.stopper.stopped_at
    log.info("%s: resuming at epoch %d (best epoch %d)", loop.cfg.desc, int(state["epoch"]) + 2,
             r.best_epoch)
    return int(state["epoch"]) + 1


def _train_epoch(loop: _Loop, epoch: int) -> float:
    task, rt, cfg = loop.task, loop.rt, loop.cfg
    torch.manual_seed(epoch_seed(cfg.seed, epoch, cfg.seed_stride))
    if task.before_epoch is not None:
        task.before_epoch(epoch)
    task.model.train()
    losses: list[float] = []
    batches = task.batches(epoch)
    bar = progress(batches, desc=f"{cfg.desc} epoch {epoch + 1}/{cfg.epochs}",
                   total=len(batches) if isinstance(batches, Sized) else None, unit="batch")
    for x, y in bar:
        x, y = rt.batch(x), y.to(rt.device)
        with rt.autocast():
            logits = loop.net(x)
        loss = task.loss(logits, y)
        task.optimizer.zero_grad(set_to_none=True)
        loop.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        loop.scaler.step(task.optimizer)
        loop.scaler.update()
        losses.append(loss.item())
        loop.result.images += len(y)
        bar.set_postfix(loss=f"{np.mean(losses):.4f}")
    return float(np.mean(losses)) if losses else float("nan")


def _end_epoch(loop: _Loop, epoch: int, train_loss: float) -> bool:
    """Validate, select, checkpoint (rank 0); True when early stopping says stop."""
    task, r = loop.task, loop.result
    scores = task.validate(task.model)
    row = {"epoch": epoch + 1, "train_loss": train_loss, **scores}
    r.history.append(row)
    score = loop.stopper.smooth(task.score(scores))
    if loop.cfg.smooth > 1:
        row["smoothed_score"] = score
    if score > r.best_score:
        r.best_score, r.best_epoch = score, epoch + 1
        task.save_best(loop.out / "best.pt", epoch + 1, scores)
    stop = loop.stopper.update(epoch + 1, score)
    r.stopped_early_at = loop.stopper.stopped_at
    detail = task.describe(row) if task.describe else f"train loss {train_loss:.4f}"
    log.info("%s epoch %d/%d: %s (best epoch %d)%s", loop.cfg.desc, epoch + 1, loop.cfg.epochs,
             detail, r.best_epoch, "; stopping early" if stop else "")
    final = stop or epoch + 1 == loop.cfg.epochs
    if final and not loop.cfg.keep_state:
        pass  # finished: _finish drops the state instead of writing it
    elif final or (epoch + 1) % loop.cfg.checkpoint_every == 0:
        _save_state(loop, epoch)
    return stop


def _save_state(loop: _Loop, epoch: int) -> None:
    """``last.pt``: everything a resume needs after 0-based ``epoch``."""
    task, r = loop.task, loop.result
    atomic_save(loop.out / STATE_NAME, {
        "kind": STATE_KIND, "model": task.model.state_dict(),
        "optimizer": task.optimizer.state_dict(), "scaler": loop.scaler.state_dict(),
        "epoch": epoch, "best": r.best_score, "best_epoch": r.best_epoch, "history": r.history,
        "stopping": loop.stopper.state_dict(), "stopped_early_at": r.stopped_early_at})


def _finish(out: Path, cfg: EngineConfig, r: TrainResult) -> None:
    """Record the finished run (``finished.json``, strict JSON) and, unless ``keep_state``,
    drop ``last.pt``: a finished run keeps the weights it is used by (``best.pt``)."""
    from hideseek.jsonio import write_json

    tmp = out / f".{FINISHED_NAME}.tmp"
    write_json(tmp, {"epochs": cfg.epochs, "epochs_run": r.epochs_run,
                     "best_epoch": r.best_epoch, "best_score": r.best_score,
                     "stopped_early_at": r.stopped_early_at, "history": r.history,
                     "state_kept": cfg.keep_state})
    tmp.replace(out / FINISHED_NAME)
    if not cfg.keep_state:
        (out / STATE_NAME).unlink(missing_ok=True)


def _finished_result(out: Path, cfg: EngineConfig) -> TrainResult | None:
    """The result of the finished run in ``out`` when it needs no more training; None when
    it can train on from ``last.pt`` (``cfg.epochs`` raised and the state kept).

    Raises:
        HideseekError: More epochs are asked of a run whose state was dropped.
    """
    import json

    path = out / FINISHED_NAME
    try:
        done = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HideseekError(f"{path}: unreadable record of a finished run ({exc})") from exc

    def number(v: Any, empty: float = float("nan")) -> Any:
        return empty if v is None else v  # NaN was written as null

    history = [{k: number(v) for k, v in row.items()} for row in done.get("history", [])]
    r = TrainResult(best_epoch=int(done.get("best_epoch", -1)),
                    best_score=float(number(done.get("best_score"), -float("inf"))),
                    history=history, stopped_early_at=done.get("stopped_early_at"))
    if r.stopped_early_at is not None or r.epochs_run >= cfg.epochs:
        log.info("%s: %s already finished (%d epochs, best epoch %d); nothing to train",
                 cfg.desc, out, r.epochs_run, r.best_epoch)
        return r
    if (out / STATE_NAME).is_file():
        return None
    raise HideseekError(f"{out}: the run finished after {r.epochs_run} epochs and its resumable "
                        f"state was dropped, so it cannot train to {cfg.epochs}; train afresh "
                        "in another folder (keep the state with --keep-state to extend a run)")


def _agree(loop: _Loop, stop: bool) -> bool:
    """Every rank learns rank 0's stopping decision."""
    if loop.cfg.world_size <= 1 or loop.cfg.patience is None:
        return stop
    flag = torch.tensor([int(stop)], device=loop.rt.device)
    torch.distributed.broadcast(flag, src=0)
    return bool(flag.item())


def run_training(out: str | Path, task: TrainTask, cfg: EngineConfig, runtime: Runtime,
                 resume: bool = False) -> TrainResult:
    """Train ``task.model`` for up to ``cfg.epochs`` epochs in ``out``.

    Rank 0 validates after every epoch, writes ``best.pt`` (via ``task.save_best``) when the
    score improves, ``last.pt`` (versioned, atomic) and ``metrics.csv``. With ``resume`` and
    a ``last.pt`` in ``out``, training continues where it stopped and ends with the same
    weights and history as an uninterrupted run. Once finished, rank 0 writes
    ``finished.json`` and drops ``last.pt`` (unless ``cfg.keep_state``); a resume of a
    finished run returns its result and trains nothing.

    Returns:
        Best epoch and score, the history, the early-stopping epoch, timing.

    Raises:
        HideseekError: A resume asks more epochs of a finished run whose state was dropped.
    """
    out = Path(out)
    if resume and (out / FINISHED_NAME).is_file():
        done = _finished_result(out, cfg)
        if done is not None:
            return done
    loop = _Loop(task, cfg, runtime, out, _forward(task, cfg, runtime), runtime.grad_scaler(),
                 EarlyStopping(cfg.patience, cfg.min_delta, cfg.min_epochs, cfg.smooth),
                 TrainResult())
    start = _restore(loop, out / STATE_NAME) if resume and (out / STATE_NAME).exists() else 0
    main = cfg.rank == 0
    if main:
        (out / FINISHED_NAME).unlink(missing_ok=True)  # training again: not finished until done
    metrics = MetricsLog(out, cfg.tensorboard) if main else None
    t0 = time.perf_counter()
    try:
        for epoch in range(start, cfg.epochs):
            if loop.result.stopped_early_at is not None:
                break
            train_loss = _train_epoch(loop, epoch)
            stop = _end_epoch(loop, epoch, train_loss) if main else False
            if metrics is not None:
                metrics.write(loop.result.history)
            if _agree(loop, stop):
                break
    finally:
        if metrics is not None:
            metrics.close()
    loop.result.seconds = time.perf_counter() - t0
    if main:
        _finish(out, cfg, loop.result)
    return loop.result
