"""File and folder names made from user-given names (architectures such as ``timm:resnet18``)."""

from __future__ import annotations

import re

__all__ = ["safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def safe_name(name: str) -> str:
    """``name`` as a file / folder name valid on every OS: each character outside letters,
    digits and ``. _ + -`` becomes ``_`` (``torchvision:densenet121`` ->
    ``torchvision_densenet121``); the paper's names stay as they are.

    Raises:
        ValueError: An empty name, or one that would name the folder itself or its parent.
    """
    safe = _UNSAFE.sub("_", name.strip())
    if safe in {"", ".", ".."}:
        raise ValueError(f"{name!r} cannot be used as a file name")
    return safe
