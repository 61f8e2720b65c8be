"""The one mask lookup: which file holds the lung mask of an image."""

from __future__ import annotations

from pathlib import Path

__all__ = ["find_mask", "mask_name"]


def mask_name(filename: str) -> str:
    """The mask file name of an image: the same name, with a ``.png`` suffix if it had another.

    Every written mask and every ``hideseek represent`` version is a PNG of this name.
    """
    if filename.lower().endswith(".png"):
        return filename
    return str(Path(filename).with_suffix(".png"))


def find_mask(masks_dir: str | Path, filename: str) -> Path | None:
    """The lung mask of an image in ``masks_dir``, or None when there is none.

    Looked up in this order: the image's own (relative) name, that name as a PNG, the bare file
    name, the bare file name as a PNG (a flat mask folder for a COVIDx ``train/`` + ``test/``
    layout).
    """
    masks_dir = Path(masks_dir)
    bare = Path(filename).name
    for name in (filename, mask_name(filename), bare, mask_name(bare)):
        if (masks_dir / name).is_file():
            return masks_dir / name
    return None
