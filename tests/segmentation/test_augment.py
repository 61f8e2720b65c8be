"""Joint image / mask augmentation: exposure changes, the elastic deformation, synthetic
consolidation."""

from __future__ import annotations

import torch

from hideseek.segmentation.augment import (
    ExposureAugment,
    JointAugment,
    OpacityAugment,
    elastic_offsets,
)


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


def _dark_lungs(side: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Two dark lung fields (0.2) in a bright body (0.8), the lungs labelled 1."""
    mask = torch.zeros(side, side, dtype=torch.long)
    mask[side // 6: -side // 6, side // 8: side // 2 - 4] = 1
    mask[side // 6: -side // 6, side // 2 + 4: -side // 8] = 1
    return (0.8 - 0.6 * mask.float())[None], mask


def test_opacity_whitens_inside_the_lungs_only_and_keeps_the_label() -> None:
    image, mask = _dark_lungs()
    whitened = [OpacityAugment(p=1.0, coverage=(1.0, 1.0), opacity=(0.9, 0.9),
                               generator=torch.Generator().manual_seed(s))(image, mask)
                for s in range(3)]
    for x in whitened:
        inside = x[0][mask.bool()].mean() - image[0][mask.bool()].mean()
        assert float(inside) > 0.3  # whole lungs whited out towards the body's grey
        # Outside the lungs (one pixel of edge softening aside) nothing changes.
        far = torch.nn.functional.max_pool2d(mask[None, None].float(), 7, 1, 3)[0, 0] == 0
        assert torch.equal(x[0][far], image[0][far])
        assert float(x.max()) <= 1 and float(x.min()) >= 0
    # Through JointAugment the mask is returned unchanged: the whitened field is still lung.
    g = torch.Generator().manual_seed(0)
    x, y = JointAugment(rotation=0, scale=0, shift=0, intensity=0, generator=g,
                        opacity=OpacityAugment(p=1.0, generator=g))(image, mask)
    assert torch.equal(y, mask) and not torch.equal(x, image)


def test_opacity_patches_cover_about_their_share_and_are_seeded() -> None:
    image, mask = _dark_lungs(96)
    lung = mask.bool()

    def whitened_share(seed: int, coverage: float) -> float:
        aug = OpacityAugment(p=1.0, coverage=(coverage, coverage), opacity=(0.9, 0.9),
                             generator=torch.Generator().manual_seed(seed))
        x = aug(image, mask)
        return float(((x[0] - image[0])[lung] > 0.3).float().mean())

    small, large = whitened_share(1, 0.2), whitened_share(1, 0.8)
    assert 0.04 < small < 0.3 and 0.5 < large <= 1.0  # soft edges: below nominal
    assert whitened_share(4, 0.5) == whitened_share(4, 0.5)
    assert whitened_share(4, 0.5) != whitened_share(5, 0.5)


def test_opacity_off_and_unlucky_draws_change_nothing() -> None:
    image, mask = _dark_lungs()
    plain = JointAugment(generator=torch.Generator().manual_seed(5))(image, mask)
    off = JointAugment(generator=torch.Generator().manual_seed(5), opacity=None)(image, mask)
    assert torch.equal(plain[0], off[0])
    never = OpacityAugment(p=0.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(never(image, mask), image)
    empty = torch.zeros_like(mask)
    assert torch.equal(OpacityAugment(p=1.0)(image, empty), image)
