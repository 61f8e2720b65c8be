"""Segmenter registry: how each ``kind`` of segmentation checkpoint becomes a model.

Adding a segmentation architecture is one module and one registration::

    register_segmenter("my-net", lambda ckpt: MyNet.from_checkpoint(ckpt))

A loader receives the checkpoint mapping (read on the CPU with ``weights_only=True``, its
format version checked) and returns the network in fp32. The network must map
N x 1 x H x W images in [0, 1] to N x 2 x H x W logits (background, lung) and have a
``multiple`` attribute: the number input sides must be divisible by. The checkpoint also holds
``kind``, ``image_size`` (the input side) and optionally ``meta``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from hideseek.errors import HideseekError

__all__ = ["SegmenterLoader", "register_segmenter", "segmenter_kinds", "segmenter_loader"]

SegmenterLoader = Callable[[Mapping[str, Any]], torch.nn.Module]

_LOADERS: dict[str, SegmenterLoader] = {}


def register_segmenter(kind: str, loader: SegmenterLoader, replace: bool = False) -> None:
    """Make checkpoints of ``kind`` loadable by :func:`~hideseek.segmentation.load_segmenter`.

    Raises:
        HideseekError: ``kind`` is already registered to another loader (and not ``replace``).
    """
    if not kind:
        raise HideseekError("a segmenter kind must be a non-empty string")
    known = _LOADERS.get(kind)
    if known is not None and known is not loader and not replace:
        raise HideseekError(f"segmenter kind {kind!r} is already registered")
    _LOADERS[kind] = loader


def segmenter_kinds() -> tuple[str, ...]:
    """The registered kinds, in registration order."""
    return tuple(_LOADERS)


def segmenter_loader(kind: object, path: str | Path) -> SegmenterLoader:
    """The loader of a checkpoint's ``kind``.

    Raises:
        HideseekError: No segmenter of that kind is registered (names the file and the kinds).
    """
    loader = _LOADERS.get(kind) if isinstance(kind, str) else None
    if loader is None:
        raise HideseekError(f"{path}: not a hideseek segmentation checkpoint (kind {kind!r}; "
                            f"known kinds: {', '.join(_LOADERS) or 'none'})")
    return loader
