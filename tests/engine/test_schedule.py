"""Learning-rate schedules: per-epoch rates, resumable by construction."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from hideseek.engine import epoch_lr, lr_schedule


def test_cosine_falls_from_lr_to_its_floor_and_constant_stays() -> None:
    rates = [epoch_lr("cosine", 1e-3, e, 10) for e in range(10)]
    assert rates[0] == pytest.approx(1e-3)
    assert all(a > b for a, b in itertools.pairwise(rates))
    assert rates[-1] > 1e-5  # the floor (1%) is reached at the end of the last epoch only
    assert epoch_lr("cosine", 1e-3, 10, 10) == pytest.approx(1e-5)
    assert epoch_lr("cosine", 1e-3, 5, 10) == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))
    assert {epoch_lr("constant", 1e-3, e, 10) for e in range(10)} == {1e-3}


def test_schedule_sets_every_group_and_depends_only_on_the_epoch() -> None:
    p, q = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([{"params": [p]}, {"params": [q]}], lr=0.1)
    step = lr_schedule("cosine", opt, 0.1, 4)
    step(3)
    late = [g["lr"] for g in opt.param_groups]
    step(0)
    step(3)  # as after a resume at epoch 3
    assert [g["lr"] for g in opt.param_groups] == late
    assert late[0] == pytest.approx(0.1 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 3 / 4))))


def test_unknown_schedule_is_refused_at_once() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="unknown lr schedule 'step'"):
        lr_schedule("step", opt, 0.1, 4)
