"""Error types shown to users as one clear line, and the one helper that cuts long lists."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["MAX_LISTED", "DataError", "HideseekError", "ImageReadError", "cut_lines",
           "cut_list"]

#: How many items of a list an error message or a warning shows before "... and N more".
MAX_LISTED = 20


class HideseekError(Exception):
    """Base class for every error the CLI reports as a single line."""


class DataError(HideseekError):
    """A dataset (manifest, split file, mask folder) is malformed or incomplete."""


class ImageReadError(HideseekError):
    """An image file could not be read; names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def cut_list(items: Sequence[str], limit: int = MAX_LISTED, prefix: str = "") -> list[str]:
    """The first ``limit`` items, then ``... and N more`` for the rest (a message stays
    shorter than a screen, whatever the length of the list).

    Args:
        items: The entries (files, rows, fields).
        limit: How many to show.
        prefix: Put before ``... and N more`` (the items' indentation).
    """
    items = list(items)
    if len(items) <= limit:
        return items
    return [*items[:limit], f"{prefix}... and {len(items) - limit} more"]


def cut_lines(text: str, limit: int = MAX_LISTED) -> str:
    """``text`` with at most ``limit`` lines after its first (see :func:`cut_list`)."""
    first, *rest = text.splitlines() or [""]
    if len(rest) <= limit:
        return text
    cut = rest[limit]
    return "\n".join([first, *cut_list(rest, limit, cut[: len(cut) - len(cut.lstrip())])])
