"""Joint image / mask augmentation: exposure changes and the elastic deformation."""

from __future__ import annotations

import torch

from hideseek.segmentation.augment import ExposureAugment, JointAugment, elastic_offsets


def _disc(side: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    yy, xx = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    mask = ((yy - side / 2) ** 2 + (xx - side / 2) ** 2 < (side / 3) ** 2).long()
    return mask[None].float(), mask


def _only_elastic(strength: float, seed: int) -> JointAugment:
    return JointAugment(rotation=0, scale=0, shift=0, intensity=0, elastic=strength,
                        generator=torch.Generator().manual_seed(seed))


def test_elastic_field_is_smooth_and_seeded() -> None:
    a = elastic_offsets(64, 48, 0.04, generator=torch.Generator().manual_seed(0))
    b = elastic_offsets(64, 48, 0.04, generator=torch.Generator().manual_seed(0))
    assert a.shape == (1, 64, 48, 2) and torch.equal(a, b)
    # Neighbouring pixels move almost together (4 control points per side).
    step = (a[:, 1:] - a[:, :-1]).abs().max()
    assert float(step) < 0.2 * float(a.abs().max())


def test_elastic_deformation_moves_image_and_mask_together() -> None:
    image, mask = _disc()
    x, y = _only_elastic(0.08, seed=3)(image, mask)
    moved = (y != mask).float().mean()
    assert float(moved) > 0.01  # the shape changed
    # ... and the image went with it: thresholding it gives the deformed mask.
    agree = ((x[0] > 0.5).long() == y).float().mean()
    assert float(agree) > 0.99


def test_elastic_off_draws_nothing_and_changes_nothing() -> None:
    image, mask = _disc()
    plain = JointAugment(generator=torch.Generator().manual_seed(5))(image, mask)
    off = JointAugment(generator=torch.Generator().manual_seed(5), elastic=0.0)(image, mask)
    assert torch.equal(plain[0], off[0]) and torch.equal(plain[1], off[1])


def test_exposure_augment_changes_intensity_only_and_is_seeded() -> None:
    x = torch.linspace(0, 1, 48 * 48).reshape(1, 48, 48)
    y = (x[0] > 0.5).long()

    def run(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        return JointAugment(rotation=0, scale=0, shift=0, intensity=0, generator=g,
                            exposure=ExposureAugment(generator=g))(x, y)

    (a, ma), (b, _), (c, _) = run(1), run(1), run(2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(ma, y) and float(a.min()) >= 0 and float(a.max()) <= 1
    assert float((a - x).abs().mean()) > 0.01
