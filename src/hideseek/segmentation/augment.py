"""Joint image / mask augmentation for segmentation training."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["ExposureAugment", "JointAugment", "OpacityAugment", "elastic_offsets",
           "gaussian_blur"]


def _uniform(lo: float, hi: float, generator: torch.Generator | None) -> float:
    """One uniform draw in ``[lo, hi)`` from ``generator``."""
    return lo + (hi - lo) * float(torch.rand((), generator=generator))


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a C x H x W image (reflect padding at the borders).

    Args:
        x: The image.
        sigma: Standard deviation in pixels (at most a quarter of the shorter side is used).
    """
    sigma = min(sigma, min(x.shape[-2:]) / 4)
    radius = max(1, math.ceil(2.5 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / max(sigma, 1e-3)) ** 2)
    k = (k / k.sum()).to(x.device)
    img = x[:, None]  # C x 1 x H x W
    img = F.conv2d(F.pad(img, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    img = F.conv2d(F.pad(img, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1))
    return img[:, 0]


def elastic_offsets(height: int, width: int, strength: float, points: int = 4,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """A smooth random displacement field for :func:`torch.nn.functional.grid_sample`.

    The elastic deformation of the U-Net paper (Ronneberger et al. 2015), the augmentation it
    credits for learning from few annotated images: Gaussian displacements on a coarse
    ``points`` x ``points`` grid, interpolated bicubically to every pixel.

    Args:
        height: Output rows.
        width: Output columns.
        strength: Standard deviation of the coarse displacements in grid units (the image spans
            2, so 0.04 moves control points by about 2% of the side).
        points: Control points per side.
        generator: Random generator.

    Returns:
        Offsets of shape 1 x H x W x 2, to add to a sampling grid.
    """
    coarse = torch.randn((1, 2, points, points), generator=generator) * strength
    field = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)
    return field.permute(0, 2, 3, 1)


class ExposureAugment:
    """Exposure and contrast changes of the kind that separate hospitals and scanners.

    Applied to a C x H x W image in [0, 1], in this order: a random intensity window (the
    black / white points of a different export), a gamma curve, a CLAHE-like local contrast
    change (unsharp masking with a wide kernel, boosting or flattening), mild blur, mild noise.

    Args:
        gamma: Largest gamma factor (log-uniform in ``[1 / gamma, gamma]``).
        window: Largest share of the range cut at each end by the random window.
        local: Largest amount of local contrast boost (negative amounts down to ``-local / 2``
            flatten it).
        blur: Largest blur sigma as a fraction of the side; applied with probability 0.25.
        noise: Largest Gaussian noise standard deviation; applied with probability 0.3.
        generator: Random generator (seeded by the training loop for reproducibility).
    """

    def __init__(self, gamma: float = 1.8, window: float = 0.12, local: float = 1.0,
                 blur: float = 0.006, noise: float = 0.03,
                 generator: torch.Generator | None = None) -> None:
        self.gamma, self.window, self.local = gamma, window, local
        self.blur, self.noise, self.generator = blur, noise, generator

    def _u(self, lo: float, hi: float) -> float:
        return _uniform(lo, hi, self.generator)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = self._u(0, self.window), 1 - self._u(0, self.window)
        x = ((x - lo) / (hi - lo)).clamp(0, 1)
        x = x ** math.exp(self._u(-math.log(self.gamma), math.log(self.gamma)))
        amount = self._u(-self.local / 2, self.local)
        if abs(amount) > 0.05:
            x = (x + amount * (x - gaussian_blur(x, 0.08 * x.shape[-1]))).clamp(0, 1)
        if self._u(0, 1) < 0.25:
            x = gaussian_blur(x, max(0.5, self._u(0, self.blur) * x.shape[-1]))
        if self._u(0, 1) < 0.3:
            noise = torch.randn(x.shape, generator=self.generator).to(x.device)
            x = x + self._u(0, self.noise) * noise
        return x.clamp(0, 1)


class OpacityAugment:
    """Synthetic consolidation: parts of the lungs whitened while their label stays *lung*.

    Pneumonia, oedema, effusion and ARDS whiten the lung fields; a U-Net that learned lungs as
    "the dark fields" then traces a whited-out lung short or not at all (the worst held-out
    COVID-QU-Ex images of ``weights/MODEL_CARD.md``). This draws a smooth random field, keeps
    its highest ``coverage`` share inside the lung mask (from patches to whole lungs), softens
    the edges, and blends the image there towards a soft-tissue grey (a high percentile of the
    image) by a random opacity: the lung keeps its outline and some of its texture, loses its
    darkness. Only pixels darker than that grey are changed (bone and devices stay).

    Args:
        p: Probability of whitening an image.
        coverage: Range of the share of the lung area whitened.
        opacity: Range of the blend weight towards the soft-tissue grey.
        level: Range of the image percentile (0-1) taken as the soft-tissue grey.
        scale: Blob size: the random field's smoothing sigma as a fraction of the side.
        generator: Random generator (seeded by the training loop for reproducibility).
    """

    def __init__(self, p: float = 0.5, coverage: tuple[float, float] = (0.15, 1.0),
                 opacity: tuple[float, float] = (0.4, 0.95),
                 level: tuple[float, float] = (0.7, 0.95), scale: float = 0.06,
                 generator: torch.Generator | None = None) -> None:
        self.p, self.coverage, self.opacity, self.level = p, coverage, opacity, level
        self.scale, self.generator = scale, generator

    def _u(self, lo: float, hi: float) -> float:
        return _uniform(lo, hi, self.generator)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Whiten part of the lungs of ``x`` (C x H x W in [0, 1]) where ``y`` (H x W) > 0."""
        if self._u(0, 1) >= self.p:
            return x
        lung = y > 0
        if int(lung.sum()) < 16:
            return x
        side = x.shape[-1]
        field = gaussian_blur(torch.rand((1, *y.shape), generator=self.generator),
                              self.scale * side)[0].to(x.device)
        inside = field[lung].float()
        cut = torch.quantile(inside, 1 - self._u(*self.coverage))
        spread = float(inside.std()) * 0.5 + 1e-6
        blob = ((field - cut) / spread).clamp(0, 1) * lung.to(x.dtype)
        blob = gaussian_blur(blob[None], max(0.5, 0.015 * side))[0]
        grey = torch.quantile(x.flatten().float(), self._u(*self.level)).to(x.dtype)
        weight = self._u(*self.opacity) * blob
        return (x + weight * (grey - x).clamp(min=0)).clamp(0, 1)


class JointAugment:
    """Random rotation, scale and shift applied identically to image and mask, then intensity.

    Args:
        rotation: Maximum rotation in degrees.
        scale: Maximum relative zoom (0.1 = +-10%).
        shift: Maximum shift as a fraction of the side.
        intensity: Maximum brightness / contrast change (fraction) and gamma spread.
        generator: Random generator (seeded by the training loop for reproducibility).
        exposure: Exposure / contrast augmentation applied last (None: off).
        elastic: Strength of an elastic deformation on top of the affine one
            (:func:`elastic_offsets`; 0: off, and no random numbers are drawn for it).
        opacity: Synthetic consolidation inside the (transformed) lung mask, applied before
            the intensity changes (None: off, and no random numbers are drawn for it).
    """

    def __init__(self, rotation: float = 10.0, scale: float = 0.1, shift: float = 0.06,
                 intensity: float = 0.1, generator: torch.Generator | None = None,
                 exposure: ExposureAugment | None = None, elastic: float = 0.0,
                 opacity: OpacityAugment | None = None) -> None:
        self.rotation, self.scale, self.shift, self.intensity = rotation, scale, shift, intensity
        self.generator, self.exposure, self.elastic = generator, exposure, elastic
        self.opacity = opacity

    def _u(self, lo: float, hi: float) -> float:
        return _uniform(lo, hi, self.generator)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        angle = math.radians(self._u(-self.rotation, self.rotation))
        zoom = self._u(1 - self.scale, 1 + self.scale)
        tx, ty = self._u(-self.shift, self.shift) * 2, self._u(-self.shift, self.shift) * 2
        c, s = math.cos(angle) / zoom, math.sin(angle) / zoom
        theta = torch.tensor([[c, -s, tx], [s, c, ty]], dtype=torch.float32)[None]
        grid = F.affine_grid(theta, [1, 1, *x.shape[-2:]], align_corners=False)
        if self.elastic > 0:
            height, width = x.shape[-2:]
            grid = grid + elastic_offsets(height, width, self.elastic, generator=self.generator)
        x = F.grid_sample(x[None], grid, mode="bilinear", padding_mode="zeros",
                          align_corners=False)[0]
        y = F.grid_sample(y[None, None].float(), grid, mode="nearest", padding_mode="zeros",
                          align_corners=False)[0, 0].long()
        if self.opacity is not None:
            x = self.opacity(x, y)
        gain = self._u(1 - self.intensity, 1 + self.intensity)
        bias = self._u(-self.intensity, self.intensity) * 0.5
        gamma = self._u(1 - 2 * self.intensity, 1 + 2 * self.intensity)
        x = ((x.clamp(0, 1) ** gamma) * gain + bias).clamp(0, 1)
        if self.exposure is not None:
            x = self.exposure(x)
        return x, y
