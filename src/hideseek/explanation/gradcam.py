"""Batched Grad-CAM with a forward hook only (no module backward hooks).

Why our own and not pytorch-grad-cam: we need the maps for two targets (predicted and true
class) from one forward pass, under bf16 autocast, for batches, with the raw (unnormalised)
map kept for measurement. Taking ``torch.autograd.grad`` of the selected logits with respect to
the hooked activation does all of that in ~40 lines, and - having no backward hooks - it is not
affected by the in-place ReLUs of torchvision's AlexNet / VGG, which break module backward hooks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CamBatch", "GradCAM"]


@dataclass
class CamBatch:
    """Grad-CAM of one batch.

    Attributes:
        prob: Class probabilities (N x K).
        maps: One raw map per target, N x H x W at the input resolution, ReLU applied but not
            normalised (so the amount of evidence stays comparable between images).
        grid: Cells (rows, columns) of the map before upsampling (its null is computed at this
            resolution); the input size for pixel-level methods.
    """

    prob: torch.Tensor
    maps: dict[str, torch.Tensor]
    grid: tuple[int, int] = (0, 0)


class GradCAM:
    """Grad-CAM (Selvaraju et al. 2017) on ``layer`` of ``model``.

    Args:
        model: A classifier returning logits.
        layer: The target layer (its output activations are used).
    """

    def __init__(self, model: nn.Module, layer: nn.Module) -> None:
        self.model, self.layer = model, layer

    @contextmanager
    def _hooked(self) -> Iterator[list[torch.Tensor]]:
        store: list[torch.Tensor] = []

        def hook(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
            store.append(out)

        handle = self.layer.register_forward_hook(hook)
        try:
            yield store
        finally:
            handle.remove()  # released even when the forward pass fails

    def __call__(self, x: torch.Tensor, targets: dict[str, torch.Tensor | None],
                 autocast: bool = False) -> CamBatch:
        """Maps for each named target.

        Args:
            x: Input batch (N x C x H x W).
            targets: Name -> class index per image (N,), or None for the predicted class.
            autocast: Run the forward pass under bf16/fp16 autocast.
        """
        self.model.eval()
        x = x.detach().requires_grad_(False)
        with torch.enable_grad(), self._hooked() as store:
            device = x.device.type
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=autocast):
                logits = self.model(x)
            acts = store[-1]
            logits = logits.float()
            pred = logits.argmax(1)
            maps = {}
            names = list(targets)
            for k, name in enumerate(names):
                idx = pred if targets[name] is None else targets[name]
                assert idx is not None
                score = logits.gather(1, idx.view(-1, 1).to(logits.device)).sum()
                (grad,) = torch.autograd.grad(score, acts, retain_graph=k < len(names) - 1)
                weights = grad.float().mean(dim=(2, 3), keepdim=True)
                cam = F.relu((weights * acts.float()).sum(1, keepdim=True))
                maps[name] = F.interpolate(cam, size=x.shape[-2:], mode="bilinear",
                                           align_corners=False)[:, 0].detach()
        grid = (int(acts.shape[-2]), int(acts.shape[-1]))
        return CamBatch(prob=logits.softmax(1).detach(), maps=maps, grid=grid)
