"""The shared patient bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from hideseek.bootstrap import mean_interval, patient_weights


def test_every_draw_takes_as_many_patients_as_there_are() -> None:
    groups = ["a", "a", "b", "c", "c", "c"]
    w = patient_weights(groups, 500, seed=1)
    assert w.shape == (500, 6)
    # A patient's images share one weight; the draw counts sum to the number of patients.
    assert np.array_equal(w[:, 0], w[:, 1]) and np.array_equal(w[:, 3], w[:, 5])
    assert np.array_equal(w[:, [0, 2, 3]].sum(1), np.full(500, 3.0))


def test_interval_of_clustered_images_is_that_of_their_patients() -> None:
    # 10 patients with 20 identical images each: the interval is the one of 10 values, far
    # wider than 200 independent images would give.
    rng = np.random.default_rng(0)
    per_patient = rng.uniform(0.8, 1.0, size=10)
    values = np.repeat(per_patient, 20)
    groups = [f"p{i // 20}" for i in range(200)]
    lo, hi = mean_interval(values, groups, n_boot=2000, seed=0)
    naive_lo, naive_hi = mean_interval(values, [str(i) for i in range(200)], n_boot=2000)
    assert lo < values.mean() < hi
    assert (hi - lo) > 3 * (naive_hi - naive_lo)


def test_one_patient_has_no_interval_but_its_mean() -> None:
    assert mean_interval([0.9, 0.7], ["p", "p"]) == pytest.approx((0.8, 0.8))
