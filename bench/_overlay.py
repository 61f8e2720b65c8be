"""Drawing mask outlines over an image, for looking at the masks a benchmark ranks worst."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hideseek.data.io import read_image
from hideseek.plotting import pyplot, save_figure


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
