"""Joint image / mask augmentation for segmentation training."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["JointAugment"]


class JointAugment:
    """Random rotation, scale and shift applied identically to image and mask, then intensity.

    Args:
        rotation: Maximum rotation in degrees.
        scale: Maximum relative zoom (0.1 = +-10%).
        shift: Maximum shift as a fraction of the side.
        intensity: Maximum brightness / contrast change (fraction) and gamma spread.
        generator: Random generator (seeded by the training loop for reproducibility).
    """

    def __init__(self, rotation: float = 10.0, scale: float = 0.1, shift: float = 0.06,
                 intensity: float = 0.1, generator: torch.Generator | None = None) -> None:
        self.rotation, self.scale, self.shift, self.intensity = rotation, scale, shift, intensity
        self.generator = generator

    def _u(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=self.generator))

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        angle = math.radians(self._u(-self.rotation, self.rotation))
        zoom = self._u(1 - self.scale, 1 + self.scale)
        tx, ty = self._u(-self.shift, self.shift) * 2, self._u(-self.shift, self.shift) * 2
        c, s = math.cos(angle) / zoom, math.sin(angle) / zoom
        theta = torch.tensor([[c, -s, tx], [s, c, ty]], dtype=torch.float32)[None]
        grid = F.affine_grid(theta, [1, 1, *x.shape[-2:]], align_corners=False)
        x = F.grid_sample(x[None], grid, mode="bilinear", padding_mode="zeros",
                          align_corners=False)[0]
        y = F.grid_sample(y[None, None].float(), grid, mode="nearest", padding_mode="zeros",
                          align_corners=False)[0, 0].long()
        gain = self._u(1 - self.intensity, 1 + self.intensity)
        bias = self._u(-self.intensity, self.intensity) * 0.5
        gamma = self._u(1 - 2 * self.intensity, 1 + 2 * self.intensity)
        x = (x.clamp(0, 1) ** gamma) * gain + bias
        return x.clamp(0, 1), y
