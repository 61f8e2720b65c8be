"""Convergence records and early stopping that cannot stop a model still learning."""

from __future__ import annotations

import math

from hideseek.engine import EarlyStopping, convergence


def _rows(val: list[float], loss: list[float], key: str = "val_balanced_accuracy",
          val_loss: list[float] | None = None,
          val_balanced_accuracy: list[float] | None = None) -> list[dict[str, float]]:
    rows = [{"epoch": i + 1, "train_loss": tl, key: v}
            for i, (v, tl) in enumerate(zip(val, loss, strict=True))]
    for row, vl in zip(rows, val_loss or [], strict=False):
        row["val_loss"] = vl
    for row, ba in zip(rows, val_balanced_accuracy or [], strict=False):
        row["val_balanced_accuracy"] = ba
    return rows


def test_the_demo_case_stopped_on_a_plateau_while_learning() -> None:
    # The run: validation balanced accuracy 0.617 at epochs 1 and 2 (patience 1) while
    # the model still learned (its validation loss still fell): stopped while improving.
    rows = _rows([0.617, 0.617], [0.85, 0.30], val_loss=[0.95, 0.62])
    c = convergence(rows, "val_balanced_accuracy", 10, 1, 2)
    assert c.still_improving and "validation loss still improved" in c.reason
    assert c.curve == [0.617, 0.617] and c.epochs_run == 2 and c.stopped_early_at == 2
    # stopped where the validation curves had levelled off: the training loss that still fell
    # (the model fitting its training images) is no sign of under-training
    rows = _rows([0.9, 0.95, 0.97, 0.97, 0.96, 0.97, 0.96, 0.96], [1, 0.6, 0.4, 0.2, 0.1, 0.05,
                                                                  0.02, 0.01],
                 val_loss=[0.7, 0.3, 0.2, 0.19, 0.2, 0.22, 0.24, 0.25])
    assert not convergence(rows, "val_balanced_accuracy", 24, 4, 8).still_improving


