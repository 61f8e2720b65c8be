"""The paper's Fig. 3 (Grad-CAM grid) and a plot of attribution in the lungs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hideseek.plotting import REPRESENTATION_TITLES as _TITLES
from hideseek.plotting import pyplot, save_figure

__all__ = ["cam_grid", "ratio_plot"]

def cam_grid(path: str | Path, tiles: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, str,
                                                                  float]],
             classes: list[str], representations: list[str], title: str) -> Path:
    """Rows = true class, columns = representations; each tile the image with its Grad-CAM
    overlaid and the model's prediction underneath.

    Args:
        path: PNG to write.
        tiles: (true class, representation) -> (image, raw CAM, predicted class, probability).
        classes: Row order.
        representations: Column order.
        title: Figure title (e.g. the architecture).
    """
    plt = pyplot()
    rows = [c for c in classes if any((c, r) in tiles for r in representations)]
    fig, axes = plt.subplots(len(rows), len(representations),
                             figsize=(2.4 * len(representations), 2.7 * len(rows)),
                             squeeze=False)
    for i, cls in enumerate(rows):
        for j, rep in enumerate(representations):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if (cls, rep) not in tiles:
                ax.axis("off")
                continue
            image, cam, pred, prob = tiles[(cls, rep)]
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            peak = float(cam.max())
            if peak > 0:
                ax.imshow(cam / peak, cmap="jet", alpha=0.4, vmin=0, vmax=1)
            color = "green" if pred == cls else "red"
            ax.set_xlabel(f"pred: {pred} ({prob:.2f})", color=color, fontsize=9)
            if i == 0:
                ax.set_title(_TITLES.get(rep, rep), fontsize=10)
            if j == 0:
                ax.set_ylabel(f"true: {cls}", fontsize=10)
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def ratio_plot(path: str | Path, result: dict[str, Any], classes: list[str],
               measure: str = "lung_ratio", title: str = "") -> Path:
    """Grouped bars of a CAM measure per representation and true class, with 95% intervals;
    a dashed line at 1.0 (no preference for the lungs) for ``lung_ratio``."""
    plt = pyplot()
    reps = list(result["representations"])
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(reps), 3.6))
    width = 0.8 / len(classes)
    for k, cls in enumerate(classes):
        xs, ys, lo, hi = [], [], [], []
        for j, rep in enumerate(reps):
            m = result["representations"][rep]["per_class"].get(cls, {}).get(measure, {})
            if m.get("value") is None:
                continue
            xs.append(j + (k - (len(classes) - 1) / 2) * width)
            ys.append(m["value"])
            ci = m.get("ci") or [None, None]
            lo.append(m["value"] - (ci[0] if ci[0] is not None else m["value"]))
            hi.append((ci[1] if ci[1] is not None else m["value"]) - m["value"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=cls)
    if measure == "lung_ratio":
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(reps)))
    ax.set_xticklabels([_TITLES.get(r, r) for r in reps], fontsize=9)
    ax.set_ylabel(measure.replace("_", " "))
    ax.set_title(title or f"Grad-CAM {measure.replace('_', ' ')} (95% CI)", fontsize=10)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
