"""Geometric preprocessing shared by images and their lung masks.

Every function takes a 2-D array and works on images (float) and masks (bool) alike, so a mask
follows its image through exactly the same crop and resize.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "Preprocess",
    "center_square",
    "crop_top",
    "pad_to_square",
    "resize",
    "unpad",
]


def crop_top(image: np.ndarray, fraction: float = 0.08) -> np.ndarray:
    """Remove the top ``fraction`` of the rows (burnt-in metadata in COVIDx images)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"crop fraction must be in [0, 1), got {fraction}")
    return image[round(image.shape[0] * fraction) :]


def center_square(image: np.ndarray) -> np.ndarray:
    """Central square crop, side = the shorter side."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]


def pad_to_square(image: np.ndarray, value: float = 0.0) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad the shorter side symmetrically to a square.

    Returns:
        The padded image and the (top, left) padding, for :func:`unpad`.
    """
    h, w = image.shape[:2]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    out = np.full((side, side), value, dtype=image.dtype)
    out[top : top + h, left : left + w] = image
    return out, (top, left)


def unpad(image: np.ndarray, pad: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Undo :func:`pad_to_square` given the padding and the original (height, width)."""
    top, left = pad
    return image[top : top + shape[0], left : left + shape[1]]


def resize(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize to ``size`` (an int for a square, or (height, width)).

    Float images use antialiased bilinear interpolation; boolean masks are resized as a float
    coverage map and thresholded at 0.5, which keeps thin structures better than nearest neighbour
    and keeps the mask aligned with the image's sampling grid.
    """
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if image.shape[:2] == hw:
        return image.copy()
    is_mask = image.dtype == bool
    t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    shrinking = hw[0] < image.shape[0] or hw[1] < image.shape[1]
    out = F.interpolate(t, size=hw, mode="bilinear", align_corners=False, antialias=shrinking)
    arr = out[0, 0].numpy()
    if is_mask:
        return arr >= 0.5
    return np.clip(arr, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class Preprocess:
    """The protocol's preprocessing: crop the top, make square, resize.

    Attributes:
        size: Output side in pixels.
        crop_top: Fraction of rows removed at the top (0.08 for classification as in COVID-Net,
            0 for segmentation).
        square: ``crop`` (central square, the classification recipe) or ``pad`` (pad to a
            square, the segmentation recipe, which keeps the whole lung field).
    """

    size: int = 224
    crop_top: float = 0.08
    square: str = "crop"

    def __post_init__(self) -> None:
        if self.square not in {"crop", "pad"}:
            raise ValueError(f"square must be 'crop' or 'pad', got {self.square!r}")
        if self.size < 8:
            raise ValueError(f"size must be at least 8 pixels, got {self.size}")

    def __call__(self, image: np.ndarray) -> np.ndarray:
        cropped = crop_top(image, self.crop_top)
        squared = center_square(cropped) if self.square == "crop" else pad_to_square(cropped)[0]
        return resize(squared, self.size)

    @property
    def key(self) -> str:
        """A short string identifying the parameters (used in cache keys)."""
        return f"{self.square}{self.size}-top{self.crop_top:g}"
