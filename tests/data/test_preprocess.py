"""Preprocessing geometry and the preprocessing cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hideseek.data import ClassificationDataset, load_dataset
from hideseek.data.cache import PreprocessCache
from hideseek.data.preprocess import (
    Preprocess,
    center_square,
    crop_top,
    pad_to_square,
    resize,
    unpad,
)


def test_crop_top_and_square() -> None:
    img = np.arange(100 * 60, dtype=np.float32).reshape(100, 60)
    assert crop_top(img, 0.08).shape == (92, 60)
    sq = center_square(crop_top(img, 0.08))
    assert sq.shape == (60, 60) and sq[0, 0] == img[8 + 16, 0]


def test_pad_unpad_roundtrip() -> None:
    img = np.random.default_rng(0).random((30, 50)).astype(np.float32)
    sq, pad = pad_to_square(img)
    assert sq.shape == (50, 50)
    np.testing.assert_array_equal(unpad(sq, pad, img.shape), img)


def test_mask_follows_image() -> None:
    img = np.zeros((300, 200), np.float32)
    img[100:200, 50:120] = 1.0
    pre = Preprocess(size=64, crop_top=0.08)
    out_img, out_mask = pre(img), pre(img > 0.5)
    assert out_mask.dtype == bool
    assert np.mean((out_img > 0.5) == out_mask) > 0.995


def test_resize_upsamples_and_downsamples() -> None:
    img = np.random.default_rng(1).random((40, 40)).astype(np.float32)
    assert resize(img, 80).shape == (80, 80) and resize(img, (10, 20)).shape == (10, 20)
    with pytest.raises(ValueError):
        Preprocess(square="stretch")


def test_cache_hit_equals_miss(phantom_lungs: Path, tmp_path: Path) -> None:
    data = load_dataset(phantom_lungs)
    path = data.image_path(data.records[0])
    cache = PreprocessCache(Preprocess(size=32), tmp_path)
    cold = cache.image(path)
    assert len(list(tmp_path.rglob("*.npy"))) == 1
    warm = PreprocessCache(Preprocess(size=32), tmp_path).image(path)
    np.testing.assert_array_equal(cold, warm)
    # Another size is another entry.
    PreprocessCache(Preprocess(size=16), tmp_path).image(path)
    assert len(list(tmp_path.rglob("*.npy"))) == 2


def test_dataset_masks_and_source_target(phantom_shortcut: Path, tmp_path: Path) -> None:
    data = load_dataset(phantom_shortcut)
    ds = ClassificationDataset(data, Preprocess(size=32), tmp_path, target="source")
    assert ds.classes == ["site_a", "site_b", "site_c"]
    assert ds.mask(0).shape == (32, 32)
