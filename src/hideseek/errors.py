"""Error types shown to users as one clear line."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError", "HideseekError", "ImageReadError"]


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
