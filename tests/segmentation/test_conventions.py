"""Mask conventions: zones from the true mask, systematic vs random disagreement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hideseek.data import load_dataset, write_png
from hideseek.errors import HideseekError
from hideseek.segmentation.conventions import ZONES, compare_masks, measure_conventions, zone_map


def _truth(size: int = 100) -> np.ndarray:
    """Right lung (image left) x 10-40, left lung (image right) x 60-90, rows 20-80."""
    m = np.zeros((size, size), bool)
    m[20:80, 10:40] = True
    m[20:80, 60:90] = True
    return m


def test_zones_follow_the_true_lung_boxes() -> None:
    z = zone_map(_truth())
    assert z is not None
    names = {k: ZONES[int(z[y, x])] for k, (y, x) in {
        "right apex": (22, 25), "above the left lung": (5, 75), "mid right": (50, 25),
        "right hilum": (40, 35), "left hilum": (40, 65), "mediastinum": (40, 48),
        "right angle (lateral)": (78, 12), "right base, medial": (78, 38),
        "left angle (lateral)": (78, 88), "left base, medial": (60, 62),
        "behind the heart, medial of the box": (70, 52), "below the left base": (95, 88),
        "left base, centre": (70, 73)}.items()}
    assert names == {"right apex": "apices", "above the left lung": "apices",
                     "mid right": "rest", "right hilum": "medial", "left hilum": "medial",
                     "mediastinum": "medial", "right angle (lateral)": "costophrenic",
                     "right base, medial": "medial", "left angle (lateral)": "costophrenic",
                     "left base, medial": "retrocardiac",
                     "behind the heart, medial of the box": "retrocardiac",
                     "below the left base": "costophrenic", "left base, centre": "rest"}
    one = np.zeros((50, 50), bool)
    one[10:40, 10:40] = True
    assert zone_map(one) is None


def test_signed_zones_add_up_to_the_area_difference() -> None:
    truth = _truth()
    d, ratio, signed, _ = compare_masks(truth, truth)
    assert d == 1.0 and ratio == 1.0 and signed == dict.fromkeys(ZONES, 0.0)
    pred = truth.copy()
    pred[60:80, 50:60] = True  # behind the heart: +200 px
    pred[20:23, 10:40] = False  # apex cut: -90 px
    d, ratio, signed, unsigned = compare_masks(pred, truth)
    area = truth.sum()
    assert signed is not None and unsigned is not None
    assert signed["retrocardiac"] == pytest.approx(200 / area)
    assert signed["apices"] == pytest.approx(-90 / area)
    assert signed["costophrenic"] == signed["medial"] == signed["rest"] == 0
    assert sum(signed.values()) == pytest.approx(ratio - 1)
    assert unsigned["apices"] == pytest.approx(90 / area)
    with pytest.raises(HideseekError, match="empty"):
        compare_masks(truth, np.zeros_like(truth))


def _pack(tmp_path: Path, patients: int = 8, per_patient: int = 2) -> tuple[Path, Path]:
    """True masks, and predictions that add lung behind the heart on every image (systematic)
    and add or cut a sliver at the right apex (random: each patient's two images cancel)."""
    root, pred = tmp_path / "d", tmp_path / "pred"
    for d in (root / "images", root / "masks", pred):
        d.mkdir(parents=True)
    rows = ["filename,label,patient_id"]
    for p in range(patients):
        for k in range(per_patient):
            name = f"p{p}_{k}.png"
            truth = _truth()
            guess = truth.copy()
            guess[60:80, 50:60] = True  # +200 px: +0.056 of the 3600 px lungs
            sliver = 1 + p % 4
            if k % 2:
                guess[20:20 + sliver, 10:40] = False
            else:
                guess[20 - sliver:20, 10:40] = True
            write_png(root / "images" / name, np.full((100, 100), 0.5, np.float32))
            write_png(root / "masks" / name, truth)
            write_png(pred / name, guess)
            rows.append(f"{name},,patient{p}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root, pred


def test_systematic_part_is_separated_from_random_error(tmp_path: Path) -> None:
    root, pred = _pack(tmp_path)
    data = load_dataset(root, require_label=False)
    (result,) = measure_conventions(data, masks=pred, n_boot=500).values()
    assert result.images == 16 and result.patients == 8 and not result.image_level
    retro, apex = result.signed["retrocardiac"], result.signed["apices"]
    assert retro.mean == pytest.approx(200 / 3600) and retro.sd == pytest.approx(0, abs=1e-12)
    assert retro.ci[0] > 0.05  # systematic: the interval is far from 0
    assert apex.mean == pytest.approx(0, abs=1e-12) and apex.sd > 0.01  # random: mean 0, spread
    assert result.area_ratio.mean > 1.05 and result.dice.mean < 1
    assert set(result.to_dict()["signed"]) == set(ZONES)
    with pytest.raises(HideseekError, match="exactly one"):
        measure_conventions(data)