def test_a_converged_run_and_a_run_still_rising_at_its_end() -> None:
    flat = _rows([0.5, 0.8, 0.9, 0.93, 0.94, 0.94, 0.94, 0.945],
                 [1.0, 0.5, 0.3, 0.25, 0.24, 0.23, 0.23, 0.22])
    assert not convergence(flat, "val_balanced_accuracy", 8, 8, None).still_improving
    rising = _rows([0.4, 0.45, 0.5, 0.55, 0.62, 0.7, 0.78, 0.86],
                   [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    c = convergence(rising, "val_balanced_accuracy", 8, 8, None)
    assert c.still_improving and "validation score still improved" in c.reason
    # a loss is read lower-is-better
    losses = _rows([1.0, 0.8, 0.6, 0.45, 0.35, 0.25], [1, 0.8, 0.6, 0.5, 0.4, 0.3], "val_loss")
    assert convergence(losses, "val_loss", 6, 6, None).still_improving
    stopped = _rows([0.9, 0.92, 0.91, 0.91, 0.9], [0.3, 0.29, 0.28, 0.28, 0.28])
    assert not convergence(stopped, "val_balanced_accuracy", 20, 2, 5).still_improving


def test_early_stopping_waits_for_min_epochs_and_reads_a_smoothed_score() -> None:
    stop = EarlyStopping(patience=1, min_epochs=4)
    assert not stop.update(1, 0.6) and not stop.update(2, 0.6)  # no stop before epoch 4
    assert not stop.update(3, 0.6) and stop.update(4, 0.6) and stop.stopped_at == 4
    smooth = EarlyStopping(patience=2, window=3)
    # one lucky validation epoch (0.9) does not become the reference to beat
    scores = [smooth.smooth(s) for s in (0.5, 0.9, 0.5, 0.55, 0.6)]
    assert abs(scores[1] - 0.7) < 1e-12 and abs(scores[-1] - 0.55) < 1e-12
    state = smooth.state_dict()
    again = EarlyStopping(patience=2, window=3)
    again.load_state_dict(state)
    assert again.recent == smooth.recent and again.smooth(0.7) == smooth.smooth(0.7)


def test_an_accuracy_that_reached_its_ceiling_is_not_still_improving() -> None:
    # selected on the loss, its balanced accuracy climbed late - but to 1.0: nothing left
    rows = _rows([1.2, 0.9, 0.6, 0.4, 0.3, 0.25, 0.22, 0.21, 0.2, 0.2, 0.2, 0.2],
                 [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1], "val_loss",
                 val_balanced_accuracy=[0.4, 0.5, 0.55, 0.6, 0.62, 0.65, 0.7, 0.72, 0.75, 0.9,
                                        1.0, 1.0])
    assert not convergence(rows, "val_loss", 12, 12, None).still_improving
    # the same climb ending at 0.9 still counts
    rows = _rows([1.2, 0.9, 0.6, 0.4, 0.3, 0.25, 0.22, 0.21, 0.2, 0.2, 0.2, 0.2],
                 [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1], "val_loss",
                 val_balanced_accuracy=[0.4, 0.45, 0.5, 0.52, 0.55, 0.57, 0.6, 0.62, 0.65, 0.75,
                                        0.85, 0.9])
    c = convergence(rows, "val_loss", 12, 12, None)
    assert c.still_improving and "balanced accuracy" in c.reason


def test_noise_at_chance_is_not_improvement() -> None:
    # the demo's lungs_removed model (nothing to learn: the lungs scenario with the lungs
    # hidden) on the fp32 path: balanced accuracy at chance, its 3-epoch mean up 0.017 at the end
    acc = [0.333, 0.333, 0.333, 0.333, 0.333, 0.333, 0.317, 0.367, 0.333, 0.333]
    loss = [12.7, 2.63, 1.10, 0.88, 0.98, 0.91, 1.05, 1.05, 1.51, 1.06]
    rows = _rows(loss, [1.2, 1.0, 1.1, 0.9, 0.86, 0.92, 0.9, 0.91, 0.91, 0.68], "val_loss",
                 val_balanced_accuracy=acc)
    assert not convergence(rows, "val_loss", 14, 6, 10).still_improving
    # the same late jump, ten times as large, is a model still learning
    acc = [0.333, 0.333, 0.333, 0.333, 0.333, 0.333, 0.4, 0.5, 0.6, 0.7]
    rows = _rows(loss, [1.2, 1.0, 1.1, 0.9, 0.86, 0.92, 0.9, 0.91, 0.91, 0.68], "val_loss",
                 val_balanced_accuracy=acc)
    assert convergence(rows, "val_loss", 14, 6, 10).still_improving


def test_a_loss_settling_on_the_priors_is_not_learning() -> None:
    # a hidden-lung phantom model (3 classes, nothing to learn): its loss falls from a bad start
    # (6.1) towards ln 3 = 1.10 while its balanced accuracy stays at or below chance
    loss = [2.35, 6.14, 6.14, 6.14, 5.44, 2.79, 2.73, 1.59, 1.51, 1.30, 1.25, 1.19]
    acc = [0.333] * 7 + [0.2, 0.233, 0.2, 0.2, 0.2]
    rows = _rows(loss, [1.9, 1.8, 1.2, 0.95, 0.86, 0.92, 0.8, 0.68, 0.72, 0.62, 0.61, 0.53],
                 "val_loss", val_balanced_accuracy=acc)
    assert convergence(rows, "val_loss", 12, 12, None).still_improving  # read naively
    assert not convergence(rows, "val_loss", 12, 12, None,
                           chance_loss=math.log(3)).still_improving
    # below the uninformed loss, a falling loss is learning
    learning = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    rows = _rows(learning, [1.0] * 8, "val_loss")
    assert convergence(rows, "val_loss", 8, 8, None, chance_loss=math.log(3)).still_improving


def test_a_flat_loss_does_not_hide_an_accuracy_still_climbing() -> None:
    # The operating bench's lungs_removed model: its validation loss flat at the end while its
    # balanced accuracy still climbed (0.60 -> 0.77 over the last 3 epochs).
    acc = [0.5, 0.5, 0.53, 0.6, 0.62, 0.55, 0.6, 0.73, 0.77, 0.77]
    loss = [9.2, 1.6, 2.5, 1.3, 0.76, 1.27, 1.9, 0.70, 0.72, 0.71]
    train = [1.0, 0.77, 0.6, 0.43, 0.26, 0.23, 0.2, 0.15, 0.07, 0.05]
    rows = [{"train_loss": t, "val_loss": v, "val_balanced_accuracy": a}
            for t, v, a in zip(train, loss, acc, strict=True)]
    c = convergence(rows, "val_loss", 10, 8, None)
    assert c.still_improving and "balanced accuracy still improved" in c.reason
    # the originals' model of the same trial: accuracy flat at 0.95-0.98 over its last epochs
    acc = [0.5, 0.5, 0.48, 0.7, 0.75, 0.97, 0.95, 0.97, 0.98, 0.97]
    loss = [1.96, 6.4, 1.5, 0.67, 0.52, 0.16, 0.11, 0.093, 0.088, 0.086]
    rows = [{"train_loss": 0.1, "val_loss": v, "val_balanced_accuracy": a}
            for v, a in zip(loss, acc, strict=True)]
    assert not convergence(rows, "val_loss", 10, 10, None).still_improving


def test_a_falling_loss_beside_a_perfect_accuracy_is_only_confidence() -> None:
    # The demo's lungs model on the fp32 path (epochs 1-14, selection on validation loss):
    # balanced accuracy 1.00 at the end, loss 0.021 -> 0.003 over the last epochs.
    loss = [5.145, 1.139, 0.931, 2.346, 0.708, 0.264, 0.031, 0.283, 0.074, 0.021, 0.009, 0.011,
            0.006, 0.003]
    ba = [0.333, 0.367, 0.633, 0.583, 0.75, 0.917, 0.983, 0.8, 0.95, 0.983, 0.983, 0.983, 1.0,
          1.0]
    rows = _rows(loss, [0.5] * 14, key="val_loss", val_balanced_accuracy=ba)
    c = convergence(rows, "val_loss", 14, 14, None, chance_loss=math.log(3))
    assert not c.still_improving, c.reason
    # the same losses beside an accuracy short of its ceiling: still learning
    short = _rows(loss, [0.5] * 14, key="val_loss", val_balanced_accuracy=[*ba[:-2], 0.9, 0.92])
    assert convergence(short, "val_loss", 14, 14, None, chance_loss=math.log(3)).still_improving
    # a perfect accuracy beside a loss still far from zero (0.6 -> 0.3): still learning
    high = _rows([1.1, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3], [0.5] * 10, key="val_loss",
                 val_balanced_accuracy=[0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert convergence(high, "val_loss", 10, 10, None, chance_loss=math.log(3)).still_improving
