"""Occlusion maps: the drop of a class's probability when each cell of a grid is blanked."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hideseek.explanation.gradcam import CamBatch

__all__ = ["OcclusionMap"]


class OcclusionMap:
    """Occlusion sensitivity (Zeiler & Fergus 2014) on a ``cells`` x ``cells`` grid.

    Each cell is set to ``fill`` in turn; the map is the drop of the target class's probability
    (negative drops clipped to 0), upsampled bilinearly to the input size like Grad-CAM.
    No gradients: one forward pass per cell.

    Args:
        model: A classifier returning logits.
        cells: Grid side.
        fill: Value of the blanked cell (0, the paper's fill).
    """

    def __init__(self, model: nn.Module, cells: int = 8, fill: float = 0.0) -> None:
        self.model, self.cells, self.fill = model, cells, fill

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, targets: dict[str, torch.Tensor | None],
                 autocast: bool = False) -> CamBatch:
        """Maps for each named target (None: the predicted class)."""
        self.model.eval()
        h, w = x.shape[-2:]
        ys = torch.linspace(0, h, self.cells + 1).round().long().tolist()
        xs = torch.linspace(0, w, self.cells + 1).round().long().tolist()
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=autocast):
            prob = self.model(x).float().softmax(1)
            idx = {k: (prob.argmax(1) if t is None else t.to(x.device)).view(-1, 1)
                   for k, t in targets.items()}
            grids = {k: torch.zeros(len(x), 1, self.cells, self.cells, device=x.device)
                     for k in targets}
            for i in range(self.cells):
                for j in range(self.cells):
                    xo = x.clone()
                    xo[..., ys[i]:ys[i + 1], xs[j]:xs[j + 1]] = self.fill
                    p = self.model(xo).float().softmax(1)
                    for k, t in idx.items():
                        grids[k][:, 0, i, j] = (prob.gather(1, t) - p.gather(1, t))[:, 0]
        maps = {k: F.interpolate(g.clamp_min(0), size=(h, w), mode="bilinear",
                                 align_corners=False)[:, 0] for k, g in grids.items()}
        return CamBatch(prob=prob, maps=maps, grid=(self.cells, self.cells))
