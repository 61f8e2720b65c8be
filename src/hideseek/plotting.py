"""Shared matplotlib helpers: headless backend, titles, saving."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["REPRESENTATION_TITLES", "pyplot", "representation_titles", "save_figure"]


def representation_titles() -> dict[str, str]:
    """Column titles of every registered representation (``data`` -> ``original``...)."""
    from hideseek.representations.registry import get_representation, representation_names

    return {name: get_representation(name).title for name in representation_names()}


class _TitleView(Mapping[str, str]):
    """A read-only view of the representation registry's titles, always current."""

    def __getitem__(self, name: str) -> str:
        return representation_titles()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(representation_titles())

    def __len__(self) -> int:
        return len(representation_titles())


#: Column titles of the registered representations in every figure (a view of the registry).
REPRESENTATION_TITLES: Mapping[str, str] = _TitleView()


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
