"""Joint image / mask augmentation: the elastic deformation."""

from __future__ import annotations

import torch

from hideseek.segmentation.augment import JointAugment, elastic_offsets


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
