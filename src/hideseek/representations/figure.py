"""The paper's Fig. 1: images in every version (the paper's five by default), titled."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hideseek.data.io import read_image, read_mask
from hideseek.data.manifest import CXRDataset
from hideseek.plotting import pyplot, save_figure
from hideseek.representations.masks import MaskInfo
from hideseek.representations.registry import representation_title
from hideseek.representations.transforms import REPRESENTATIONS, apply_representation

__all__ = ["figure_samples", "representation_figure"]


def figure_samples(data: CXRDataset, infos: Sequence[MaskInfo],
                   most_findings: int = 4) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The figure's rows: the first image of each class with a good mask, the class as title
    (a multi-label task: of each of its first ``most_findings`` findings; no labels: the first
    image).

    Args:
        data: The dataset.
        infos: :func:`~hideseek.representations.masks.assess_masks` of ``data``.
        most_findings: Rows of a multi-label task.
    """
    records = {r.filename: r for r in data.records}
    good = [(records[i.filename], i.path) for i in infos
            if not i.bad and i.path is not None and i.filename in records]
    task = data.task
    if task is None:
        rows = [("image", good[0])] if good else []
    else:
        rows = []
        for cls in task.classes[:most_findings] if task.multilabel else task.classes:
            match = next(((r, p) for r, p in good if (
                cls in r.findings if task.multilabel else r.label == cls)), None)
            if match is not None:
                rows.append((cls, match))
    samples = []
    for title, (record, path) in rows:
        image = read_image(data.image_path(record))
        samples.append((title, image, read_mask(path, image.shape)))
    return samples


def representation_figure(path: str | Path,
                          samples: Sequence[tuple[str, np.ndarray, np.ndarray]],
                          fill: str = "zero", box_margin: int = 0, dpi: int = 110,
                          representations: Sequence[str] = REPRESENTATIONS) -> Path:
    """Save a grid: one row per (row title, image, mask), one column per representation.

    Args:
        path: PNG to write.
        samples: (row title, e.g. the class; image; lung mask).
        fill: Fill of the hidden pixels.
        box_margin: Pixels around each lung box.
        representations: Columns (registered names; default the paper's five).
    """
    plt = pyplot()
    n, reps = len(samples), list(representations)
    fig, axes = plt.subplots(n, len(reps), figsize=(2.3 * len(reps), 2.5 * n), squeeze=False)
    for row, (title, image, mask) in enumerate(samples):
        for col, rep in enumerate(reps):
            ax = axes[row][col]
            ax.imshow(apply_representation(rep, image, mask, fill, box_margin), cmap="gray",
                      vmin=0, vmax=1, interpolation="lanczos")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(representation_title(rep), fontsize=11)
            if col == 0:
                ax.set_ylabel(title, fontsize=11)
    fig.suptitle(f"ROI Hide-and-Seek: {len(reps)} versions of each image", fontsize=12)
    return save_figure(fig, path, dpi)
