"""The five versions: invariants on phantoms and on the real shared data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hideseek.data import (
    ClassificationDataset,
    Preprocess,
    load_dataset,
    read_image,
    read_mask,
)
from hideseek.representations import (
    REPRESENTATIONS,
    Representation,
    apply_representation,
    lung_boxes,
)
from hideseek.segmentation.postprocess import boxes_mask


def _pairs(root: Path, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    data = load_dataset(root, require_label=False)
    assert data.masks_dir is not None
    out = []
    for r in data.records[:n]:
        image = read_image(data.image_path(r))
        out.append((image, read_mask(data.masks_dir / r.filename, image.shape)))
    return out


def _check_invariants(image: np.ndarray, mask: np.ndarray) -> None:
    v = {name: apply_representation(name, image, mask) for name in REPRESENTATIONS}
    np.testing.assert_array_equal(v["data"], image)
    np.testing.assert_array_equal(v["lungs_isolated"] + v["lungs_removed"], image)
    inside = boxes_mask(mask.shape, lung_boxes(mask))
    np.testing.assert_array_equal(v["lungs_framed"][inside], image[inside])
    assert not v["lungs_framed"][~inside].any()
    np.testing.assert_array_equal(v["lungs_boxed_out"][~inside], image[~inside])
    assert not v["lungs_boxed_out"][inside].any()
    np.testing.assert_array_equal(v["lungs_framed"] + v["lungs_boxed_out"], image)
    # Boxes contain their lungs: framing never cuts lung pixels of the two kept components.
    assert inside[mask].mean() > 0.99


def test_invariants_on_phantoms(phantom_lungs: Path) -> None:
    for image, mask in _pairs(phantom_lungs, 6):
        _check_invariants(image, mask)
        assert len(lung_boxes(mask)) == 2


def test_invariants_on_real_data(segmentation_pack: Path) -> None:
    for image, mask in _pairs(segmentation_pack, 6):
        _check_invariants(image, mask)


@pytest.mark.parametrize("fill", ["mean", "blur"])
def test_other_fills_keep_visible_pixels(phantom_lungs: Path, fill: str) -> None:
    image, mask = _pairs(phantom_lungs, 1)[0]
    out = apply_representation("lungs_removed", image, mask, fill=fill)
    np.testing.assert_array_equal(out[~mask], image[~mask])
    if fill == "mean":
        assert np.allclose(out[mask], image[~mask].mean())  # the visible pixels' mean only
    else:  # texture-free: far smaller pixel-to-pixel steps than the image has
        inner = mask[:, 1:] & mask[:, :-1]
        steps_out = np.abs(np.diff(out, axis=1))[inner].mean()
        steps_img = np.abs(np.diff(image, axis=1))[inner].mean()
        assert steps_out < 0.5 * steps_img


def test_blur_fill_carries_nothing_from_the_hidden_region(phantom_lungs: Path) -> None:
    image, mask = _pairs(phantom_lungs, 1)[0]
    altered = image.copy()
    altered[mask] = 1.0  # change only what is hidden
    a = apply_representation("lungs_removed", image, mask, fill="blur")
    b = apply_representation("lungs_removed", altered, mask, fill="blur")
    np.testing.assert_array_equal(a, b)


def test_box_margin_grows_the_frame(phantom_lungs: Path) -> None:
    image, mask = _pairs(phantom_lungs, 1)[0]
    a = apply_representation("lungs_framed", image + 0.01, mask)
    b = apply_representation("lungs_framed", image + 0.01, mask, box_margin=3)
    assert (b > 0).sum() > (a > 0).sum()


def test_mask_stays_aligned_through_crop_and_resize() -> None:
    # An image that *is* its mask: after preprocessing, both must still coincide.
    from hideseek.data.phantom import make_phantom

    _, mask = make_phantom("normal", "lungs", "site_a", 400, np.random.default_rng(3))
    pre = Preprocess(size=96, crop_top=0.08)
    img_out, mask_out = pre(mask.astype(np.float32)), pre(mask)
    agree = ((img_out >= 0.5) == mask_out).mean()
    assert agree > 0.998


def test_on_the_fly_dataset_applies_representation(phantom_lungs: Path, tmp_path: Path) -> None:
    data = load_dataset(phantom_lungs)
    pre = Preprocess(size=48)
    plain = ClassificationDataset(data, pre, tmp_path)
    iso = ClassificationDataset(data, pre, tmp_path, pair_transform=Representation(
        "lungs_isolated"))
    rem = ClassificationDataset(data, pre, tmp_path, pair_transform=Representation(
        "lungs_removed"))
    for i in range(3):
        np.testing.assert_allclose(iso.array(i) + rem.array(i), plain.array(i))
        assert not iso.array(i)[~iso.mask(i)].any()
    guarded = ClassificationDataset(data, pre, tmp_path, pair_transform=Representation(
        "lungs_removed", guard=1))
    mask = guarded.mask(0)
    from scipy import ndimage

    rim = ndimage.binary_dilation(mask) & ~mask
    assert not guarded.array(0)[mask | rim].any()  # the rim outside the lungs is hidden too
    far = ~ndimage.binary_dilation(mask, iterations=2)
    np.testing.assert_array_equal(guarded.array(0)[far], plain.array(0)[far])
    with pytest.raises(ValueError, match="unknown representation"):
        Representation("lungs_hidden")
