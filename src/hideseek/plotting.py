"""Shared matplotlib helpers: headless backend, titles, saving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["REPRESENTATION_TITLES", "pyplot", "save_figure"]

#: Column titles of the five representations in every figure.
REPRESENTATION_TITLES = {"data": "original", "lungs_isolated": "lungs isolated",
                         "lungs_removed": "lungs removed", "lungs_framed": "lungs framed",
                         "lungs_boxed_out": "lungs boxed out"}


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend (works without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, dpi: int = 100) -> Path:
    """Lay out, save as PNG (creating folders) and close a figure."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
