"""The COVID-Net augmentation recipe on tensors, as one affine resampling."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hideseek.classification.config import AugmentConfig

__all__ = ["CXRAugment"]


class CXRAugment:
    """Random aspect ratio (p 0.3, +-10%), rotation (+-10 deg), translation (+-10%), zoom
    (+-15%), intensity shift (+-10%) and, for COVID-Net only, horizontal flip.

    Geometric parts are composed into one affine matrix, so the image is interpolated once.
    Randomness comes from torch's global generator, which the training loop seeds per epoch
    (and the data loader per worker), so runs are reproducible and resumable.
    """

    def __init__(self, config: AugmentConfig) -> None:
        self.c = config

    @staticmethod
    def _u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand(()))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        c = self.c
        angle = math.radians(self._u(-c.rotation, c.rotation))
        zoom = self._u(1 - c.zoom, 1 + c.zoom)
        sx = sy = 1.0 / zoom
        if float(torch.rand(())) < c.aspect_p:
            r = self._u(1 - c.aspect, 1 + c.aspect)
            sx, sy = sx / r, sy * r
        if c.hflip and float(torch.rand(())) < 0.5:
            sx = -sx
        tx, ty = self._u(-c.translate, c.translate) * 2, self._u(-c.translate, c.translate) * 2
        cos, sin = math.cos(angle), math.sin(angle)
        theta = torch.tensor([[cos * sx, -sin * sy, tx], [sin * sx, cos * sy, ty]],
                             dtype=x.dtype)[None]
        grid = F.affine_grid(theta, [1, *x.shape], align_corners=False)
        out = F.grid_sample(x[None], grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)[0]
        return (out + self._u(-c.intensity, c.intensity)).clamp(0.0, 1.0)
