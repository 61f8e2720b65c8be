"""Did a training run reach what its input allows? A record per run, read by the verdict.

A model stopped while it was still learning (or one whose validation score still rose at its
last epoch) has not shown what its input allows; the verdict's retained skill divides by the
original model's skill and compares hidden versions with it, so such a model biases it
(docs/VERDICTS.md, ``undertrained``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ACCURACY_RISE_SHARE", "CONFIDENT_LOSS_SHARE", "RISE_SHARE", "Convergence",
           "convergence"]

#: Still improving: the last epochs brought more than this share of the run's gain in the
#: (smoothed) validation score, and the last epoch is its best.
RISE_SHARE = 0.10
#: The same for the other validation curves (the loss beside an accuracy, the accuracy beside a
#: loss): a flat loss can hide an accuracy that still climbs (the model grows more confident on
#: what it gets wrong while it learns the rest), and a flat accuracy a loss that still falls; a
#: larger share, as accuracy on a small validation set moves in steps.
ACCURACY_RISE_SHARE = 0.25
_ACCURACY_KEYS = ("val_balanced_accuracy", "val_auc")
#: An accuracy or AUC within this of 1 at the last epoch has nothing left to gain: a curve that
#: climbed to its ceiling is not "still improving" however late it got there.
CEILING_MARGIN = 0.01
#: An accuracy or AUC whose (3-epoch mean) rise over the last epochs is under this is not
#: "still improving": a model at chance on a validation set of a few dozen images per class
#: moves its mean by 0.02-0.03 from noise alone (the demo's hidden-lung models on the fp32
#: path: 0.333 -> 0.344 and 0.328 -> 0.350 while they had nothing to learn).
MIN_ACCURACY_RISE = 0.05
#: A validation loss that still falls is not "still improving" when the balanced accuracy or
#: AUC beside it ends at its ceiling (:data:`CEILING_MARGIN`) and the loss itself ends (3-epoch
#: mean) under this share of the chance loss: the model gets every validation image right and
#: only grows more confident on them, which no number the verdict reads can show (the demo's
#: lungs model on the fp32 path: balanced accuracy 1.00, loss 0.021 -> 0.003 over its last
#: epochs, read as "11% of the run's gain" against a 10% share).
CONFIDENT_LOSS_SHARE = 0.1


@dataclass(frozen=True)
class Convergence:
    """The convergence record of one training run.

    Attributes:
        score: The validation score watched (``val_loss`` is read lower-is-better).
        curve: That score per epoch.
        train_loss: The training loss per epoch.
        epochs_run: Epochs trained.
        max_epochs: Epochs planned.
        best_epoch: The epoch of the selected checkpoint.
        stopped_early_at: The epoch early stopping ended the run, or None.
        still_improving: The run ended while the model was still learning (see ``reason``).
        reason: The evidence, in words.
    """

    score: str
    curve: list[float]
    train_loss: list[float]
    epochs_run: int
    max_epochs: int
    best_epoch: int
    stopped_early_at: int | None
    still_improving: bool
    reason: str


def _smooth(x: np.ndarray, window: int = 3) -> np.ndarray:
    """Trailing moving average (the first values over what exists)."""
    out = np.empty_like(x)
    for i in range(len(x)):
        part = x[max(0, i - window + 1): i + 1]
        part = part[np.isfinite(part)]
        out[i] = part.mean() if part.size else np.nan
    return out


def convergence(history: Sequence[dict[str, float]], score: str, max_epochs: int,
                best_epoch: int, stopped_early_at: int | None,
                chance_loss: float | None = None) -> Convergence:
    """The convergence record of a run from its per-epoch history.

    ``still_improving`` when, over the last quarter of the epochs run (at least 2), a
    validation curve was still rising at the end - its last (smoothed) value is its best and
    the last epochs brought more than a share of the run's gain: more than
    :data:`RISE_SHARE` for the score watched, more than :data:`ACCURACY_RISE_SHARE` for the
    other validation curves recorded (the loss beside an accuracy, the balanced accuracy or AUC
    beside a loss). A model can sit on a plateau of one validation number while it still
    learns by another (the demo's original model: balanced accuracy 0.617 at epochs 1 and 2
    while its losses fell); the training loss alone says nothing (it falls as a model fits its
    training images, converged or not). An accuracy or AUC that ends within
    :data:`CEILING_MARGIN` of 1 has reached its ceiling, and one that rose by less than
    :data:`MIN_ACCURACY_RISE` moved within its noise: neither is read as still improving; nor
    is a loss that ends under :data:`CONFIDENT_LOSS_SHARE` of the chance loss beside an
    accuracy at its ceiling.

    Args:
        history: The engine's rows (``train_loss`` and the validation scores per epoch).
        score: The validation key watched, e.g. ``val_balanced_accuracy`` or ``val_loss``.
        max_epochs: Epochs planned.
        best_epoch: The selected epoch.
        stopped_early_at: The early-stopping epoch, or None.
        chance_loss: The validation loss of an uninformed model (ln K for a K-class
            cross-entropy). A loss is read only below it: one falling from a bad start towards
            it is a model settling on the class priors, not learning the task.
    """
    curve = [float(row.get(score, math.nan)) for row in history]
    loss = [float(row.get("train_loss", math.nan)) for row in history]
    n = len(history)
    common = (score, curve, loss, n, max_epochs, best_epoch, stopped_early_at)
    stopped = stopped_early_at is not None
    if n < 2:
        early = stopped or n < max_epochs
        return Convergence(*common, early and max_epochs > 1,
                           "one epoch only: too few to judge" if early else "one epoch planned")
    k = min(n - 1, max(2, math.ceil(n / 4)))
    others = [key for key in (*_ACCURACY_KEYS, "val_loss") if key != score
              and all(key in row for row in history)]
    at_ceiling = any(key in history[-1] and float(history[-1][key]) >= 1 - CEILING_MARGIN
                     for key in _ACCURACY_KEYS)
    for key, share_needed in ((score, RISE_SHARE),
                              *((key, ACCURACY_RISE_SHARE) for key in others)):
        values = np.asarray([float(row.get(key, math.nan)) for row in history])
        share = _late_share(key, values, k, at_ceiling, chance_loss)
        if share is not None and share > share_needed:
            what = "score" if key == score else key.removeprefix("val_").replace("_", " ")
            when = f"stopped early at epoch {stopped_early_at}" if stopped else "ended"
            return Convergence(*common, True, f"{when} while the validation {what} still "
                               f"improved ({share:.0%} of the run's gain in the last {k} "
                               "epochs)")
    how = f"stopped early at epoch {stopped_early_at}" if stopped else f"ran {n} epochs"
    return Convergence(*common, False, f"{how}; the validation curves had levelled off")


def _late_share(key: str, values: np.ndarray, k: int, at_ceiling: bool,
                chance_loss: float | None) -> float | None:
    """The share of the run's gain that the last ``k`` epochs brought to the validation curve
    ``key`` (see :func:`convergence`); None where that curve has nothing left to show."""
    is_loss = key.endswith("loss")
    if (is_loss and at_ceiling and chance_loss is not None
            and _smooth(values)[-1] < CONFIDENT_LOSS_SHARE * chance_loss):
        return None  # right on every validation image, only growing more confident
    if is_loss and chance_loss is not None:
        values = np.minimum(values, chance_loss)
    if key in _ACCURACY_KEYS and values[-1] >= 1 - CEILING_MARGIN:
        return None  # at its ceiling: nothing left to learn by this number
    return _rise(-values if is_loss else values, k,
                 MIN_ACCURACY_RISE if key in _ACCURACY_KEYS else 0.0)


def _rise(curve: np.ndarray, k: int, least: float = 0.0) -> float | None:
    """The share of the run's gain (smoothed, higher is better) that its last ``k`` epochs
    brought, when the last epoch is the best and they brought at least ``least``; None
    otherwise."""
    s = _smooth(curve)
    if not np.isfinite(s[-1]) or s[-1] < np.nanmax(s) - 1e-12:
        return None
    gain_total = float(np.nanmax(s) - s[0])
    gain_last = float(s[-1] - s[-1 - k])
    if gain_last <= 0 or gain_last < least:
        return None
    return gain_last / max(gain_total, 1e-9)
