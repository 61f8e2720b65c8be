"""Looking at masks: a model's masks of some images, and their outlines drawn over an image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hideseek.data.io import read_image
from hideseek.plotting import pyplot, save_figure
from hideseek.segmentation import load_segmenter
from hideseek.segmentation.postprocess import postprocess_mask
from hideseek.segmentation.predict import predict_masks


def model_masks(model: str | Path, paths: list[Path]) -> list[np.ndarray]:
    """A model's post-processed masks of ``paths`` (as ``segment predict``), in their order."""
    net, size, _ = load_segmenter(model)
    found: dict[int, np.ndarray] = {}
    for i, raw in predict_masks(paths, net, size, workers=0, desc=f"segment ({model})"):
        found[i] = postprocess_mask(raw).mask
    return [found[i] for i in range(len(paths))]


def draw_outlines(path: Path, outlines: Sequence[tuple[np.ndarray, str]], title: str,
                  out: Path) -> Path:
    """The image at ``path`` in grey with each mask's outline in its colour, saved to ``out``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(read_image(path), cmap="gray")
    for mask, colour in outlines:
        ax.contour(mask.astype(float), levels=[0.5], colors=colour, linewidths=1)
    ax.set_title(title, fontsize=7)
    ax.axis("off")
    return save_figure(fig, out)
