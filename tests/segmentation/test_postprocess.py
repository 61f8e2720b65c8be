"""Post-processing: two lungs, one lung, none, specks, holes."""

from __future__ import annotations

import numpy as np

from hideseek.segmentation.postprocess import boxes_mask, postprocess_mask


def _two_lungs() -> np.ndarray:
    m = np.zeros((100, 100), bool)
    m[20:80, 10:40] = True
    m[25:75, 60:90] = True
    return m


def test_two_lungs_two_boxes_left_to_right() -> None:
    r = postprocess_mask(_two_lungs())
    assert r.n_components == 2 and not r.bad
    assert r.boxes == [(10, 20, 40, 80), (60, 25, 90, 75)]
    assert r.area_fraction == (60 * 30 + 50 * 30) / 1e4


def test_third_component_and_specks_dropped() -> None:
    m = _two_lungs()
    m[85:95, 45:55] = True  # a third, smaller blob
    m[2, 2] = m[97, 97] = True  # specks
    r = postprocess_mask(m)
    assert r.n_components == 2 and not r.mask[90, 50] and not r.mask[2, 2]


def test_holes_filled() -> None:
    m = _two_lungs()
    m[40:50, 20:30] = False
    r = postprocess_mask(m)
    assert r.mask[45, 25]
    assert not postprocess_mask(m, fill_holes=False).mask[45, 25]


def test_diagonal_touch_is_one_component() -> None:
    m = np.zeros((60, 60), bool)
    m[10:30, 10:30] = True
    m[30:50, 30:50] = True  # touches only at a corner: 8-connected
    r = postprocess_mask(m)
    assert r.n_components == 1 and r.one_lung and not r.bad  # one lung is not bad (mask_problem)
    assert r.boxes == [(10, 10, 50, 50)]


def test_one_lung_and_empty_never_crash() -> None:
    m = np.zeros((50, 50), bool)
    r = postprocess_mask(m)
    assert r.empty and r.bad and r.boxes == [] and not r.mask.any()
    m[10:40, 5:20] = True
    r = postprocess_mask(m)
    assert r.one_lung and len(r.boxes) == 1


def test_implausible_area_flagged() -> None:
    m = np.ones((50, 50), bool)
    m[:, 25] = False
    assert postprocess_mask(m).implausible_area


def test_boxes_mask_union_and_margin() -> None:
    out = boxes_mask((20, 20), [(2, 3, 5, 6), (10, 10, 12, 12)], margin=1)
    assert out.sum() == 5 * 5 + 4 * 4 and out[2, 1] and not out[0, 0]
