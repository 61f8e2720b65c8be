"""The fill-detectability probe and the texture fill."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hideseek.data import load_dataset
from hideseek.data.cache import PreprocessCache
from hideseek.data.io import image_shape
from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.data.preprocess import Preprocess
from hideseek.representations.detectability import (
    DETECTABLE_AUC,
    fill_detectability,
    patch_features,
)
from hideseek.representations.transforms import apply_representation


def _images(root: Path, n: int, size: int, tmp: Path) -> tuple[list, list, list]:
    data = load_dataset(root, require_label=False)
    cache = PreprocessCache(Preprocess(size=size, crop_top=0.0, square="crop"), tmp)
    records = data.records[:n]
    images = [cache.image(data.image_path(r)) for r in records]
    masks = [cache.mask(data.mask_path(r), image_shape(data.image_path(r))) > 0.5  # type: ignore[arg-type]
             for r in records]
    return images, masks, [r.patient_id for r in records]


def test_patch_features_see_texture_and_not_place() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((4, 8, 8), 0.5)
    rough = 0.5 + rng.normal(0, 0.05, (4, 8, 8))
    f_flat, f_rough = patch_features(flat), patch_features(rough)
    assert f_flat.shape == (4, 7) and np.allclose(f_flat[:, 1:], 0)
    assert (f_rough[:, 1] > 0.03).all()  # standard deviation
    np.testing.assert_allclose(patch_features(rough[:, ::-1]), f_rough, atol=1e-12)


def test_a_flat_fill_is_detectable_and_the_texture_fill_much_less(tmp_path: Path) -> None:
    write_phantom_dataset(tmp_path / "ph", PhantomConfig(scenario="null", n=40, size=64, seed=0))
    images, masks, patients = _images(tmp_path / "ph", 40, 64, tmp_path / "c")
    zero = fill_detectability(images, masks, patients, "lungs_removed", "zero")
    texture = fill_detectability(images, masks, patients, "lungs_removed", "texture")
    assert zero.detectable and zero.auc is not None and zero.auc > 0.99
    assert zero.patches >= 100 and zero.images == 40
    assert texture.auc is not None and texture.auc < zero.auc - 0.1
    assert not texture.detectable


def test_the_texture_fill_keeps_texture_and_reads_only_what_is_visible(tmp_path: Path) -> None:
    write_phantom_dataset(tmp_path / "ph", PhantomConfig(scenario="lungs", n=6, size=64, seed=1))
    images, masks, _ = _images(tmp_path / "ph", 6, 64, tmp_path / "c")
    for image, mask in zip(images, masks, strict=True):
        out = apply_representation("lungs_removed", image, mask, "texture")
        again = apply_representation("lungs_removed", image, mask, "texture")
        np.testing.assert_array_equal(out, again)  # reproducible
        np.testing.assert_array_equal(out[~mask], image[~mask])
        smooth = apply_representation("lungs_removed", image, mask, "linear")
        hp = [float(np.std(np.diff(x[mask]))) for x in (out, smooth)]
        assert hp[0] > 1.5 * hp[1]  # texture, where linear imputation is smooth
        assert image[~mask].min() - 1e-6 <= out[mask].min()
        assert out[mask].max() <= image[~mask].max() + 1e-6


def test_on_real_radiographs_the_texture_fill_is_the_least_detectable(
        shenzhen_pack: Path, tmp_path: Path) -> None:
    images, masks, patients = _images(shenzhen_pack, 30, 64, tmp_path / "c")
    auc = {fill: fill_detectability(images, masks, patients, "lungs_removed", fill).auc
           for fill in ("zero", "blur", "linear", "texture")}
    assert all(v is not None for v in auc.values())
    assert min(auc, key=lambda k: auc[k] or 1.0) == "texture"
    assert (auc["texture"] or 1.0) < min(auc["zero"] or 0, auc["linear"] or 0) - 0.03
    assert (auc["zero"] or 0) >= DETECTABLE_AUC


@pytest.mark.parametrize("fill", ["zero", "texture"])
def test_no_patch_fits_gives_no_answer(fill: str) -> None:
    image = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    mask = np.zeros((16, 16), bool)
    mask[7:9, 7:9] = True  # smaller than a patch
    found = fill_detectability([image], [mask], ["p"], "lungs_removed", fill)
    assert found.auc is None and not found.detectable and found.patches == 0
