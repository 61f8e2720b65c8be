"""A Ronneberger-style U-Net with configurable depth and width."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = ["PAPER_UNET", "UNet", "UNetConfig"]


@dataclass(frozen=True)
class UNetConfig:
    """U-Net layout.

    Attributes:
        depth: Number of resolution levels (the paper: 5, i.e. four poolings).
        base: Filters at the first level, doubled per level (the paper: 64 -> 1024).
        batch_norm: Batch norm after each convolution (not in the original U-Net).
        in_channels: Input channels (1: grayscale).
        classes: Output classes (2: background, lung).
    """

    depth: int = 5
    base: int = 64
    batch_norm: bool = False
    in_channels: int = 1
    classes: int = 2

    def to_dict(self) -> dict[str, int | bool]:
        """Plain dict (stored in checkpoints)."""
        return asdict(self)


#: The configuration of the paper (Ronneberger et al. with same padding).
PAPER_UNET = UNetConfig(depth=5, base=64, batch_norm=False)


def _double_conv(cin: int, cout: int, bn: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(2):
        layers.append(nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=not bn))
        if bn:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """U-Net: double 3x3 convolutions (same padding), 2x2 max-pooling, transposed-conv upsampling.

    Takes [0, 1] images (N x 1 x H x W) and returns class logits (N x classes x H x W). Input
    sides must be divisible by ``2 ** (depth - 1)``.
    """

    def __init__(self, config: UNetConfig = PAPER_UNET) -> None:
        super().__init__()
        if config.depth < 2:
            raise ValueError("a U-Net needs depth >= 2")
        self.config = config
        widths = [config.base * 2**i for i in range(config.depth)]
        self.down = nn.ModuleList()
        cin = config.in_channels
        for w in widths:
            self.down.append(_double_conv(cin, w, config.batch_norm))
            cin = w
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(w * 2, w, 2, stride=2))
            self.merge.append(_double_conv(w * 2, w, config.batch_norm))
        self.head = nn.Conv2d(widths[0], config.classes, 1)

    @property
    def multiple(self) -> int:
        """Input sides must be a multiple of this."""
        return int(2 ** (self.config.depth - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Per-image z-score (the paper's input normalisation) inside the model, so every caller
        # feeds plain [0, 1] images.
        mean = x.mean(dim=(-2, -1), keepdim=True)
        std = x.std(dim=(-2, -1), keepdim=True)
        x = (x - mean) / (std + 1e-6)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge, strict=True):
            x = merge(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)
