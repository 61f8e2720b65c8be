"""Learning-rate schedules set once per epoch (so a resumed run gets the same rates)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    import torch

__all__ = ["SCHEDULES", "Schedule", "epoch_lr", "lr_schedule"]

Schedule = Literal["constant", "cosine"]
#: The schedules :func:`lr_schedule` knows.
SCHEDULES: tuple[str, ...] = get_args(Schedule)


def epoch_lr(kind: str, lr: float, epoch: int, epochs: int, floor: float = 0.01) -> float:
    """The learning rate of 0-based ``epoch``.

    Args:
        kind: ``constant`` or ``cosine`` (from ``lr`` down to ``floor * lr`` at the last epoch's
            end, half a cosine).
        lr: The base rate.
        epoch: 0-based epoch.
        epochs: Planned epochs (early stopping may end sooner).
        floor: The cosine's lowest rate as a fraction of ``lr``.
    """
    if kind == "constant":
        return lr
    if kind != "cosine":
        raise ValueError(f"unknown lr schedule {kind!r}; choose from {', '.join(SCHEDULES)}")
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * epoch / max(epochs, 1))))


def lr_schedule(kind: str, optimizer: torch.optim.Optimizer, lr: float,
                epochs: int) -> Callable[[int], None]:
    """A ``TrainTask.before_epoch`` that sets every parameter group's rate for the epoch."""
    epoch_lr(kind, lr, 0, epochs)  # refuse an unknown kind now, not at the first epoch

    def before_epoch(epoch: int) -> None:
        for group in optimizer.param_groups:
            group["lr"] = epoch_lr(kind, lr, epoch, epochs)

    return before_epoch
